"""Notebook 06's own code (its HubLayer, the stratified split, the photo pipeline) and course.hub (the model
catalogue, the local hub-format export the lesson's HubLayer loads offline), offline, in seconds."""

import json
import logging
import random

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
tensorflow_hub = pytest.importorskip("tensorflow_hub")

import notebook_code  # noqa: E402
from local_server import LocalServer, closed_port_url  # noqa: E402
from weights import fake_weights  # noqa: E402

from course import backbones, data, downloads, hub, networks, paths, record  # noqa: E402
from course.hub import export_savedmodel, pick_model  # noqa: E402

REAL_MIRROR = paths.mirror_dir()  # read before `course_env` points COURSE_DATA_DIR at an empty folder


def notebook_functions(marker: str, namespace: dict) -> dict:
    """Run the imports, functions, classes and constants of the lesson's code cell containing `marker`."""
    return notebook_code.notebook_functions("06_hub_transfer_learning", marker, namespace)


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


@pytest.fixture(scope="module")
def lesson_code():
    """The notebook's HubLayer, InferenceMode, split and pipeline, run from its cells (not copies of them)."""
    import tensorflow_hub as hub

    namespace = {"keras": keras, "tf": tf, "np": np, "hub": hub, "IMAGE_SIZE": 8, "BATCH_SIZE": 4,
                 "lesson": record.Run(notebook="06_hub_transfer_learning", seed=42)}
    for marker in ("class HubLayer", "class InferenceMode", "def split_per_class", "def make_batches"):
        notebook_functions(marker, namespace)
    return namespace


@pytest.fixture
def stub_backbone(course_env, monkeypatch):
    """`load_backbone` replaced by a tiny model (seconds instead of MobileNet's export); records its calls."""
    monkeypatch.setenv("KERAS_HOME", str(course_env["tmp"] / "keras-home"))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(course_env["tmp"] / "tfhub"))
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


def test_export_once_then_load_by_path_like_a_hub_model(lesson_code, stub_backbone, course_env):
    model, size = pick_model("mobilenet_025")
    assert (size, model.handle) == (224, "export:mobilenet_025")
    path = hub.resolve_handle(model)  # no weights anywhere: random weights (smoke mode), exported once
    assert path == str(course_env["cache"] / "hub_models" / "mobilenet_025-random")
    assert hub.resolve_handle(model) == path and stub_backbone == ["mobilenet_025"], "the export is cached"
    module = tensorflow_hub.load(path)
    assert len(module.variables) == 6 and len(module.trainable_variables) == 4
    images = _images(2, 40)
    layer = lesson_code["HubLayer"](path)  # the lesson's layer: the same code path as a tfhub.dev handle
    np.testing.assert_allclose(layer(images), module(images, training=False), rtol=1e-6)
    served = module.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(served["feature_vector"], layer(images), rtol=1e-6)
    for training in (False, True):  # __call__ traced for both values, any image size
        assert module(_images(3, 24), training=training).shape == (3, 4)


def test_real_weights_get_their_own_export(stub_backbone, course_env):
    random_path = hub.export_backbone("mobilenet_025")
    weights = course_env["mirror"] / "keras_home" / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    fake_weights(weights)
    real_path = hub.export_backbone("mobilenet_025")
    assert real_path != random_path and real_path.name.startswith("mobilenet_025-imagenet-")
    assert stub_backbone == ["mobilenet_025", "mobilenet_025"]
    assert {p.name for p in real_path.parent.iterdir()} == {random_path.name, real_path.name}, "no staging left"


@pytest.fixture
def unseeded_backbone(stub_backbone, monkeypatch):
    """`load_backbone` building its net the way Keras Applications do: seeds drawn from Python's `random`."""
    def load_backbone(name, image_size=None, **kwargs):
        return keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3),
                                 keras.layers.GlobalAveragePooling2D()]), lambda x: x / 127.5 - 1.0

    monkeypatch.setattr(backbones, "load_backbone", load_backbone)


def _draws():
    return random.random(), float(np.random.random())


def test_exporting_leaves_the_sessions_random_state_as_it_was(unseeded_backbone, course_env):
    # A first run exports, a later run finds the export cached: both must go on drawing the same numbers
    # (06's smoke numbers depended on whether an earlier run had cached the export).
    keras.utils.set_random_seed(7)
    path = hub.export_backbone("mobilenet_025")
    after_exporting = _draws()
    keras.utils.set_random_seed(7)
    assert hub.export_backbone("mobilenet_025") == path  # cached: nothing is built
    assert _draws() == after_exporting


