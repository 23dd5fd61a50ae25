"""mnist_core.config: the one list of environment variables the project reads."""

from __future__ import annotations

import re

from mnist_core import config


def test_every_environment_variable_read_is_listed_in_config_with_a_reason():
    listed = {setting.name for setting in config.ENVIRONMENT}
    sources = [
        *(config.PROJECT_ROOT / "mnist_core").glob("*.py"),
        *(config.PROJECT_ROOT / "app_pages").glob("*.py"),
    ]
    named = set()
    for source in sources:
        text = source.read_text()
        named |= set(re.findall(r"\bMNIST_[A-Z_]+\b", text))
        if source.name != "config.py":
            # Only config.py reads the environment (the package's __init__ only sets a default
            # for TensorFlow's own logging).
            assert not re.search(r"os\.environ(\.get|\[)|os\.getenv", text), source.name
    assert named - {"MNIST_TRAINING_DIGITS"} <= listed  # retrain.py's count of MNIST's digits
    assert all(setting.why for setting in config.ENVIRONMENT)


def test_a_setting_is_read_when_used_not_when_imported(monkeypatch, tmp_path):
    from mnist_core.registry import RegistryConfig

    monkeypatch.setenv("MNIST_APP_HOME", str(tmp_path))
    monkeypatch.setenv("MNIST_MIN_PROMOTE_ACCURACY", "0.5")
    assert RegistryConfig().home == tmp_path and RegistryConfig().min_promote_accuracy == 0.5
    monkeypatch.delenv("MNIST_MIN_PROMOTE_ACCURACY")
    assert RegistryConfig().min_promote_accuracy == float(config.MIN_PROMOTE_ACCURACY.default)
