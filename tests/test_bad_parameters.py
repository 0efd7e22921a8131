"""Bad parameters get a clear answer early: each message names the problem and the fix (issue #9).

Table-driven, through the public API the notebooks call (`course.backbones.load_backbone`, `utils.scan_image_folder`,
`utils.locate`, `course.hub.pick_model`, `python -m course run`). Nothing is downloaded and no backbone is
built: every refusal happens before Keras constructs a network. Also here: saved models reload in Keras'
safe mode with identical predictions, and a static audit of the notebooks' save/reload and resume code.
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import course.data
import utils
from course import backbones, paths, record, runner
from course.images import ImageFolderError

keras = pytest.importorskip("keras")

NOTEBOOKS = sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# --- BACKBONE and IMAGE_SIZE: every entry of course.backbones.BACKBONES -------------------------------------------

# (BACKBONE, IMAGE_SIZE, words the message must contain)
BAD_BACKBONES = [
    ("resnet", None, ["BACKBONE='resnet'", "Did you mean 'resnet50'", "Set BACKBONE to one of", "mobilenet_025"]),
    ("MobileNet_025", None, ["BACKBONE='MobileNet_025'", "mobilenet_025"]),
    ("vgg16", 224, ["BACKBONE='vgg16'", "vgg19"]),
    ("", None, ["BACKBONE=''", "Set BACKBONE to one of"]),
    (None, None, ["BACKBONE=None", "Set BACKBONE to one of"]),
]
BAD_SIZES = []  # filled per backbone: below the minimum, zero, negative, not a whole number
for _name, _spec in backbones.BACKBONES.items():
    for _size in (_spec.min_size - 1, 0, -224):
        BAD_SIZES.append((_name, _size, [f"at least {_spec.min_size}x{_spec.min_size}", f"IMAGE_SIZE={_size}",
                                         f"Set IMAGE_SIZE to {_spec.min_size} or more"]))
    for _size in ("224", 224.0, True):
        BAD_SIZES.append((_name, _size, ["IMAGE_SIZE must be a whole number", repr(_size)]))


@pytest.mark.parametrize("name, size, words", BAD_BACKBONES + BAD_SIZES,
                         ids=[f"{n}-{s!r}" for n, s, _ in BAD_BACKBONES + BAD_SIZES])
def test_load_backbone_refuses_before_building_or_downloading(course_env, monkeypatch, name, size, words):
    monkeypatch.setattr(backbones, "find_weights", lambda *a: pytest.fail("looked for weights before checking"))
    with pytest.raises(ValueError) as err:
        backbones.load_backbone(name, size)
    for word in words:
        assert word in str(err.value), (word, str(err.value))
    assert not course.record.current().sources, "nothing may be recorded as loaded"


@pytest.mark.parametrize("name", list(backbones.BACKBONES))
def test_sizes_the_backbone_accepts_pass_the_check(name):
    spec = backbones.BACKBONES[name]
    assert backbones.check_backbone(name) == spec.image_size
    assert backbones.check_backbone(name, None) == spec.image_size
    assert backbones.check_backbone(name, spec.min_size) == spec.min_size
    assert backbones.check_backbone(name, np.int64(spec.image_size)) == spec.image_size


def test_find_weights_names_the_choices_for_an_unknown_backbone(course_env):
    with pytest.raises(ValueError, match=r"Unknown backbone BACKBONE='vgg16'.*Set BACKBONE to one of: mobilenet_025"):
        backbones.find_weights("vgg16")  # notebooks 02 and 04 call it first; it was a bare KeyError


# --- MODEL_NAME and IMAGE_SIZE for TF Hub models (notebook 06) --------------------------------------------

def test_hub_model_name_and_size_refusals(course_env):
    hub = pytest.importorskip("course.hub")
    cases = [("inception-v3", None, ["Unknown MODEL_NAME 'inception-v3'", "Did you mean 'inception_v3'"]),
             ("resnet", 224, ["Unknown MODEL_NAME 'resnet'", "Choose one of"]),
             ("mobilenet_025", 31, ["at least 32x32", "IMAGE_SIZE=31", "own size (224)"]),
             ("mobilenet_025", -1, ["IMAGE_SIZE=-1"])]
    for name, size, words in cases:
        with pytest.raises(ValueError) as err:
            hub.pick_model(name, size)
        assert all(w in str(err.value) for w in words), (name, size, str(err.value))


@pytest.mark.parametrize("size", [0, "224", 224.5])
def test_hub_image_size_must_be_a_positive_whole_number(course_env, size):
    hub = pytest.importorskip("course.hub")
    with pytest.raises(ValueError, match="IMAGE_SIZE"):
        hub.pick_model("mobilenet_025", size)


# --- DATA_DIR: folders that cannot be a dataset ----------------------------------------------------------

def _jpeg(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path)


def _missing(tmp):
    return tmp / "no_such_folder"


def _relative_missing(tmp):
    return "no_such_folder_here"


def _a_file(tmp):
    _jpeg(tmp / "photo.jpg")
    return tmp / "photo.jpg"


def _empty(tmp):
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _one_class(tmp):
    _jpeg(tmp / "flowers" / "roses" / "a.jpg")
    return tmp / "flowers"


def _class_folder_itself(tmp):  # a learner points DATA_DIR at flowers/roses instead of flowers
    for i in range(3):
        _jpeg(tmp / "roses" / f"{i}.jpg")
    return tmp / "roses"


def _only_empty_classes(tmp):
    (tmp / "flowers" / "roses").mkdir(parents=True)
    (tmp / "flowers" / "tulips").mkdir()
    return tmp / "flowers"


def _hidden_classes_only(tmp):
    _jpeg(tmp / "flowers" / ".roses" / "a.jpg")
    _jpeg(tmp / "flowers" / ".tulips" / "a.jpg")
    return tmp / "flowers"


def _not_a_path(tmp):
    return 2024  # `-p DATA_DIR=2024` arrives as an int


# (case, folder maker, words the message must contain)
BAD_FOLDERS = [
    ("missing", _missing, ["no_such_folder does not exist", "Point DATA_DIR at a folder", "one sub-folder per class"]),
    ("relative missing", _relative_missing, ["does not exist", "relative to the current folder", "Point DATA_DIR"]),
    ("file, not folder", _a_file, ["photo.jpg", "is a file, not a folder", "Point DATA_DIR"]),
    ("empty folder", _empty, ["has 0 class folder(s)", "(none)", "at least 2", "own sub-folder"]),
    ("one class", _one_class, ["has 1 class folder(s)", "(roses)", "at least 2", "own sub-folder"]),
    ("a class folder itself", _class_folder_itself, ["0 class folder(s)", "holds 3 image(s) directly",
                                                     "Point DATA_DIR at its parent"]),
    ("only empty classes", _only_empty_classes, ["roses/: empty class folder", "tulips/: empty class folder",
                                                 "Fix: repair or delete"]),
    ("only hidden classes", _hidden_classes_only, ["0 class folder(s)", "at least 2"]),
    ("not a path", _not_a_path, ["DATA_DIR must be a folder path", "2024", "int"]),
]


@pytest.mark.parametrize("case, make, words", BAD_FOLDERS, ids=[c for c, *_ in BAD_FOLDERS])
def test_scan_image_folder_names_the_problem_and_the_fix(tmp_path, monkeypatch, case, make, words):
    monkeypatch.chdir(tmp_path)
    record.current().parameters = {"DATA_DIR": ""}  # notebook 06, which has DATA_DIR
    with pytest.raises(ImageFolderError) as err:
        utils.scan_image_folder(make(tmp_path))
    message = str(err.value)
    for word in words:
        assert word in message, (case, word, message)


def test_a_good_folder_passes_the_same_check(tmp_path):
    from PIL import Image

    for i, cls in enumerate(("roses", "tulips")):
        (tmp_path / "flowers" / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8), (200, 30 * i, 30)).save(tmp_path / "flowers" / cls / "a.jpg")
    assert utils.scan_image_folder(str(tmp_path / "flowers")).class_names == ["roses", "tulips"]


# --- dataset names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["flowers", "MNIST", "hot_dog", ""])
def test_locate_unknown_dataset_lists_the_known_ones(course_env, name):
    with pytest.raises(KeyError) as err:
        utils.locate(name)
    assert f"Unknown dataset {name!r}" in str(err.value)
    assert all(known in str(err.value) for known in course.data.DATASETS)


def test_locate_in_full_mode_offline_says_how_to_get_the_data(course_env, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(course.data.DataUnavailableError, match=r"Fix: run `python -m course download hotdog`"):
        utils.locate("hotdog")


# --- the runner ---------------------------------------------------------------------------------------------

RUNNER_CASES = [  # (arguments, words on stderr)
    (["run", "01", "-p", "UNKNOWN=1"], ["01_mnist_dense has no parameter UNKNOWN", "Its parameters:", "EPOCHS"]),
    (["run", "01", "-p", "epochs=3"], ["has no parameter epochs", "EPOCHS"]),
    (["run", "01", "-p", "EPOCHS"], ["-p expects NAME=VALUE", "'EPOCHS'"]),
    (["run", "99"], ["'99' matches no notebook", "01_mnist_dense"]),
]


@pytest.mark.parametrize("args, words", RUNNER_CASES, ids=[" ".join(a) for a, _ in RUNNER_CASES])
def test_runner_refuses_bad_arguments_before_running_anything(course_env, args, words):
    from course.__main__ import main

    with pytest.raises(SystemExit) as err:
        main(args)
    for word in words:
        assert word in str(err.value.code), (word, err.value.code)
    assert not (course_env["tmp"] / "build").exists(), "nothing may run"


def test_runner_command_line_prints_the_message_without_a_traceback(course_env):
    args, words = RUNNER_CASES[0]
    done = subprocess.run([sys.executable, "-m", "course", *args], cwd=paths.REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert all(word in done.stderr for word in words) and "Traceback" not in done.stderr, done.stderr
    assert not (course_env["tmp"] / "build").exists(), "nothing may run"


def _declared_in_parameters_cell(path):
    cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    return re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", "".join(cell["source"]), flags=re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runner_accepts_every_parameter_the_notebook_declares(path):
    """A parameter papermill cannot parse is refused by `-p` as unknown, and never overridden."""
    import papermill

    names = _declared_in_parameters_cell(path)
    assert names
    missing = set(names) - set(papermill.inspect_notebook(str(path)))  # what the runner's check sees
    assert not missing, f"papermill cannot parse these parameters, so `-p` would refuse them: {sorted(missing)}"


def test_runner_refuses_a_value_of_the_wrong_type():
    with pytest.raises(SystemExit, match="EPOCHS"):
        runner.check_parameters(paths.REPO_ROOT / "notebooks" / "01_mnist_dense.ipynb", {"EPOCHS": "three"})


# --- saved models: safe mode, identical predictions -----------------------------------------------------------

def test_course_registers_only_serializables_that_have_a_round_trip_test():
    pytest.importorskip("course.hub")  # the lessons define and register their own layers (06: lesson06>HubLayer)
    course = {name for name in keras.saving.get_custom_objects() if name.startswith("course>")}
    assert course == set(), f"new registered objects need a save/reload test here: {course}"


@pytest.mark.parametrize("module", sorted({b.module for b in backbones.BACKBONES.values()}))
def test_models_with_each_backbones_preprocessing_reload_in_safe_mode(tmp_path, module, course_env):
    """The wiring notebooks 02, 04 and 05 save: grey-to-RGB, Resizing, preprocess_input on a symbolic tensor."""
    preprocess_input = getattr(keras.applications, module).preprocess_input
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Concatenate()([inputs, inputs, inputs])
    x = keras.layers.Resizing(16, 16)(x)
    x = preprocess_input(x)
    x = keras.layers.Conv2D(2, 3)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, dtype="float32")(x))
    images = np.random.default_rng(0).uniform(0, 255, (5, 12, 12, 1)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(reloaded.predict(images, verbose=0), model.predict(images, verbose=0))


def test_default_load_model_is_safe_mode(tmp_path):
    """What the notebooks call (`keras.models.load_model(path)`) refuses the pickled code of a Lambda."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(tmp_path / "lambda.keras")


