"""Modes, run folders, seeding, devices and the setup banner."""

import os

import numpy as np
import pytest

from course import paths, record
from utils import env


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False),
                                             ("", False), ("off", False), ("No", False)])
def test_smoke_and_offline_flags(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_SMOKE", value)
    monkeypatch.setenv("COURSE_OFFLINE", value)
    assert paths.is_smoke() is expected and paths.is_offline() is expected
    assert paths.mode() == ("smoke" if expected else "full")


@pytest.mark.parametrize("value", ["maybe", "2", "ja", "smoke", "y es"])
def test_a_flag_with_any_other_value_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("COURSE_SMOKE", value)
    with pytest.raises(ValueError, match=rf"COURSE_SMOKE='{value}' is neither on .* nor off"):
        paths.is_smoke()


def test_run_dir_keeps_smoke_and_full_apart_and_can_start_fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_SMOKE", "1")
    run = record.Run(notebook="01_mnist_dense")
    smoke = run.folder("backup")
    (smoke / "state").write_text("x")
    monkeypatch.setenv("COURSE_SMOKE", "0")
    full = run.folder("backup")
    assert smoke != full and smoke.is_dir() and full.is_dir()
    assert not any(full.iterdir()), "a full run never sees a smoke run's state"
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert (run.folder("backup") / "state").exists()
    assert not any(run.folder("backup", fresh=True).iterdir())


def test_set_seed_repeats_numpy_and_tensorflow_draws():
    import tensorflow as tf

    draws = []
    for _ in range(2):
        env.set_seed(123)
        draws.append((np.random.rand(3), tf.random.uniform((3,)).numpy()))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])


def test_precision_on_a_cpu():
    import keras
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("checks the CPU behaviour")
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


def test_tensorflows_start_up_log_lines_are_held_back_and_any_other_line_is_shown(tmp_path):
    """TensorFlow's C++ core writes start-up lines to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says."""
    import subprocess
    import sys

    fake = tmp_path / "tensorflow.py"  # stands in for the real import: the same fd-2 writes, instantly
    fake.write_text("import os\nos.write(2, b'I0000 port.cc] oneDNN custom operations are on. You may see ...\\n'"
                    " b'E0000 cuda_platform.cc] failed call to cuInit: UNKNOWN ERROR (303)\\n'"
                    " b'something a learner must see\\n')\n")
    code = f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(paths.REPO_ROOT)!r}]; from utils import env; " \
           "exec('with env._native_logs_held_back():\\n    import tensorflow')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "something a learner must see" in proc.stderr
    assert "oneDNN" not in proc.stderr and "cuInit" not in proc.stderr


def test_setup_prints_no_tensorflow_log_lines():
    import subprocess
    import sys

    code = f"import sys; sys.path.insert(0, {str(paths.REPO_ROOT)!r}); import utils; utils.setup()"
    clean = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=clean)
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith(("I0000", "E0000", "W0000"))], proc.stderr


def test_importing_utils_imports_no_tensorflow():
    """The setup cell holds TensorFlow's start-up lines back only if `utils.setup()` is what imports it."""
    import subprocess
    import sys

    code = (f"import sys; sys.path.insert(0, {str(paths.REPO_ROOT)!r}); import utils; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
