"""Training's compute precision: bfloat16 where the CPU does it natively, float32 elsewhere.

A network trained in mixed bfloat16 keeps float32 weights; what leaves training (the ``.keras``
file and its ONNX export, which ONNX Runtime's CPU kernels could not run in bfloat16) is a
float32 twin holding those same weights, so serving never knows how it was trained.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# /proc/cpuinfo flags of x86 CPUs with bfloat16 arithmetic: without them TensorFlow emulates
# it, slower than float32.
_BFLOAT16_FLAGS = {"avx512_bf16", "amx_bf16"}


def native_bfloat16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes in bfloat16 natively (False where that cannot be read)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_BFLOAT16_FLAGS & set(line.partition(":")[2].split()))
    return False


def compute_policy(wanted: bool, cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The Keras dtype policy a run trains under: ``mixed_bfloat16`` or ``float32``."""
    return "mixed_bfloat16" if wanted and native_bfloat16(cpuinfo) else "float32"


def built_under(policy: str, build: Callable):
    """``build()`` with ``policy`` as Keras' global dtype policy, restored afterwards (a
    process may build other models next: the tests, the number reader)."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return build()
    finally:
        keras.config.set_dtype_policy(previous)


def float32_twin(model, build: Callable):
    """``model`` itself if it computes in float32, else ``build()`` (the same architecture)
    made under float32 and given ``model``'s weights."""
    if model.dtype_policy.name == "float32":
        return model
    twin = built_under("float32", build)
    twin.set_weights(model.get_weights())
    return twin
