"""Training's compute precision: bfloat16 only where the CPU has it; what leaves is float32."""

import numpy as np

from mnist_core import config
from mnist_core.architectures import build_model
from mnist_core.config import TRAIN_PRESETS
from mnist_core.precision import built_under, compute_policy, float32_twin, native_bfloat16


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 {flags}\n")
    return path


def test_bfloat16_only_with_the_cpu_flag(tmp_path):
    assert native_bfloat16(_cpuinfo(tmp_path, "avx512f avx512_bf16"))
    assert compute_policy(True, _cpuinfo(tmp_path, "amx_bf16")) == "mixed_bfloat16"
    assert compute_policy(True, _cpuinfo(tmp_path, "avx2 avx512f")) == "float32"
    assert compute_policy(False, _cpuinfo(tmp_path, "avx512_bf16")) == "float32"
    assert compute_policy(True, tmp_path / "absent") == "float32"


def test_the_global_policy_is_restored_after_a_build():
    import keras

    model = built_under("mixed_bfloat16", lambda: build_model("compact", 11))
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.layers[-1].compute_dtype == "float32"  # the softmax
    assert keras.config.dtype_policy().name == "float32"
    assert build_model("compact", 11).dtype_policy.name == "float32"


def test_the_float32_twin_holds_the_same_weights_and_reads_alike():
    mixed = built_under("mixed_bfloat16", lambda: build_model("compact", 11))
    twin = float32_twin(mixed, lambda: build_model("compact", 11))
    assert twin.dtype_policy.name == "float32"
    for ours, theirs in zip(twin.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    digits = np.random.default_rng(0).random((8, 28, 28), dtype=np.float32)
    # The same network; only bfloat16's rounding (~0.4%) tells them apart.
    np.testing.assert_allclose(twin(digits), mixed(digits), atol=0.02)
    plain = build_model("compact", 11)
    assert float32_twin(plain, lambda: build_model("compact", 11)) is plain


def test_a_preset_states_the_time_it_takes_on_this_cpu(monkeypatch):
    """Without bfloat16 arithmetic a run trains in float32, three to five times longer: the
    retrain page must not promise the bfloat16 host's minute."""
    quick = TRAIN_PRESETS["quick"]
    monkeypatch.setattr(config, "native_bfloat16", lambda: True)
    assert quick.summary == "about 1 min, ~99.3% on MNIST test"
    monkeypatch.setattr(config, "native_bfloat16", lambda: False)
    assert quick.summary == "about 4 min, ~99.3% on MNIST test"
    assert quick.duration_here == "about 4 min"
    assert TRAIN_PRESETS["full"].summary.startswith("30-45 min")
