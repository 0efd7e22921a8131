"""Modes, run folders, seeding, devices and the setup banner."""

import numpy as np
import pytest

from utils import env


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_smoke_and_offline_flags(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_SMOKE", value)
    monkeypatch.setenv("COURSE_OFFLINE", value)
    assert env.is_smoke() is expected and env.is_offline() is expected
    assert env.mode() == ("smoke" if expected else "full")


def test_run_dir_keeps_smoke_and_full_apart_and_can_start_fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_SMOKE", "1")
    smoke = env.run_dir("01_mnist_dense", "backup")
    (smoke / "state").write_text("x")
    monkeypatch.setenv("COURSE_SMOKE", "0")
    full = env.run_dir("01_mnist_dense", "backup")
    assert smoke != full and smoke.is_dir() and full.is_dir()
    assert not any(full.iterdir()), "a full run never sees a smoke run's state"
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert (env.run_dir("01_mnist_dense", "backup") / "state").exists()
    assert not any(env.run_dir("01_mnist_dense", "backup", fresh=True).iterdir())


def test_set_seed_repeats_numpy_and_tensorflow_draws():
    import tensorflow as tf

    draws = []
    for _ in range(2):
        env.set_seed(123)
        draws.append((np.random.rand(3), tf.random.uniform((3,)).numpy()))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])


def test_strategy_and_precision_on_a_cpu():
    import keras
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("checks the CPU behaviour")
    assert env.get_strategy().num_replicas_in_sync == 1
    assert env.use_fast_gpu_settings() is False
    assert keras.mixed_precision.global_policy().name == "float32"
    assert env.accelerator().startswith("CPU only")


def test_setup_banner_says_versions_device_mode_and_data(monkeypatch, capsys):
    import tensorflow as tf

    monkeypatch.setenv("COURSE_SMOKE", "1")
    env.setup()
    out = capsys.readouterr().out
    assert f"TensorFlow {tf.__version__}" in out
    assert "Mode: SMOKE" in out and "Device:" in out and "Data:" in out
