"""utils.hub: the model catalogue, the local hub-format export, and the Keras 3 HubLayer (offline, seconds)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
tensorflow_hub = pytest.importorskip("tensorflow_hub")

from utils import backbones, data, hub  # noqa: E402
from utils.hub import HubLayer, export_savedmodel, pick_model  # noqa: E402


def _tiny_model(size=None):
    """A small conv net with batch norm: fine-tuning must move its weights and its statistics."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(4, 3, strides=2),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
    ])


@pytest.fixture(scope="module")
def tiny_handle(tmp_path_factory):
    """A hub-format SavedModel of `_tiny_model`, accepting any image size."""
    return str(export_savedmodel(_tiny_model(), tmp_path_factory.mktemp("hub") / "tiny"))


@pytest.fixture
def stub_backbone(course_env, monkeypatch):
    """`load_backbone` replaced by a tiny model (seconds instead of MobileNet's export); records its calls."""
    monkeypatch.setenv("KERAS_HOME", str(course_env["tmp"] / "keras-home"))
    calls = []

    def load_backbone(name, image_size=None, **kwargs):
        calls.append(name)
        return _tiny_model(), lambda x: x / 127.5 - 1.0  # MobileNet's preprocess_input

    monkeypatch.setattr(backbones, "load_backbone", load_backbone)
    return calls


def _images(n=4, size=32, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 3), dtype=np.float32)


def test_catalogue_is_consistent():
    assert "mobilenet_025" in hub.MODELS and "inception_v3" in hub.MODELS
    handles = [m.handle for m in hub.MODELS.values()]
    assert len(set(handles)) == len(handles), "two names share a handle"
    for m in hub.MODELS.values():
        assert m.image_size >= m.min_size and m.licence
        assert m.is_remote == m.handle.startswith("https://tfhub.dev/")
    assert hub.MODELS["inception_v3"].image_size == 299  # the size the original's text promised
    assert list(hub.catalogue_table().columns) == ["image size", "licence", "notes", "handle"]


def test_export_once_then_load_by_path_like_a_hub_model(stub_backbone, course_env):
    model, size = pick_model("mobilenet_025")
    assert (size, model.handle) == (224, "export:mobilenet_025")
    path = hub.resolve_handle(model)  # no weights anywhere: random weights (smoke mode), exported once
    assert path == str(course_env["cache"] / "hub_models" / "mobilenet_025-random")
    assert hub.resolve_handle(model) == path and stub_backbone == ["mobilenet_025"], "the export is cached"
    module = tensorflow_hub.load(path)
    assert len(module.variables) == 6 and len(module.trainable_variables) == 4
    images = _images(2, 40)
    layer = HubLayer(path)  # the same code path as a tfhub.dev handle
    np.testing.assert_allclose(layer(images), module(images, training=False), rtol=1e-6)
    served = module.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(served["feature_vector"], layer(images), rtol=1e-6)
    for training in (False, True):  # __call__ traced for both values, any image size
        assert module(_images(3, 24), training=training).shape == (3, 4)


def test_real_weights_get_their_own_export(stub_backbone, course_env):
    random_path = hub.export_backbone("mobilenet_025")
    weights = course_env["mirror"] / "keras_home" / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"pretend these are ImageNet weights")
    real_path = hub.export_backbone("mobilenet_025")
    assert real_path != random_path and real_path.name.startswith("mobilenet_025-imagenet-")
    assert stub_backbone == ["mobilenet_025", "mobilenet_025"]
    assert {p.name for p in real_path.parent.iterdir()} == {random_path.name, real_path.name}, "no staging left"


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError) as err:
        pick_model("inception-v3")
    message = str(err.value)
    assert "Unknown MODEL_NAME 'inception-v3'" in message and "Did you mean 'inception_v3'" in message
    assert "mobilenet_025" in message and "efficientnetv2-b0-21k-ft1k" in message


def test_image_size_below_the_model_minimum_is_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"mobilenet_025 needs images of at least 32x32 pixels; got IMAGE_SIZE=16"):
        pick_model("mobilenet_025", 16)
    monkeypatch.setenv("COURSE_OFFLINE", "0")  # pick_model only reads the catalogue: nothing is downloaded
    with pytest.raises(ValueError, match=r"inception_v3 needs images of at least 75x75 pixels; got IMAGE_SIZE=64"):
        pick_model("inception_v3", 64)


def test_fixed_size_module_refuses_other_sizes_clearly(tmp_path):
    handle = str(export_savedmodel(_tiny_model(32), tmp_path / "fixed32", image_size=32))
    keras.Sequential([keras.Input((32, 32, 3)), HubLayer(handle)])  # its own size works
    with pytest.raises(ValueError, match=r"refuses images of shape \(48, 48, 3\): it takes \[None, 32, 32, 3\]"):
        keras.Sequential([keras.Input((48, 48, 3)), HubLayer(handle)])


def test_offline_remote_model_smoke_falls_back_full_stops(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_SMOKE", "1")
    model, size = pick_model("efficientnetv2-b0-21k-ft1k", 96)
    assert (model.name, size) == ("mobilenet_025", 96)
    assert "OFFLINE" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError, match="MODEL_NAME='mobilenet_025'"):
        pick_model("efficientnetv2-b0-21k-ft1k")


def _fit_once(layer, size=32):
    model = keras.Sequential([keras.Input((size, size, 3)), layer, keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(_images(8, size), np.arange(8) % 2, epochs=1, batch_size=8, verbose=0)
    return model


def test_frozen_layer_changes_nothing(tiny_handle):
    layer = HubLayer(tiny_handle, trainable=False)
    before = [w.numpy().copy() for w in layer.weights]
    _fit_once(layer)
    assert not layer.trainable_weights
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, layer.weights))


def test_trainable_layer_fine_tunes_the_module_itself(tiny_handle):
    layer = HubLayer(tiny_handle, trainable=True)
    images = _images()
    module_before = layer._module(images, training=False).numpy()
    before = [w.numpy().copy() for w in layer.weights]
    assert len(layer.trainable_weights) == 4 and len(layer.non_trainable_weights) == 2  # kernel, bias, gamma, beta
    _fit_once(layer)
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, layer.weights)]
    assert all(changed), "every weight, batch-norm statistics included, should move in training mode"
    # the Keras variables are the module's variables: the module itself now computes differently
    assert not np.allclose(layer._module(images, training=False).numpy(), module_before)


def test_keras_round_trip_gives_identical_outputs(tiny_handle, tmp_path):
    layer = HubLayer(tiny_handle, trainable=True)
    model = _fit_once(layer)
    images = _images(6, 40)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.layers[0], HubLayer) and reloaded.layers[0].handle == tiny_handle
    assert reloaded.layers[0].trainable
    np.testing.assert_array_equal(reloaded.predict(images, verbose=0), model.predict(images, verbose=0))


def test_signature_only_model_can_be_used_frozen_only(tmp_path):
    model = _tiny_model(32)
    module = tf.Module()
    module.model = model
    serve = tf.function(lambda images: {"default": model(images)},
                        input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "sig"), signatures={"serving_default": serve})
    frozen = HubLayer(str(tmp_path / "sig"))
    assert frozen(_images()).shape == (4, 4)
    with pytest.raises(ValueError, match="can only be used frozen"):
        keras.Sequential([keras.Input((32, 32, 3)), HubLayer(str(tmp_path / "sig"), trainable=True)])
