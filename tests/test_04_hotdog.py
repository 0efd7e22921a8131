"""What notebook 04 (hot dog fine-tuning) relies on: finding every file it needs offline, its clear stop when
the backbone's weights are missing, the ImageNet classifier chosen by availability, and the functions its
lesson is built on (the inverse of preprocess_input, stateless augmentation, the original's head, Wilson's
interval, BatchNorm recalibration, flip averaging, Grad-CAM)."""

import ast
import json
import types

import numpy as np
import pytest

from utils import backbones, data, env
from weights import fake_weights

NOTEBOOK = env.REPO_ROOT / "notebooks" / "04_hotdog_fine_tuning.ipynb"


def notebook_cell(marker: str) -> str:
    """Source of the notebook's first code cell that contains `marker`."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code" and marker in "".join(c["source"]))


def notebook_functions(marker: str, namespace: dict) -> dict:
    """Run only the imports, functions and classes of the cell containing `marker` (not its demo code)."""
    tree = ast.parse(notebook_cell(marker))
    keep = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(body=keep, type_ignores=[]), "<notebook>", "exec"), namespace)
    return namespace


@pytest.fixture
def no_weights(course_env, monkeypatch, tmp_path):
    """An empty mirror and an empty Keras home: no ImageNet weights anywhere, offline."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return course_env


def put_file(mirror, filename):
    path = mirror / "keras_home" / "models" / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    if filename.endswith(".h5"):
        fake_weights(path)  # a sound HDF5 weights file: the course reads every weights file it finds
    else:
        path.write_text("{}")
    return path


def put_weights(mirror, name):
    return put_file(mirror, backbones.BACKBONES[name].weights_file)


# --- the check before anything slow ------------------------------------------------------------------------


def test_missing_weights_in_full_mode_are_a_clear_error(no_weights, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError) as err:
        backbones.find_weights("resnet50")
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in str(err.value)


def test_missing_weights_in_smoke_mode_mean_random_weights(no_weights):
    weights, where = backbones.find_weights("resnet50")
    assert weights is None and "RANDOM" in where


def test_weights_in_the_mirror_are_found(no_weights):
    path = put_weights(no_weights["mirror"], "mobilenet_025")
    weights, where = backbones.find_weights("mobilenet_025")
    assert weights == str(path)
    # results tables name the mirror relative to $COURSE_DATA_DIR, never by this machine's path
    assert where == "ImageNet weights, mirror $COURSE_DATA_DIR/keras_home/models/" + path.name


def run_check_cell(backbone, capsys):
    import utils

    namespace = {"utils": utils, "backbones": backbones, "BACKBONE": backbone, "IMAGE_SIZE": 224}
    exec(notebook_cell("find_weights"), namespace)
    return namespace, capsys.readouterr().out


