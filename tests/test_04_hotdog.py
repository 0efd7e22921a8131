"""What notebook 04 (hot dog fine-tuning) relies on: its networks chosen by what can be had (utils.choose_backbone)
and built in the lesson from its table of keras.applications constructors (the complete ImageNet classifier with
the weights file utils.imagenet_weights finds), the original's generators over the checked files, and the
functions its lesson is built on (the photo pipeline, the inverse of preprocess_input, stateless augmentation,
the original's head, BatchNorm frozen while fine-tuning, Wilson's interval, BatchNorm recalibration, flip
averaging, Grad-CAM, two learning rates under mixed precision)."""

import json
import types

import notebook_code
import numpy as np
import pytest
from weights import fake_weights

from course import backbones, data, params, paths, record

NOTEBOOK = paths.REPO_ROOT / "notebooks" / "04_hotdog_fine_tuning.ipynb"


def notebook_cell(marker: str) -> str:
    """Source of the lesson's first code cell that contains `marker`."""
    return notebook_code.code_cell("04_hotdog_fine_tuning", marker)


def notebook_functions(marker: str, namespace: dict) -> dict:
    """Run the imports, functions, classes and constants of the lesson's code cell containing `marker`."""
    return notebook_code.notebook_functions("04_hotdog_fine_tuning", marker, namespace)


def networks_table(keras) -> dict:
    """The notebook's NETWORKS: name -> (keras.applications constructor, preprocess_input)."""
    namespace = {"keras": keras, "functools": __import__("functools")}
    exec(notebook_cell("NETWORKS = {"), namespace)
    return namespace["NETWORKS"]


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


# --- the networks, chosen by what can be had (utils.choose_backbone), built in the lesson ---------------------


def parameters() -> dict:
    """The notebook's parameters cell, run: its values."""
    namespace = {}
    exec(next("".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
              if "parameters" in c["metadata"].get("tags", [])), namespace)
    return {k: v for k, v in namespace.items() if k.isupper()}


def run_check_cell(capsys, **overrides):
    import utils

    namespace = {"utils": utils, **parameters(), **overrides}
    exec(notebook_cell("utils.choose_backbone(BACKBONE)"), namespace)
    return namespace, capsys.readouterr().out


def test_check_cell_checks_the_parameters_first(no_weights, capsys):

    with pytest.raises(params.ParameterError, match="IMAGE_SIZE"):
        run_check_cell(capsys, IMAGE_SIZE=-3)


def test_resnet50_falls_back_to_mobilenet_100_with_and_without_its_top_on_the_mirror(no_weights, monkeypatch,
                                                                                     capsys):
    """`python -m course run --full 04` on the mirror: no -p, the original's ResNet50 is replaced, announced once,
    and the classifier is the same network with its top."""
    monkeypatch.setenv("COURSE_SMOKE", "0")
    assert parameters()["BACKBONE"] == "resnet50"
    mirror = no_weights["mirror"]
    put_weights(mirror, "mobilenet_100")
    put_file(mirror, backbones.BACKBONES["mobilenet_100"].top_file)
    namespace, out = run_check_cell(capsys)
    assert namespace["BACKBONE"] == "mobilenet_100" and namespace["CLASSIFIER"] == "mobilenet_100"
    assert "resnet50's ImageNet weights cannot be had here" in out
    assert "fine-tuning: mobilenet_100; the original's complete ImageNet classifier: mobilenet_100" in out
    assert record.current().sources["choice:resnet50"].startswith("mobilenet_100 instead")  # in build/results.json


def test_the_classifier_may_come_from_another_network_than_the_backbone(no_weights, monkeypatch, capsys):
    """The mirror has MobileNet 0.25 without its top only: the original's classifier is MobileNet 1.0's."""
    mirror = no_weights["mirror"]
    put_weights(mirror, "mobilenet_025")
    put_file(mirror, backbones.BACKBONES["mobilenet_100"].top_file)
    namespace, _ = run_check_cell(capsys, BACKBONE="mobilenet_025", IMAGE_SIZE=96)
    assert namespace["BACKBONE"] == "mobilenet_025" and namespace["CLASSIFIER"] == "mobilenet_100"


def test_no_weights_at_all_stop_a_full_run_with_the_fix(no_weights, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError, match="python -m course download"):
        run_check_cell(capsys)


def test_no_weights_at_all_in_smoke_mode_mean_announced_random_weights(no_weights, capsys):
    namespace, out = run_check_cell(capsys, BACKBONE="mobilenet_025", IMAGE_SIZE=96)
    assert namespace["BACKBONE"] == "mobilenet_025" == namespace["CLASSIFIER"]
    assert "RANDOM weights" in out