# --- static audit of the notebooks (fast: reads the JSON) -----------------------------------------------------

def _code_cells(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


UNSAFE = [r"safe_mode\s*=\s*False", r"allow_pickle\s*=\s*True", r"\bimport pickle\b", r"\bpickle\.load",
          r"\bjoblib\.load", r"\bdill\b", r"enable_unsafe_deserialization", r"\bcloudpickle\b"]


@pytest.mark.parametrize("path", list((paths.REPO_ROOT / "utils").glob("*.py")) + NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_unpickles_or_loads_unsafely(path):
    text = path.read_text() if path.suffix == ".py" else "\n".join(_code_cells(path))
    found = [pattern for pattern in UNSAFE if re.search(pattern, text)]
    assert not found, f"{path.name}: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_saved_model_is_reloaded_and_compared(path):
    saves = 0
    for cell in _code_cells(path):
        for target in re.findall(r"\w+\.save\((\w+)\)", cell):
            saves += 1
            assert re.search(rf"keras\.models\.load_model\({target}\)", cell), f"{path.stem}: {target} not reloaded"
            # the course's one tolerance rule: probabilities within 1e-4 in float32, 2e-2 under mixed precision
            assert re.search(r"np\.testing\.assert_allclose\([^)]*atol=atol", cell), \
                f"{path.stem}: reloaded predictions are not compared with np.testing.assert_allclose(..., atol=atol)"
            assert re.search(r'atol = 1e-4 if keras\.mixed_precision\.global_policy\(\)\.compute_dtype == \\?\s*"float32" '
                             r"else 2e-2", "\n".join(_code_cells(path))), f"{path.stem}: not the course's tolerance rule"
    assert saves, f"{path.stem} saves no model (the course's contract: save as .keras, reload, compare)"


# Fits that need no resume: each runs seconds to a minute in full mode (or is scikit-learn's). Others must resume.
SHORT_FITS = {
    ("04", "net.fit("): "the original's 3 epochs x 10 steps",
    ("04", "head.fit("): "the original's Dense(2) and the new head, on cached features (seconds)",
    ("04", "original.fit("): "solution 1: the original's 3 epochs x 10 steps, once with 10x the epochs",
    ("04", "m.fit("): "the solutions' solution_fit: SOLUTION_EPOCHS (2) epochs each in full mode",
    ("05", "head.fit("): "a softmax layer on cached features",
    ("06", "head.fit("): "a softmax layer on cached features (seconds; a backup every epoch doubled its time)",
    ("01", "m.fit("): "the original recipe's three learning-rate runs (about 12 s of CPU each) and the solutions",
    ("03", "net.fit("): "the small with/without-augmentation CNN on 1,000 digits (about 15 s each)",
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_long_fit_resumes_from_the_notebooks_run_folder(path):
    long_fits = 0
    for cell in _code_cells(path):
        fits = len(re.findall(r"\b\w+\.fit\(", cell))
        fits -= sum(cell.count(snippet) for (nb, snippet) in SHORT_FITS if path.stem.startswith(nb))
        if fits <= 0:
            continue
        long_fits += fits
        backups = len(re.findall(r"BackupAndRestore\(lesson\.backup_dir\(", cell))
        assert backups >= fits, f"{path.stem}: a fit without BackupAndRestore(lesson.backup_dir(...)):\n{cell[:400]}"
    if path.stem.startswith("03"):
        assert long_fits == 0  # 03's only training is the short with/without-augmentation experiment
    else:
        assert long_fits, f"{path.stem}: no resumable fit found (has the audit's pattern gone stale?)"