def test_notebook_stops_with_the_offline_command_when_resnet50_weights_are_missing(no_weights, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    import utils

    namespace = {"utils": utils, "backbones": backbones, "BACKBONE": "resnet50", "IMAGE_SIZE": 224}
    with pytest.raises(SystemExit) as stop:  # IPython shows a SystemExit as its message, without a traceback
        exec(notebook_cell("find_weights"), namespace)
    message = str(stop.value)
    assert message.startswith("BACKBONE='resnet50' has no ImageNet weights here")
    assert "python -m utils run --full 04 -p BACKBONE=mobilenet_100" in message


def test_check_cell_reports_the_body_the_classifier_and_the_class_names(no_weights, monkeypatch, capsys):
    """All three files the lesson needs are checked before anything slow (the top once crashed a full run)."""
    monkeypatch.setenv("COURSE_SMOKE", "0")
    mirror = no_weights["mirror"]
    put_weights(mirror, "mobilenet_100")
    put_file(mirror, "mobilenet_1_0_224_tf.h5")
    put_file(mirror, "imagenet_class_index.json")
    _, out = run_check_cell("mobilenet_100", capsys)
    assert "mobilenet_100 without its classifier: ImageNet weights, mirror" in out
    assert "mobilenet_100 classifier: mobilenet_1_0_224_tf.h5 is here" in out
    assert "mobilenet_100 class names: imagenet_class_index.json is here" in out


def test_check_cell_says_what_happens_when_the_classifier_is_missing(no_weights, monkeypatch, capsys):
    put_weights(no_weights["mirror"], "mobilenet_025")
    _, out = run_check_cell("mobilenet_025", capsys)
    assert "mobilenet_2_5_224_tf.h5 is not here; offline (COURSE_OFFLINE=1): a stand-in will be used" in out
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    _, out = run_check_cell("mobilenet_025", capsys)
    assert "mobilenet_2_5_224_tf.h5 is not here; a download will be tried" in out


def test_keras_file_looks_in_the_mirror_before_the_keras_cache(no_weights, monkeypatch, capsys, tmp_path):
    namespace, _ = run_check_cell("mobilenet_025", capsys)
    keras_file = namespace["keras_file"]
    assert keras_file("imagenet_class_index.json") is None
    cached = tmp_path / "keras_home" / "models" / "imagenet_class_index.json"
    cached.parent.mkdir(parents=True)
    cached.write_text("{}")
    assert keras_file("imagenet_class_index.json") == cached
    in_mirror = put_file(no_weights["mirror"], "imagenet_class_index.json")
    assert keras_file("imagenet_class_index.json") == in_mirror


# --- the original's classifier, chosen by what can be had ----------------------------------------------------


class FakeApplications:
    """keras.applications with a MobileNet that records its `weights` argument and may fail like a download."""

    def __init__(self, fail_download):
        self.calls, self.fail_download = [], fail_download

    def MobileNet(self, include_top, weights, input_shape, **kwargs):  # noqa: N802 (Keras' name)
        self.calls.append(weights)
        if weights == "imagenet" and self.fail_download:
            raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- no network")
        return types.SimpleNamespace(name=f"mobilenet_with_top({weights})", count_params=lambda: 4_253_864)


def run_classifier_cell(capsys, apps):
    keras = pytest.importorskip("keras")
    import utils

    fake_keras = types.SimpleNamespace(applications=apps, Input=keras.Input, layers=keras.layers, Model=keras.Model)
    namespace = {"utils": utils, "keras": fake_keras, "IMAGE_SIZE": 32, "BACKBONE": "mobilenet_100"}
    namespace.update(notebook_functions("def keras_file", {"utils": utils}))
    namespace["TOP_FILES"] = {"mobilenet_100": "mobilenet_1_0_224_tf.h5"}
    exec(notebook_cell("def imagenet_classifier"), namespace)
    return namespace, capsys.readouterr().out


def test_the_real_classifier_is_used_when_its_file_is_here(no_weights, capsys):
    path = put_file(no_weights["mirror"], "mobilenet_1_0_224_tf.h5")
    apps = FakeApplications(fail_download=True)
    namespace, out = run_classifier_cell(capsys, apps)
    assert namespace["REAL_TOP"] is True and apps.calls == [str(path)]
    assert data.sources()["imagenet:mobilenet_100:top"] == (
        "ImageNet classifier, mirror $COURSE_DATA_DIR/keras_home/models/mobilenet_1_0_224_tf.h5")
    assert "STAND-IN" not in out


def test_a_download_is_tried_when_the_file_is_missing_and_the_network_allowed(no_weights, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    apps = FakeApplications(fail_download=False)
    namespace, _ = run_classifier_cell(capsys, apps)
    assert namespace["REAL_TOP"] is True and apps.calls == ["imagenet"]


def test_a_failed_download_falls_back_to_an_announced_stand_in(no_weights, monkeypatch, capsys):
    """Decided by what can be had: the download is tried and fails, so the stand-in comes (in smoke mode)."""
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    monkeypatch.setattr(backbones, "find_weights", lambda name: (None, "RANDOM weights (test: no download)"))
    apps = FakeApplications(fail_download=True)
    namespace, out = run_classifier_cell(capsys, apps)
    assert apps.calls == ["imagenet"] and namespace["REAL_TOP"] is False
    assert "STAND-IN: mobilenet_100 with its ImageNet classifier cannot be had here" in out and "URL fetch" in out
    assert namespace["classifier"].output_shape == (None, 1000)
    assert data.sources()["imagenet:mobilenet_100:top"].startswith("STAND-IN")


def test_offline_no_download_is_tried(no_weights, capsys):
    apps = FakeApplications(fail_download=False)
    namespace, _ = run_classifier_cell(capsys, apps)
    assert apps.calls == [] and namespace["REAL_TOP"] is False


# --- the diagnosis ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_seen_as_inverts_each_backbones_preprocess_input(keras):
    namespace = notebook_functions("def seen_as", {"np": np})
    seen_as = namespace["seen_as"]
    photo = np.random.default_rng(0).uniform(0, 255, (4, 5, 3)).astype("float32")
    for module in (keras.applications.mobilenet, keras.applications.resnet50):
        np.testing.assert_allclose(seen_as(module.preprocess_input(photo.copy()), module.preprocess_input), photo,
                                   atol=1e-3)


def test_resnet50_reads_a_photo_in_0_1_as_the_imagenet_mean_colour_not_black(keras):
    """The lesson's correction of the original diagnosis ("almost black"): what ResNet50 believes it sees."""
    seen_as = notebook_functions("def seen_as", {"np": np})["seen_as"]
    photo = np.random.default_rng(1).uniform(0, 255, (6, 6, 3)).astype("float32")
    resnet = seen_as(photo / 255.0, keras.applications.resnet50.preprocess_input)
    mean_rgb = np.array([123.68, 116.779, 103.939])  # ImageNet's mean pixel, R G B
    assert np.abs(resnet - mean_rgb).max() <= 1.0 + 1e-3, "within one grey level of the mean colour"
    mobilenet = seen_as(photo / 255.0, keras.applications.mobilenet.preprocess_input)
    assert mobilenet.min() >= 127.5 - 1e-3 and mobilenet.max() <= 255 + 1e-3, "a washed-out photo, half the contrast"


def test_original_head_trains_exactly_the_steps_it_is_given(keras):
    import tensorflow as tf

    import utils

    namespace = notebook_functions("def original_head", {"keras": keras, "tf": tf, "utils": utils})
    x = np.random.default_rng(0).random((40, 7)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int64")
    head = namespace["original_head"](x, y, steps=3)
    assert int(head.optimizer.iterations.numpy()) == 3
    assert head.output_shape == (None, 2)


def test_wilson_interval_for_50_photos():
    interval = notebook_functions("def interval", {"np": np})["interval"]
    assert interval(0.8, 50) == "0.67-0.89"
    assert interval(1.0, 50) == "0.93-1.00"


# --- augmentation and training ------------------------------------------------------------------------------


@pytest.fixture
def augment_namespace(keras):
    import tensorflow as tf

    import utils

    namespace = {"tf": tf, "np": np, "utils": utils, "IMAGE_SIZE": 16, "MIN_CROP_AREA": 0.5, "BATCH_SIZE": 4}
    return notebook_functions("def augment(image, label, seed)", namespace)


def test_augment_is_stateless_keeps_the_label_and_the_size(augment_namespace):
    import tensorflow as tf

    augment = augment_namespace["augment"]
    image = np.arange(20 * 16 * 3, dtype=np.float32).reshape(20, 16, 3).astype(np.uint8)
    draws = [augment(image, 1, tf.constant([i, 42])) for i in range(12)]
    again = augment(image, 1, tf.constant([5, 42]))
    assert all(label == 1 and out.shape == (16, 16, 3) for out, label in draws)
    assert np.array_equal(draws[5][0], again[0]), "the same seed gives the same augmentation"
    distinct = {out.numpy().tobytes() for out, _ in draws}
    assert len(distinct) == len(draws), "different seeds give different crops"


def test_training_dataset_repeats_across_runs_and_changes_across_epochs(augment_namespace):
    make = augment_namespace["training_dataset"]
    images = np.random.default_rng(0).integers(0, 255, (8, 20, 20, 3)).astype("float32")
    labels = np.arange(8) % 2
    ds = make(images, labels)
    epoch1, epoch2 = ([x.numpy() for x, _ in ds] for _ in range(2))
    rebuilt = [x.numpy() for x, _ in make(images, labels)]
    assert all(np.array_equal(a, b) for a, b in zip(epoch1, rebuilt)), "the same seed, the same first epoch"
    assert not all(np.array_equal(a, b) for a, b in zip(epoch1, epoch2)), "new augmentations every epoch"
    assert sum(len(x) for x in epoch1) == 8


def test_recalibrate_batchnorm_stores_the_statistics_of_the_given_photos(keras):
    namespace = notebook_functions("def recalibrate_batchnorm", {"keras": keras, "np": np})
    inputs = keras.Input((3, 3, 2))
    bn = keras.layers.BatchNormalization(name="bn")
    base = keras.Model(inputs, bn(inputs))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="pool")(base(inputs)))
    images = np.random.default_rng(0).normal(5.0, 3.0, (10, 3, 3, 2)).astype("float32")
    namespace["recalibrate_batchnorm"](model, base, images)
    np.testing.assert_allclose(bn.moving_mean.numpy(), images.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), images.var(axis=(0, 1, 2)), rtol=1e-4)
    assert bn.momentum == 0.99, "the momentum is restored"