def test_an_exports_random_weights_are_the_same_whoever_made_it(unseeded_backbone, course_env, monkeypatch):
    weights = []
    for seed in (1, 2):
        monkeypatch.setenv("COURSE_CACHE_DIR", str(course_env["tmp"] / f"cache{seed}"))
        keras.utils.set_random_seed(seed)
        weights.append([v.numpy() for v in tensorflow_hub.load(str(hub.export_backbone("mobilenet_025"))).variables])
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)


def test_mobilenet_100_is_exported_like_mobilenet_025_keyed_by_its_weights(stub_backbone, course_env):
    weights = course_env["mirror"] / "keras_home" / "models" / "mobilenet_1_0_224_tf_no_top.h5"
    fake_weights(weights, value=1.0)
    path = hub.resolve_handle(pick_model("mobilenet_100")[0])
    digest = downloads.file_checksum(weights, "sha256")[:12]
    assert path == str(course_env["cache"] / "hub_models" / f"mobilenet_100-imagenet-{digest}")
    fake_weights(weights, value=2.0)  # other weights: another export, never the old one
    assert hub.export_backbone("mobilenet_100").name != path.rsplit("/", 1)[1]
    assert stub_backbone == ["mobilenet_100", "mobilenet_100"]


@pytest.mark.parametrize("damage", ["truncate a file", "no manifest"])
def test_a_damaged_export_is_set_aside_and_made_again(stub_backbone, course_env, capsys, damage):
    path = hub.export_backbone("mobilenet_025")
    victim = next(path.glob("variables/variables.data-*"))
    if damage == "truncate a file":
        victim.write_bytes(victim.read_bytes()[:-10])
    else:  # an export interrupted before its manifest, or made by an older course
        (path / hub.MANIFEST).unlink()
    again = hub.export_backbone("mobilenet_025")
    assert again == path and stub_backbone == ["mobilenet_025", "mobilenet_025"], "exported a second time"
    assert hub.export_problem(again) is None
    assert f"The TF Hub export {path} is damaged" in capsys.readouterr().out
    assert [p for p in path.parent.glob(f"{path.name}.damaged-*") if p.is_dir()], "set aside, not silently deleted"
    assert hub.export_backbone("mobilenet_025") == path and len(stub_backbone) == 2, "a sound export is reused"


def test_an_export_made_under_mixed_precision_computes_in_float32(stub_backbone, course_env):
    """A Colab GPU session exports under mixed_float16; the cached export serves float32 sessions too."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        path = hub.export_backbone("mobilenet_025")
        assert keras.mixed_precision.global_policy().name == "mixed_float16", "the session's policy is restored"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    module = tensorflow_hub.load(str(path))
    graphs = [fn.graph for fn in module.__call__.concrete_functions]
    halves = [op.name for g in graphs for op in g.get_operations() for out in op.outputs if out.dtype == tf.float16]
    assert not halves, f"float16 maths in the export: {halves[:5]}"
    assert all(v.dtype == tf.float32 for v in module.variables)


def test_an_export_in_another_precision_is_made_again(stub_backbone, course_env, capsys):
    path = hub.export_backbone("mobilenet_025")
    manifest = json.loads((path / hub.MANIFEST).read_text())
    (path / hub.MANIFEST).write_text(json.dumps({**manifest, "dtype": "mixed_float16"}))
    assert hub.export_problem(path) == "it computes in mixed_float16, not float32"
    assert hub.export_backbone("mobilenet_025") == path and len(stub_backbone) == 2
    assert "is damaged (it computes in mixed_float16" in capsys.readouterr().out



def test_an_export_writes_no_tensorflow_log_lines_into_the_lesson(stub_backbone, course_env, caplog):
    """A first run of 06 exports the model: its output showed "INFO:tensorflow:Assets written to: ..." twice,
    lines that later runs (cached export) do not print. The export's own message is the one line it says."""
    caplog.set_level(logging.INFO, logger="tensorflow")  # a session where TensorFlow's INFO lines show
    hub.export_backbone("mobilenet_025")
    assert not [r.getMessage() for r in caplog.records if r.name == "tensorflow"]
    assert tf.get_logger().level == logging.INFO, "the session's own log level is given back"

