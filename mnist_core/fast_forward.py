"""A numpy forward pass of a trained chain of Keras layers, for fast single-image inference.

Keras' ``model.predict`` costs ~50 ms per call and even a traced ``tf.function`` ~1.4 ms for one
28x28 digit here; the arithmetic itself is ~5 M multiply-adds, well under a millisecond in numpy.
The weights are read once into immutable arrays, so one instance is safe to share between
threads (Streamlit sessions). :meth:`FastForward.compile` returns None for any layer it does
not know, and the caller then uses Keras itself.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_ACTIVATIONS = {
    "linear": lambda values: values,
    "relu": lambda values: np.maximum(values, 0),
    "softmax": lambda values: _softmax(values),
}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class UnsupportedLayer(Exception):
    """A layer this module cannot run; the caller falls back to Keras."""


class FastForward:
    """Callable: (N, 28, 28) float32 -> (N, 10) float32 probabilities."""

    def __init__(self, steps):
        self._steps = tuple(steps)

    @classmethod
    def compile(cls, model):
        """Translate ``model`` into numpy steps, or return None if any layer is unsupported."""
        try:
            return cls([_translate(layer) for layer in model.layers])
        except UnsupportedLayer:
            return None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        values = np.asarray(batch, np.float32)
        for step in self._steps:
            values = step(values)
        return values


def _translate(layer):
    kind = type(layer).__name__
    config = layer.get_config()
    if kind in ("InputLayer", "Dropout"):
        return lambda values: values
    if kind == "Reshape":
        shape = tuple(config["target_shape"])
        return lambda values: values.reshape((len(values), *shape))
    if kind == "Flatten":
        return lambda values: values.reshape(len(values), -1)
    if kind == "ReLU" and not config.get("max_value") and not config.get("negative_slope"):
        return _ACTIVATIONS["relu"]
    if kind == "Activation" and config["activation"] in _ACTIVATIONS:
        return _ACTIVATIONS[config["activation"]]
    if kind == "BatchNormalization":
        return _batch_norm(layer, config)
    if kind == "Dense":
        return _dense(layer, config)
    if kind == "Conv2D":
        return _conv2d(layer, config)
    if (
        kind == "MaxPooling2D"
        and tuple(config["pool_size"]) == (2, 2)
        and tuple(config["strides"]) == (2, 2)
        and config["padding"] == "valid"
    ):
        return _max_pool_2x2
    raise UnsupportedLayer(kind)


def _activation(config):
    name = config.get("activation", "linear")
    if name not in _ACTIVATIONS:
        raise UnsupportedLayer(f"activation {name}")
    return _ACTIVATIONS[name]


def _batch_norm(layer, config):
    if config.get("axis") not in (-1, [-1], 3, [3]):
        raise UnsupportedLayer("BatchNormalization axis")
    weights = {weight.path.split("/")[-1]: np.asarray(weight.numpy()) for weight in layer.weights}
    scale = weights.get("gamma", 1.0) / np.sqrt(weights["moving_variance"] + config["epsilon"])
    shift = weights.get("beta", 0.0) - weights["moving_mean"] * scale
    scale, shift = scale.astype(np.float32), shift.astype(np.float32)
    return lambda values: values * scale + shift


def _dense(layer, config):
    kernel = np.asarray(layer.kernel.numpy(), np.float32)
    bias = np.asarray(layer.bias.numpy(), np.float32) if config["use_bias"] else 0.0
    activation = _activation(config)
    return lambda values: activation(values @ kernel + bias)


def _conv2d(layer, config):
    if tuple(config["strides"]) != (1, 1) or tuple(config["dilation_rate"]) != (1, 1):
        raise UnsupportedLayer("strided or dilated Conv2D")
    if config["padding"] not in ("valid", "same") or config.get("groups", 1) != 1:
        raise UnsupportedLayer("Conv2D padding or groups")
    kernel = np.asarray(layer.kernel.numpy(), np.float32)  # (kh, kw, C, F)
    height, width, channels, filters = kernel.shape
    matrix = np.ascontiguousarray(kernel.reshape(-1, filters))  # rows in (kh, kw, C) order
    bias = np.asarray(layer.bias.numpy(), np.float32) if config["use_bias"] else 0.0
    activation = _activation(config)
    same = config["padding"] == "same"

    def run(values):
        if same:
            pad_h, pad_w = height - 1, width - 1
            values = np.pad(
                values,
                (
                    (0, 0),
                    (pad_h // 2, pad_h - pad_h // 2),
                    (pad_w // 2, pad_w - pad_w // 2),
                    (0, 0),
                ),
            )
        # (N, Ho, Wo, C, kh, kw) -> (N, Ho, Wo, kh, kw, C): copying runs of C contiguous floats
        # is twice as fast as gathering the window axes, and matches the kernel's row order.
        windows = sliding_window_view(values, (height, width), axis=(1, 2))
        windows = windows.transpose(0, 1, 2, 4, 5, 3)
        count, out_h, out_w = windows.shape[:3]
        columns = windows.reshape(count * out_h * out_w, channels * height * width)
        return activation((columns @ matrix + bias).reshape(count, out_h, out_w, filters))

    return run


def _max_pool_2x2(values: np.ndarray) -> np.ndarray:
    count, height, width, channels = values.shape
    values = values[:, : height // 2 * 2, : width // 2 * 2]
    return values.reshape(count, height // 2, 2, width // 2, 2, channels).max(axis=(2, 4))
