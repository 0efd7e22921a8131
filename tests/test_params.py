"""Every notebook parameter is checked for type, range and meaning before any work, in the notebook and in the runner.

The tables below are written by hand (not derived from `SPECS`), so they test the specs rather than
restate them. Each refusal must name the parameter, its value, the valid range and an example.
"""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import utils
from course import params, paths, record, runner
from course.params import ParameterError, check_lesson

NOTEBOOKS = sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _parameter_cell(path):
    cells = json.loads(path.read_text())["cells"]
    return "".join(next(c for c in cells if "parameters" in c["metadata"].get("tags", []))["source"])


def _names(path):
    return re.findall(r"^([A-Za-z_]\w*)\s*=", _parameter_cell(path), flags=re.M)


def _defaults(path):
    namespace = {}
    exec(_parameter_cell(path), namespace)  # noqa: S102 - the course's own parameters cell
    return {name: namespace[name] for name in _names(path)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_of_every_notebook_has_a_spec(path):
    """A new parameter cannot go unchecked: it needs an entry in course.params.SPECS."""
    names = _names(path)
    assert names, "the pattern still finds the parameters"
    missing = [n for n in names if n not in params.SPECS]
    assert not missing, f"{path.stem}: add these to course.params.SPECS: {missing}"
    assert params.LESSONS[path.stem] == tuple(names), "course.params.LESSONS lists the cell's names, in order"
    assert set(params.SMOKE[path.stem]) <= set(names), "test-run sizes only for the lesson's own parameters"


def test_every_spec_belongs_to_a_lesson():
    used = {name for names in params.LESSONS.values() for name in names}
    assert set(params.SPECS) == used, f"specs no lesson has: {sorted(set(params.SPECS) - used)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_parameters_cell_holds_plain_values_only(path):
    """What a learner sees is what runs: no value computed from a mode flag or another parameter."""
    import ast

    for node in ast.parse(_parameter_cell(path)).body:
        assert isinstance(node, ast.Assign), ast.unparse(node)
        ast.literal_eval(node.value)  # raises for anything but a literal


@pytest.mark.parametrize("smoke", [True, False], ids=["smoke", "full"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_lessons_values_pass_in_both_modes(path, smoke, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SMOKE", "1" if smoke else "0")
    defaults = _defaults(path)
    namespace = {**defaults, "np": np, "other_global": 1}
    run = record.start(path.stem, namespace)
    expected = {**defaults, **(params.SMOKE[path.stem] if smoke else {})}
    assert run.parameters == expected and record.current() is run and run.notebook == path.stem
    assert {name: namespace[name] for name in defaults} == expected, "the notebook runs with what was recorded"
    out = capsys.readouterr().out
    assert ("Test run (COURSE_SMOKE=1)" in out) == smoke


def test_a_test_run_keeps_the_values_given_with_p(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    monkeypatch.setenv(params.GIVEN, "EPOCHS")
    namespace = {**_defaults(NOTEBOOKS[0]), "EPOCHS": 3}
    check_lesson(NOTEBOOKS[0].stem, namespace)
    assert namespace["EPOCHS"] == 3 and namespace["TRAIN_LIMIT"] == params.SMOKE[NOTEBOOKS[0].stem]["TRAIN_LIMIT"]
    assert " EPOCHS " not in capsys.readouterr().out


def test_a_missing_parameter_and_an_unknown_lesson_are_named():
    namespace = _defaults(NOTEBOOKS[0])
    del namespace["EPOCHS"]
    with pytest.raises(ParameterError, match=r"needs the parameter\(s\) EPOCHS"):
        check_lesson(NOTEBOOKS[0].stem, namespace)
    with pytest.raises(ParameterError, match="'01_mnist' is not a lesson of this course .did you mean '01_mnist_dense'"):
        check_lesson("01_mnist", namespace)
    with pytest.raises(ValueError, match="needs the lesson's name"):
        record.start("mnist", namespace)


# (parameter, bad value, words the message must hold besides the name and value); notebook None = any
BAD = [
    *[("EPOCHS", v, "whole number >= 1") for v in (0, -1, 2.5, "3", True, None, math.inf)],
    *[("BATCH_SIZE", v, "whole number in [1, 65536]") for v in (0, -32, 32.0, "32", None, 10**6, False)],
    *[(n, 0, ">= 1") for n in ("HEAD_EPOCHS", "FINE_TUNE_EPOCHS", "SCRATCH_EPOCHS", "ORIGINAL_EPOCHS", "ORIGINAL_STEPS",
                               "DECAY_EPOCHS", "BENCH_REPEATS")],
    ("AUGMENTED_COPIES", 0, "[1, 100]"),
    ("FINE_TUNE_EPOCHS", -1, ">= 1"),
    ("PATIENCE", -1, ">= 0"), ("PATIENCE", 1.5, "whole number"), ("BENCH_WARMUP", -1, ">= 0"),
    *[("INITIAL_LR", v, "number in (0, 1]") for v in (0, -0.01, 5, "0.01", math.nan, None)],
    *[("LEARNING_RATE", v, "(0, 1]") for v in (0.0, -1e-3, math.inf, [1e-3])],
    ("HEAD_LR", -3e-3, "(0, 1]"), ("FINE_TUNE_LR", 0, "(0, 1]"), ("SCRATCH_LR", 2, "(0, 1]"),
    ("HEAD_LEARNING_RATE", -1, "(0, 1]"), ("FINE_TUNE_LEARNING_RATE", 0, "(0, 1]"),
    *[("DECAY_RATE", v, "(0, 1]") for v in (0, 1.5, -0.8)],
    *[("LAYER_SIZES", v, "non-empty list of a whole number in [1, 100000]")
      for v in ([], [512, 0], [512.0], "512", [True], None, 512, (None,))],
    *[("DROPOUT", v, "[0, 1)") for v in (1, 1.5, -0.1, "0.3", None)],
    *[("SHIFT", v, "[0, 1)") for v in (1.0, -0.1)],
    *[("BACKBONE", v, "one of 'mobilenet_025'") for v in ("resnet", "", None, "MobileNet_025", 5, "auto")],
    *[("MODEL_NAME", v, "one of 'mobilenet_025'") for v in ("inception-v3", "", None, "resnet")],
    *[("IMAGE_SIZE", v, "whole number in [32, 1024]") for v in (0, 31, 2000, 224.0, "224", None, True, -224)],
    *[("FINE_TUNE_FRACTION", v, "(0, 1]") for v in (0, 1.5)],
    *[("AUGMENT", v, "True or False") for v in ("True", 0)],
    *[("MIN_CROP_AREA", v, "(0, 1]") for v in (0, 1.2)],
    *[("ZOOM", v, "[0, 1)") for v in (1, -0.2)],
    *[("BRIGHTNESS", v, "[0, 1]") for v in (1.5, -0.1)],
    *[("TRAIN_LIMIT", v, "whole number >= 1, or None (every training image)") for v in (0, -5, 10.5, "all")],
    ("TEST_LIMIT", 0, "or None (every test image)"),
    *[("IMAGES_PER_CLASS", v, "whole number >= 2, or None (every photo)") for v in (0, 1, -1)],
    ("PER_CLASS", 0, ">= 1, or None"),
    *[("VALIDATION_SPLIT", v, "number in (0, 1)") for v in (0, 1, 0.0, 1.0, 20, -0.2, None)],
    *[("VAL_FRACTION", v, "(0, 1)") for v in (0, 1.2)],
    *[("DATA_DIR", v, "a folder path (a string)") for v in (None, 2024, ["a"])],
    *[("SKIP_BAD_IMAGES", v, "True or False") for v in ("False", 0, None)],
    *[("N_DRAWS", v, "[1, 50]") for v in (0, 100)],
    ("BENCH_IMAGES", 0, ">= 1, or None"),
    ("TSNE_POINTS", 5, ">= 10"), ("TSNE_ITERATIONS", 100, ">= 250"),
]


@pytest.mark.parametrize("name, value, words", BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_bad_values_are_refused_with_the_range_and_an_example(name, value, words):
    with pytest.raises(ParameterError) as err:
        params.check_value(name, value)
    message = str(err.value)
    assert message.startswith(f"{name}={value!r} ("), message
    assert words in message, (words, message)
    assert f"Example: {name} = " in message and f"-p {name}=" in message


GOOD = [
    ("EPOCHS", 1), ("EPOCHS", np.int64(30)), ("BATCH_SIZE", 1), ("BATCH_SIZE", 256), ("PATIENCE", 0),
    ("INITIAL_LR", 1), ("LEARNING_RATE", 1e-5), ("LEARNING_RATE", np.float32(1e-3)), ("DECAY_RATE", 1),
    ("LAYER_SIZES", [1]), ("LAYER_SIZES", (128, 64)), ("DROPOUT", 0), ("DROPOUT", 0.99), ("SHIFT", 0),
    ("BACKBONE", "resnet50"), ("BACKBONE", "mobilenet_100"), ("MODEL_NAME", "mobilenet_025"),
    ("MODEL_NAME", "efficientnetv2-b0-21k-ft1k"), ("IMAGE_SIZE", 32), ("IMAGE_SIZE", 1024),
    ("AUGMENT", np.bool_(False)), ("FINE_TUNE_FRACTION", 1),
    ("MIN_CROP_AREA", 1.0), ("ZOOM", 0), ("BRIGHTNESS", 1), ("TRAIN_LIMIT", None), ("TRAIN_LIMIT", 1),
    ("IMAGES_PER_CLASS", 2), ("PER_CLASS", 1), ("PER_CLASS", None), ("VALIDATION_SPLIT", 0.5),
    ("VAL_FRACTION", 0.01), ("DATA_DIR", ""), ("DATA_DIR", "~/photos"), ("BENCH_IMAGES", None),
    ("BENCH_WARMUP", 0), ("TSNE_ITERATIONS", 250),
]


@pytest.mark.parametrize("name, value", GOOD, ids=[f"{n}={v!r}" for n, v in GOOD])
def test_valid_values_pass(name, value):
    assert params.check_value(name, value) is value


NOTEBOOK_SPECIFIC = [  # (notebook, parameter, value, accepted)
    ("02", "BACKBONE", "mobilenet_100", True), ("02", "BACKBONE", "vgg19", True), ("02", "BACKBONE", "resnet50", False),
    ("02", "BACKBONE", "auto", False),
    ("04", "BACKBONE", "resnet50", True), ("04", "BACKBONE", "auto", False), ("04", "BACKBONE", "vgg19", False),
    ("04", "BACKBONE", "inception_v3", False), ("05", "BACKBONE", "inception_v3", True), ("05", "BACKBONE", "vgg19", False),
    ("05", "IMAGE_SIZE", None, True), ("06", "IMAGE_SIZE", None, True), ("04", "IMAGE_SIZE", None, False),
    ("02", "IMAGE_SIZE", None, False), ("03", "IMAGE_SIZE", None, False), ("06", "IMAGE_SIZE", 16, False),
]


@pytest.mark.parametrize("notebook, name, value, accepted", NOTEBOOK_SPECIFIC,
                         ids=[f"{nb}-{n}={v!r}" for nb, n, v, _ in NOTEBOOK_SPECIFIC])
def test_notebook_specific_values(notebook, name, value, accepted):
    stem = next(p.stem for p in NOTEBOOKS if p.stem.startswith(notebook))
    assert (params.problem(name, value, stem) is None) == accepted, params.problem(name, value, stem)


def test_start_lists_every_problem_and_records_nothing(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    before = record.current()
    namespace = {**_defaults(NOTEBOOKS[0]), "EPOCHS": 0, "INITIAL_LR": -0.01}
    with pytest.raises(ParameterError) as err:
        utils.start(NOTEBOOKS[0].stem, namespace)
    assert "EPOCHS=0" in str(err.value) and "INITIAL_LR=-0.01" in str(err.value)
    assert record.current() is before, "nothing is recorded from a refused run"


def test_a_name_that_is_no_parameter_has_no_problem():
    assert params.problem("NOT_A_PARAMETER", object()) is None


# --- the runner: the same specs, before any kernel starts --------------------------------------------------

def _nb(number):
    return next(p for p in NOTEBOOKS if p.stem.startswith(number))


RUNNER_REFUSED = [  # (notebook, -p pairs, words in the error)
    ("01", ["SMOKE=False"], ["01_mnist_dense has no parameter SMOKE", "--full"]),
    ("04", ["SMOKE=True"], ["has no parameter SMOKE", "Smoke mode is the default"]),
    ("01", ["EPOCHS=0"], ["EPOCHS=0 (int) is too small", ">= 1", "Example"]),
    ("02", ["BATCH_SIZE=0"], ["BATCH_SIZE=0"]),
    ("06", ["VALIDATION_SPLIT=0"], ["VALIDATION_SPLIT=0", "(0, 1)"]),
    ("01", ["DROPOUT=1.5"], ["DROPOUT=1.5", "[0, 1)"]),
    ("04", ["HEAD_LR=-0.001"], ["HEAD_LR=-0.001", "(0, 1]"]),
    ("01", ["LAYER_SIZES=[]"], ["LAYER_SIZES=[]", "an empty list"]),
    ("06", ["IMAGES_PER_CLASS=0"], ["IMAGES_PER_CLASS=0"]),
    ("02", ["BACKBONE=resnet50"], ["BACKBONE='resnet50'", "'vgg19', 'mobilenet_100', 'mobilenet_025'"]),
    ("04", ["SKIP_BAD_IMAGES=1"], ["SKIP_BAD_IMAGES=1", "True or False"]),  # 04 no longer has RUN_EAGERLY
    ("06", ["MODEL_NAME=inception-v3"], ["did you mean 'inception_v3'"]),
    ("06", ["DATA_DIR=None"], []),  # a path is a path: the folder named None does not exist (checked by the scan)
    ("01", ["UNKNOWN=1"], ["01_mnist_dense has no parameter UNKNOWN"]),
]


@pytest.mark.parametrize("number, pairs, words", RUNNER_REFUSED, ids=[f"{n}:{' '.join(p)}" for n, p, _ in RUNNER_REFUSED])
def test_the_runner_refuses_before_any_kernel_starts(course_env, monkeypatch, number, pairs, words):
    monkeypatch.setattr(runner, "execute", lambda *a: pytest.fail("a notebook ran"))
    parsed = runner.parse_parameters(pairs)
    if not words:
        runner.check_parameters(_nb(number), parsed)
        assert os.path.isabs(parsed["DATA_DIR"]) and parsed["DATA_DIR"].endswith("None")
        return
    with pytest.raises(SystemExit) as err:
        runner.run([number], parsed, full=False)
    for word in words:
        assert word in str(err.value.code), (word, err.value.code)


def test_parse_parameters_resolves_a_relative_data_dir_against_the_users_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.parse_parameters(["DATA_DIR=my photos/"]) == {"DATA_DIR": str(tmp_path / "my photos")}
    assert runner.parse_parameters(["DATA_DIR='quoted'"]) == {"DATA_DIR": str(tmp_path / "quoted")}
    assert runner.parse_parameters(["DATA_DIR=2024"]) == {"DATA_DIR": str(tmp_path / "2024")}, "a folder, not an int"
    assert runner.parse_parameters(["DATA_DIR="]) == {"DATA_DIR": ""}, "empty: the notebook's default"
    monkeypatch.setenv("HOME", "/home/learner")
    assert runner.parse_parameters(["DATA_DIR=~/photos"]) == {"DATA_DIR": "/home/learner/photos"}
    with pytest.raises(SystemExit, match="EPOCHS is given twice"):
        runner.parse_parameters(["EPOCHS=1", "EPOCHS=2"])


def test_the_runner_accepts_good_values_including_notebook_specific_ones():
    for number, pairs in [("02", ["BACKBONE=mobilenet_100", "AUGMENTED_COPIES=2"]), ("05", ["IMAGE_SIZE=None"]),
                          ("04", ["BACKBONE=mobilenet_025", "FINE_TUNE_EPOCHS=3"]), ("01", ["EPOCHS=5", "DROPOUT=0"])]:
        runner.check_parameters(_nb(number), runner.parse_parameters(pairs))


def test_relative_course_folders_are_resolved_where_the_user_typed_them(tmp_path):
    """`python -m course datasets` finds a relative mirror only where the notebooks will find it too."""
    (tmp_path / "mirror" / "mnist").mkdir(parents=True)
    environ = {**os.environ, "COURSE_DATA_DIR": "mirror", "COURSE_CACHE_DIR": "cache", "PYTHONPATH": str(paths.REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "course", "datasets"], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"mirror (COURSE_DATA_DIR): {tmp_path / 'mirror'}" in done.stdout
    assert f"cache: {tmp_path / 'cache'}" in done.stdout
    assert f"mirror (COURSE_DATA_DIR): {tmp_path / 'mirror'}" in done.stdout
    assert "found at $COURSE_DATA_DIR/mnist: " in done.stdout