@pytest.mark.slow  # about 10 s: the real 3.2M-parameter network, exported
def test_export_of_the_real_mobilenet_100_matches_the_backbone(lesson_code, course_env, monkeypatch):
    source = REAL_MIRROR / "keras_home" / "models" / "mobilenet_1_0_224_tf_no_top.h5" if REAL_MIRROR else None
    if source is None or not source.is_file():
        pytest.skip("needs the offline mirror's MobileNet 1.0 weights (COURSE_DATA_DIR)")
    monkeypatch.setenv("COURSE_DATA_DIR", str(REAL_MIRROR))
    monkeypatch.setenv("KERAS_HOME", str(course_env["tmp"] / "keras-home"))
    model, size = pick_model("mobilenet_100", 96)
    layer = lesson_code["HubLayer"](hub.resolve_handle(model))
    backbone, preprocess = backbones.load_backbone("mobilenet_100", 96)
    images = _images(2, 96)
    expected = np.asarray(backbone(preprocess(images * 255.0)))
    # float32 keeps 24 bits. Each of MobileNet's 27 convolutions adds up to 1,024 products, in an order that
    # depends on the CPU (its vector width), and so does each sum's rounding: allow sqrt(1,024) roundings per
    # layer, relative to the features' scale (ReLU6: up to 6). That is about 6e-4; two CPUs differed by 1.1e-5.
    atol = 27 * np.sqrt(1024) * np.finfo(np.float32).eps * np.abs(expected).max()
    np.testing.assert_allclose(layer(images), expected, rtol=0, atol=atol)
    # A wrong export still fails: 0.1% more contrast in its preprocessing moves the features 10 times further.
    wrong = np.asarray(backbone(preprocess(images * 255.0 * 1.001)))
    assert np.abs(wrong - expected).max() > 10 * atol


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


@pytest.mark.parametrize("mode, mirror_has, expected", [
    ("full", ["mobilenet_1_0_224_tf_no_top.h5", "mobilenet_2_5_224_tf_no_top.h5"], "mobilenet_100"),
    ("full", ["mobilenet_2_5_224_tf_no_top.h5"], "mobilenet_025"),
    ("smoke", ["mobilenet_2_5_224_tf_no_top.h5", "mobilenet_1_0_224_tf_no_top.h5"], "mobilenet_025"),  # fast first
])
def test_a_model_that_cannot_be_loaded_falls_back_by_what_can(stub_backbone, course_env, monkeypatch, capsys, mode,
                                                              mirror_has, expected):
    monkeypatch.setenv("COURSE_SMOKE", "1" if mode == "smoke" else "0")
    for name in mirror_has:
        fake_weights(course_env["mirror"] / "keras_home" / "models" / name)
    model, size = pick_model("efficientnetv2-b0-21k-ft1k")
    assert (model.name, size) == (expected, hub.MODELS[expected].image_size), "the fallback's own size when none was asked for"
    assert hub.MODELS["mobilenet_100"].image_size == 288 and hub.MODELS["mobilenet_025"].image_size == 224
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"! efficientnetv2-b0-21k-ft1k cannot be loaded here (COURSE_OFFLINE=1: no download tried); "
                   f"using {expected} instead (mirror $COURSE_DATA_DIR/keras_home/models/{mirror_has[0]})."]
    assert record.current().sources["choice:efficientnetv2-b0-21k-ft1k"].startswith(f"{expected} instead")
    assert pick_model("efficientnetv2-b0-21k-ft1k", 96)[1] == 96, "an image size asked for is kept"


def test_nothing_loadable_smoke_uses_random_weights_full_stops(stub_backbone, course_env, monkeypatch, capsys):
    model, size = pick_model("efficientnetv2-b0-21k-ft1k", 96)
    assert (model.name, size) == ("mobilenet_025", 96)
    assert "smoke mode uses the mobilenet_025 export with RANDOM weights" in capsys.readouterr().out
    assert hub.resolve_handle(model).endswith("mobilenet_025-random")
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError, match="python -m course download imagenet:mobilenet_100"):
        pick_model("efficientnetv2-b0-21k-ft1k")