def test_flip_averaging_averages_the_probabilities_of_a_photo_and_its_mirror_image(keras):
    predict = notebook_functions("def predict_flip_averaged", {"keras": keras, "np": np})["predict_flip_averaged"]
    inputs = keras.Input((2, 2, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False)(keras.layers.Flatten()(inputs)))
    model.layers[-1].set_weights([np.array([[1, 0], [0, 2], [0, 0], [0, 0]], "float32")])  # top row only
    image = np.array([[[[3.0], [0.0]], [[0.0], [0.0]]]], "float32")  # bright top-left; mirrored: bright top-right

    def softmax(z):
        e = np.exp(z - z.max())
        return e / e.sum()

    expected = (softmax(np.array([3.0, 0.0])) + softmax(np.array([0.0, 6.0]))) / 2
    np.testing.assert_allclose(predict(model, image)[0], expected, rtol=1e-5)


def test_grad_cam_lights_up_where_the_class_evidence_is(keras):
    """A model whose 'hot dog' logit is the mean of one feature channel, which fires on bright pixels:
    the heat map must peak on the bright patch, and be zero where the channel is silent."""
    import tensorflow as tf

    namespace = {"keras": keras, "tf": tf, "np": np}
    exec(notebook_cell("def grad_cam"), namespace)

    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(2, 1, activation="relu", name="features")
    head = keras.layers.Dense(2, name="head")
    outputs = head(keras.layers.GlobalAveragePooling2D(name="pool")(features(inputs)))
    model = keras.Model(inputs, outputs)
    features.set_weights([np.tile([[1.0, -1.0]], (1, 1, 3, 1)).astype("float32"), np.zeros(2, "float32")])
    head.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])  # logit c = mean of channel c

    images = np.zeros((2, 8, 8, 3), "float32")
    images[0, 1:3, 5:7] = 1.0  # a bright patch, top right
    images[1, 5:8, 0:2] = 2.0  # another, bottom left
    cams = namespace["grad_cam"](model, images)
    assert cams.shape == (2, 8, 8)
    assert cams.min() >= 0.0 and np.isclose(cams.max(), 1.0)
    assert np.unravel_index(cams[0].argmax(), (8, 8)) in {(1, 5), (1, 6), (2, 5), (2, 6)}
    assert cams[1, 5:8, 0:2].min() > 0.99 and cams[1, :5].max() == 0.0


def test_backbone_is_a_parameter_the_runner_accepts():
    """`python -m utils run --full 04 -p BACKBONE=mobilenet_100` is the documented offline command."""
    papermill = pytest.importorskip("papermill")
    assert "BACKBONE" in papermill.inspect_notebook(str(NOTEBOOK))
