"""What notebook 04 (hot dog fine-tuning) relies on: finding backbone weights offline, its clear stop when
ResNet50's weights are missing, and its Grad-CAM function."""

import json

import numpy as np
import pytest

from utils import backbones, data, env
from weights import fake_weights

NOTEBOOK = env.REPO_ROOT / "notebooks" / "04_hotdog_fine_tuning.ipynb"


def notebook_cell(marker: str) -> str:
    """Source of the notebook's first code cell that contains `marker`."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code" and marker in "".join(c["source"]))


@pytest.fixture
def no_weights(course_env, monkeypatch, tmp_path):
    """An empty mirror and an empty Keras home: no ImageNet weights anywhere, offline."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return course_env


def put_weights(mirror, name):
    path = mirror / "keras_home" / "models" / backbones.BACKBONES[name].weights_file
    fake_weights(path)  # a sound HDF5 weights file: the course reads every weights file it finds
    return path


def test_missing_weights_in_full_mode_are_a_clear_error(no_weights, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError) as err:
        backbones.find_weights("resnet50")
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in str(err.value)
    assert "mobilenet_025" in str(err.value)


def test_missing_weights_in_smoke_mode_mean_random_weights(no_weights):
    weights, where = backbones.find_weights("resnet50")
    assert weights is None and "RANDOM" in where


def test_weights_in_the_mirror_are_found(no_weights):
    path = put_weights(no_weights["mirror"], "mobilenet_025")
    weights, where = backbones.find_weights("mobilenet_025")
    assert weights == str(path)
    # results tables name the mirror relative to $COURSE_DATA_DIR, never by this machine's path
    assert where == "ImageNet weights, mirror $COURSE_DATA_DIR/keras_home/models/" + path.name


def test_notebook_stops_with_the_mirror_command_when_resnet50_weights_are_missing(no_weights, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    import utils

    namespace = {"utils": utils, "backbones": backbones, "BACKBONE": "resnet50", "IMAGE_SIZE": 224}
    with pytest.raises(SystemExit) as stop:  # IPython shows a SystemExit as its message, without a traceback
        exec(notebook_cell("find_weights"), namespace)
    message = str(stop.value)
    assert message.startswith("BACKBONE='resnet50' has no ImageNet weights here")
    assert "python -m utils run --full 04 -p BACKBONE=mobilenet_025" in message


def test_notebook_goes_on_when_the_weights_are_there(no_weights, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    put_weights(no_weights["mirror"], "mobilenet_025")
    import utils

    exec(notebook_cell("find_weights"), {"utils": utils, "backbones": backbones, "BACKBONE": "mobilenet_025",
                                         "IMAGE_SIZE": 224})
    assert "ImageNet weights, mirror" in capsys.readouterr().out


def test_grad_cam_lights_up_where_the_class_evidence_is():
    """A model whose 'hot dog' logit is the mean of one feature channel, which fires on bright pixels:
    the heat map must peak on the bright patch, and be zero where the channel is silent."""
    keras = pytest.importorskip("keras")
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
    """`python -m utils run --full 04 -p BACKBONE=mobilenet_025` is the documented offline command."""
    papermill = pytest.importorskip("papermill")
    assert "BACKBONE" in papermill.inspect_notebook(str(NOTEBOOK))