def test_without_network_the_download_fails_fast_and_the_fallback_is_used(stub_backbone, course_env, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "0")  # no flag: decided by trying
    monkeypatch.setitem(hub.MODELS, "remote", hub.HubModel("remote", closed_port_url("/google/model/1"), 224))
    monkeypatch.setattr(networks, "KERAS_WEIGHTS_URL", closed_port_url("/keras-applications/"))
    fake_weights(course_env["mirror"] / "keras_home" / "models" / "mobilenet_2_5_224_tf_no_top.h5")
    assert pick_model("remote")[0].name == "mobilenet_025"
    out = capsys.readouterr().out
    assert "remote cannot be loaded here (it cannot be downloaded (" in out and "refused" in out
    assert "using mobilenet_025 instead" in out


def test_a_remote_model_that_downloads_is_used(lesson_code, stub_backbone, course_env, monkeypatch, tiny_handle):
    """A hub model served over HTTP in TF Hub's compressed format, as tfhub.dev/Kaggle serve it."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf_archive:
        tf_archive.add(tiny_handle, arcname=".")
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    with LocalServer() as server:
        handle = server.add("/google/tiny/1", buffer.getvalue())
        monkeypatch.setitem(hub.MODELS, "tiny", hub.HubModel("tiny", handle, 32))
        model, size = pick_model("tiny")
        assert (model.name, size) == ("tiny", 32) and server.count("/google/tiny/1") == 1
        layer = lesson_code["HubLayer"](hub.resolve_handle(model))  # from TF Hub's cache: no second request
        assert server.count("/google/tiny/1") == 1
    np.testing.assert_allclose(layer(_images(2, 32)), lesson_code["HubLayer"](tiny_handle)(_images(2, 32)), rtol=1e-6)


def _fit_once(layer, size=32):
    model = keras.Sequential([keras.Input((size, size, 3)), layer, keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(_images(8, size), np.arange(8) % 2, epochs=1, batch_size=8, verbose=0)
    return model


# --- the notebook's own code: what a learner takes home ------------------------------------------------------


def test_notebook_hub_layer_frozen_changes_nothing(lesson_code, tiny_handle):
    layer = lesson_code["HubLayer"](tiny_handle)
    before = [w.numpy().copy() for w in layer.weights]
    _fit_once(layer)
    assert not layer.trainable_weights and len(layer.weights) == 6
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, layer.weights)), "a frozen layer trained"


def test_notebook_hub_layer_fine_tunes_the_module_itself(lesson_code, tiny_handle):
    layer = lesson_code["HubLayer"](tiny_handle, trainable=True)
    images = _images()
    module_before = layer.module(images, training=False).numpy()
    before = [w.numpy().copy() for w in layer.weights]
    assert len(layer.trainable_weights) == 4 and len(layer.non_trainable_weights) == 2  # kernel, bias, gamma, beta
    _fit_once(layer)
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, layer.weights)), \
        "trainable and training: every weight, batch-norm statistics included, moves"
    assert not np.allclose(layer.module(images, training=False).numpy(), module_before), \
        "the Keras weights must be the module's own variables"


def test_notebook_inference_mode_fine_tunes_weights_and_keeps_statistics(lesson_code, tiny_handle):
    """Section 6's arrangement: a trainable hub layer inside InferenceMode learns, its batch norm does not."""
    layer = lesson_code["HubLayer"](tiny_handle, trainable=True)
    statistics = [w.numpy().copy() for w in layer.non_trainable_weights]
    weights = [w.numpy().copy() for w in layer.trainable_weights]
    _fit_once(lesson_code["InferenceMode"](layer))
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(statistics, layer.non_trainable_weights))
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(weights, layer.trainable_weights))


def test_notebook_model_reloads_from_its_keras_file(lesson_code, tiny_handle, tmp_path):
    model = _fit_once(lesson_code["InferenceMode"](lesson_code["HubLayer"](tiny_handle, trainable=True)))
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    layer = reloaded.layers[0].layer
    assert type(layer).__name__ == "HubLayer" and layer.handle == tiny_handle and layer.trainable
    images = _images(6, 40)
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_notebook_hub_layer_refuses_a_keras_that_copies_the_variables(lesson_code, tiny_handle, monkeypatch):
    """Keras < 3.10 copied a tf.Variable given to keras.Variable: fine-tuning would then change nothing."""
    wrap = keras.Variable
    monkeypatch.setattr(keras, "Variable", lambda value, **kw: wrap(value.numpy(), **kw))
    with pytest.raises(RuntimeError, match=r"copies the hub model's variables.*pip install 'keras>=3\.10'"):
        lesson_code["HubLayer"](tiny_handle, trainable=True)