def run_classifier_cell(capsys, networks, image_size=32):
    import utils

    namespace = {"utils": utils, "IMAGE_SIZE": image_size, "CLASSIFIER": "mobilenet_025", "NETWORKS": networks}
    exec(notebook_cell("make_classifier(include_top=True"), namespace)
    return namespace, capsys.readouterr().out


def test_every_backbone_the_lesson_accepts_has_a_constructor_and_its_preprocess_input(keras):
    """The parameter check offers exactly the networks the lesson's table can build."""
    from course import params

    table = networks_table(keras)
    assert set(params.spec_for("BACKBONE", "04_hotdog_fine_tuning").options()) == set(table)
    assert table["resnet50"] == (keras.applications.ResNet50, keras.applications.resnet50.preprocess_input)
    assert table["mobilenet_100"][0].keywords == {"alpha": 1.0}
    assert table["mobilenet_025"][0].keywords == {"alpha": 0.25}


def test_a_classifier_with_random_weights_is_announced_and_not_taken_for_the_real_one(no_weights, capsys, keras):
    namespace, out = run_classifier_cell(capsys, networks_table(keras))
    assert namespace["REAL_TOP"] is False
    assert namespace["classifier"].output_shape == (None, 1000)
    assert "RANDOM weights" in out and "the real ImageNet classifier" not in out


def test_the_classifier_is_built_in_the_lesson_with_the_weights_file_utils_found(no_weights, monkeypatch, capsys):
    """include_top=True, the file utils.imagenet_weights returned as weights=, the lesson's image size; and a file
    found means the real classifier."""
    import utils

    calls = []

    def constructor(**kwargs):
        calls.append(kwargs)
        return types.SimpleNamespace(name="net", count_params=lambda: 1)

    monkeypatch.setattr(utils, "imagenet_weights", lambda name, include_top=False: f"/found/{name}-{include_top}.h5")
    namespace, out = run_classifier_cell(capsys, {"mobilenet_025": (constructor, None)}, image_size=96)
    assert calls == [{"include_top": True, "weights": "/found/mobilenet_025-True.h5", "input_shape": (96, 96, 3)}]
    assert namespace["REAL_TOP"] is True and "the real ImageNet classifier" in out


def test_the_original_reads_the_checked_files_not_the_folder_again():
    """flow_from_dataframe(folder.dataframe(), ...), never flow_from_directory (which rereads bad files)."""
    code = "\n".join(notebook_cell(marker) for marker in ("net.fit(", "def original_setup"))
    assert "flow_from_directory" not in code
    assert code.count("flow_from_dataframe(") == 3 and "folder.dataframe()" in code


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


def test_first_per_class_keeps_the_first_photos_of_each_class_in_folder_order():
    first = notebook_functions("def first_per_class", {"np": np})["first_per_class"]
    folder = types.SimpleNamespace(files=[f"f{i}" for i in range(7)], labels=[0, 1, 0, 0, 1, 1, 0], class_names=["a", "b"])
    files, labels = first(folder, 2)
    assert files == ["f0", "f1", "f2", "f4"] and labels.tolist() == [0, 1, 0, 1]
    files, labels = first(folder, None)
    assert files == folder.files and labels.tolist() == folder.labels


def test_the_photo_pipeline_decodes_resizes_and_batches_in_file_order(keras, tmp_path):
    import tensorflow as tf
    from PIL import Image

    files = []
    for i, size in enumerate([(20, 30), (40, 10), (16, 16)]):
        path = tmp_path / f"{i}.{'png' if i == 1 else 'jpg'}"
        Image.new("RGB", size, (10 * i, 100, 200)).save(path)
        files.append(str(path))
    ns = notebook_functions("def photo_dataset", {"tf": tf, "np": np, "IMAGE_SIZE": 8})
    dataset = ns["photo_dataset"](files, [0, 1, 0], batch_size=2)
    photos, labels = ns["to_arrays"](dataset)
    assert photos.shape == (3, 8, 8, 3) and photos.dtype == np.float32 and labels.tolist() == [0, 1, 0]
    np.testing.assert_allclose(photos[:, 4, 4, 1], 100, atol=2)  # RGB order, 0-255
    assert [len(x) for x, _ in dataset] == [2, 1]
    x, = [b.numpy() for b in ns["batches"](photos, batch_size=5)]
    np.testing.assert_array_equal(x, photos)


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
    # a few photos at a time (memory): the mean is the photos' mean, the variance the average within-batch one
    namespace["recalibrate_batchnorm"](model, base, images, batch_size=4)
    batches = [images[:4], images[4:8], images[8:]]
    np.testing.assert_allclose(bn.moving_mean.numpy(), images.mean(axis=(0, 1, 2)), rtol=1e-5)
    within = sum(len(b) * b.var(axis=(0, 1, 2)) for b in batches) / len(images)
    np.testing.assert_allclose(bn.moving_variance.numpy(), within, rtol=1e-4)
    assert bn.momentum == 0.99


def test_phase_2_keeps_the_backbones_batchnorm_statistics_while_its_top_learns(keras):
    """Keras 3's fit overrides training=False in the graph (keras-team/keras#20285): the notebook freezes every
    BatchNorm layer instead. The statistics must not move, the unfrozen convolutions must learn, and the layers
    below the first trainable one must stay as they were."""
    namespace = notebook_functions("def unfreeze_top", {"keras": keras, "np": np})
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    x = inputs
    for i in range(2):
        x = keras.layers.Conv2D(4, 3, padding="same", name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
    base = keras.Model(inputs, x, name="base")
    outer_in = keras.Input((6, 6, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base(outer_in, training=False))
    model = keras.Model(outer_in, keras.layers.Dense(2)(pooled))
    base.trainable = False
    namespace["unfreeze_top"](base, 3)  # from conv1 on
    assert [layer.name for layer in base.layers if layer.trainable] == ["conv1"]
    before = namespace["moving_statistics"](base)
    kernels = {n: base.get_layer(n).kernel.numpy().copy() for n in ("conv0", "conv1")}
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images = np.random.default_rng(0).normal(3.0, 2.0, (16, 6, 6, 3)).astype("float32")
    model.fit(images, np.arange(16) % 2, epochs=2, batch_size=4, verbose=0)
    after = namespace["moving_statistics"](base)
    assert len(before) == 2 and all(np.array_equal(a, b) for a, b in zip(before, after)), "statistics moved"
    np.testing.assert_array_equal(kernels["conv0"], base.get_layer("conv0").kernel.numpy())
    assert not np.allclose(kernels["conv1"], base.get_layer("conv1").kernel.numpy()), "the top must learn"


def test_flip_averaging_averages_the_probabilities_of_a_photo_and_its_mirror_image(keras):
    import tensorflow as tf

    namespace = notebook_functions("def batches", {"tf": tf, "np": np})
    predict = notebook_functions("def predict_flip_averaged", {"keras": keras, "np": np, **namespace})["predict_flip_averaged"]
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


def test_two_learning_rates_scale_the_loss_under_mixed_precision(keras):
    """Solution 5's custom train_step: under mixed_float16 it must update the weights as in float32. Each optimizer
    gets the gradients of a loss scaled by its own loss scale and unscales them; a train_step that skipped
    `scale_loss` while compile wrapped Adam in a LossScaleOptimizer would divide the body's gradients by 2**15,
    and Adam's epsilon would then shrink the body's steps."""
    import tensorflow as tf

    namespace = notebook_functions("class TwoLearningRates", {"keras": keras, "tf": tf, "np": np})
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32") * 1e-3  # small inputs: small gradients
    y = np.arange(8) % 2

    def one_step(policy):
        keras.mixed_precision.set_global_policy(policy)
        try:
            keras.utils.set_random_seed(0)
            inputs = keras.Input((4,))
            hidden = keras.layers.Dense(3, name="body")(inputs)
            model = namespace["TwoLearningRates"](inputs, keras.layers.Dense(2, dtype="float32", name="head")(hidden),
                                                  factor=10.0)
            model.compile(1e-3, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.head_optimizer.build(model.get_layer("head").trainable_variables)
            before = {v.path: v.numpy().copy() for v in model.trainable_variables}
            model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
            return {v.path: v.numpy() - before[v.path] for v in model.trainable_variables}, model
        finally:
            keras.mixed_precision.set_global_policy("float32")

    full, _ = one_step("float32")
    mixed, model = one_step("mixed_float16")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.head_optimizer, keras.optimizers.LossScaleOptimizer)
    assert set(full) == set(mixed) and any("body" in p for p in full) and any("head" in p for p in full)
    for path in full:
        np.testing.assert_allclose(mixed[path], full[path], rtol=0.05, atol=1e-6, err_msg=path)
    body_step = np.abs(full["body/kernel"]).mean()
    head_step = np.abs(full["head/kernel"]).mean()
    assert 0.5e-3 < body_step <= 1.01e-3 and 5e-3 < head_step <= 1.01e-2, "Adam's first step: lr, and 10x lr for the head"


def test_backbone_is_a_parameter_the_runner_accepts():
    """`python -m course run --full 04 -p BACKBONE=mobilenet_100` is the documented offline command."""
    papermill = pytest.importorskip("papermill")
    assert "BACKBONE" in papermill.inspect_notebook(str(NOTEBOOK))