def _split(lesson_code, sizes, fraction=0.2, seed=0, per_class=None):
    names = [f"class{i}" for i in range(len(sizes))]
    files = [f"{name}/{j}.jpg" for name, n in zip(names, sizes) for j in range(n)]
    labels = [i for i, n in enumerate(sizes) for _ in range(n)]
    return lesson_code["split_per_class"](files, labels, names, fraction, seed, per_class)


def test_notebook_split_is_stratified_complete_and_seeded(lesson_code):
    train, val = _split(lesson_code, [10, 7, 3, 5])
    assert np.bincount([y for _, y in val]).tolist() == [2, 1, 1, 1]  # 20% of each class, rounded
    assert np.bincount([y for _, y in train]).tolist() == [8, 6, 2, 4]
    files = [f for f, _ in train + val]
    assert len(set(files)) == len(files) == 25, "every photo once, on one side"
    assert all(f.startswith(f"class{y}/") for f, y in train + val), "labels follow their files"
    assert _split(lesson_code, [10, 7, 3, 5]) == (train, val), "the same seed splits the same way"
    assert _split(lesson_code, [10, 7, 3, 5], seed=1) != (train, val)
    train, val = _split(lesson_code, [10, 7], per_class=4)
    assert np.bincount([y for _, y in train + val]).tolist() == [4, 4]


@pytest.mark.parametrize("photos, fraction, works", [(2, 0.2, False), (3, 0.2, True), (5, 0.2, True),
                                                     (2, 0.5, True), (1, 0.5, False), (5, 0.9, False)])
def test_notebook_split_of_tiny_classes_works_or_names_the_class_and_the_fix(lesson_code, photos, fraction, works):
    if works:
        train, val = _split(lesson_code, [photos, 8], fraction)
        assert min(np.bincount([y for _, y in train])) >= 1 and min(np.bincount([y for _, y in val])) >= 1
        return
    with pytest.raises(ValueError) as err:
        _split(lesson_code, [photos, 8], fraction)
    message = str(err.value)
    assert f"VALIDATION_SPLIT={fraction}" in message and f"'class0' ({photos} photos)" in message
    assert "class1" not in message, "only the classes that are too small are named"
    need = {0.2: 3, 0.5: 2, 0.9: 6}[fraction]
    assert f"at least {need} photos" in message
    assert ("VALIDATION_SPLIT = 0.5" in message) == (photos >= 2), "0.5 is offered where it works"
    if photos >= 2:
        _split(lesson_code, [photos, 8], 0.5)  # and it does work


def test_notebook_split_names_images_per_class_when_that_is_the_cause(lesson_code):
    with pytest.raises(ValueError, match=r"set IMAGES_PER_CLASS to 3 or more, or None"):
        _split(lesson_code, [10, 10], per_class=2)


def test_notebook_pipeline_reads_exactly_the_checked_photos_cropped(lesson_code, tmp_path):
    from PIL import Image

    from course import images

    def photo(path, colours, fmt="JPEG"):  # vertical stripes of colours, 4 pixels wide each, 4 high
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.new("RGB", (4 * len(colours), 4))
        for i, colour in enumerate(colours):
            image.paste(colour, (4 * i, 0, 4 * i + 4, 4))
        image.save(path, format=fmt, **({"quality": 100} if fmt == "JPEG" else {"lossless": True}))

    root = tmp_path / "photos"
    photo(root / "cats" / "a.jpg", [(0, 0, 250), (250, 0, 0), (0, 250, 0)])  # red in the middle: the square kept
    photo(root / "cats" / "2019" / "a.jpg", [(250, 0, 0)])  # the same name in a sub-folder
    photo(root / "dogs" / "b.webp", [(0, 0, 250)], fmt="WEBP")  # read by TF; image_dataset_from_directory skips it
    (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8 cut short")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._a.jpg").write_bytes(b"resource fork")
    folder = images.scan_image_folder(root, skip_bad=True)
    pairs = list(zip(folder.files, folder.labels))
    batches = list(lesson_code["make_batches"](pairs, shuffle=False, size=4))
    pixels = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert pixels.shape == (3, 4, 4, 3) and pixels.dtype == np.float32 and labels.tolist() == folder.labels
    assert [int(np.argmax(p.mean(axis=(0, 1)))) for p in pixels] == [0, 0, 2], "red cats (centre crops), a blue dog"
    assert pixels[0, ..., 0].min() > 200, "only the centred square of the striped photo is kept"
