"""ImageNet networks chosen by what can be had: mirror, Keras' cache, a download, else a fallback.

Weights are judged as files here (`weights.fake_weights`: Keras' HDF5 layout, seconds); the tests that
build a network from a file use the offline mirror's real MobileNet files when `COURSE_DATA_DIR` has
them, or a file written here from a randomly initialised network. Downloads go to 127.0.0.1 only.
"""

import hashlib

import numpy as np
import pytest
from local_server import LocalServer, closed_port_url
from weights import fake_weights, real_weights, truncate

from course import backbones, data, networks, paths, record

REAL_MIRROR = paths.mirror_dir()  # read before `course_env` points COURSE_DATA_DIR at an empty folder


def _real(rel):
    path = REAL_MIRROR / "keras_home" / "models" / rel if REAL_MIRROR else None
    if path is None or not path.is_file():
        pytest.skip(f"needs the offline mirror's keras_home/models/{rel} (COURSE_DATA_DIR)")
    return path


@pytest.fixture
def nets(course_env, monkeypatch):
    """Empty mirror, cache and Keras home; offline, smoke; nothing warned or checked yet."""
    home = course_env["tmp"] / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))

    course_env["models"] = course_env["mirror"] / "keras_home" / "models"
    course_env["keras_models"] = home / "models"
    return course_env


def test_the_preferred_network_is_kept_when_its_weights_are_here(nets, capsys):
    fake_weights(nets["models"] / "mobilenet_1_0_224_tf_no_top.h5")
    assert backbones.choose_backbone("mobilenet_100") == "mobilenet_100"
    assert capsys.readouterr().out == "" and "choice:mobilenet_100" not in record.current().sources


def test_a_file_keras_publishes_a_hash_for_must_match_it(nets, capsys):
    fake_weights(nets["models"] / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")  # not Keras' bytes
    fake_weights(nets["models"] / "mobilenet_2_5_224_tf_no_top.h5")
    assert backbones.choose_backbone("resnet50") == "mobilenet_025"
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 is damaged (md5 " in capsys.readouterr().out


@pytest.mark.parametrize("mode, present, expected", [
    ("full", ["mobilenet_1_0_224_tf_no_top.h5", "mobilenet_2_5_224_tf_no_top.h5"], "mobilenet_100"),
    ("full", ["mobilenet_2_5_224_tf_no_top.h5"], "mobilenet_025"),
    ("smoke", ["mobilenet_1_0_224_tf_no_top.h5", "mobilenet_2_5_224_tf_no_top.h5"], "mobilenet_025"),  # fast first
    ("smoke", ["mobilenet_1_0_224_tf_no_top.h5"], "mobilenet_100"),
])
def test_a_missing_network_falls_back_in_order_said_once_and_recorded(nets, monkeypatch, capsys, mode, present, expected):
    monkeypatch.setenv("COURSE_SMOKE", "1" if mode == "smoke" else "0")
    for name in present:
        fake_weights(nets["models"] / name)
    assert backbones.choose_backbone("resnet50") == expected
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    assert out[0].startswith("! resnet50's ImageNet weights cannot be had here (not in the mirror or Keras' cache")
    assert f"COURSE_OFFLINE=1: no download tried); using {expected} instead (mirror $COURSE_DATA_DIR/keras_home" in out[0]
    assert record.current().sources["choice:resnet50"].startswith(f"{expected} instead: resnet50's weights cannot be had")


def test_the_fallback_is_decided_by_a_failing_download_not_by_a_flag(nets, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "0")  # a newcomer's laptop: no flag, and no network
    monkeypatch.setattr(networks, "KERAS_WEIGHTS_URL", closed_port_url("/keras-applications/"))
    fake_weights(nets["models"] / "mobilenet_1_0_224_tf_no_top.h5")
    assert backbones.choose_backbone("vgg19") == "mobilenet_100"
    out = capsys.readouterr().out
    assert "vgg19's ImageNet weights cannot be had here" in out and "the download failed (<urlopen error" in out
    assert "refused" in record.current().sources["choice:vgg19"]


def test_weights_that_download_are_used_and_kept_in_keras_cache(nets, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    payload = fake_weights(n=20_000)
    with LocalServer() as server:
        path = "/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        server.add(path, payload)
        monkeypatch.setattr(networks, "KERAS_WEIGHTS_URL", server.url("/keras-applications/"))
        spec = networks.BACKBONES["resnet50"]
        monkeypatch.setitem(networks.BACKBONES, "resnet50", networks.Backbone(
            **{**spec.__dict__, "md5": hashlib.md5(payload).hexdigest()}))  # the served file is "Keras' file"
        assert backbones.choose_backbone("resnet50") == "resnet50"
        weights, where = backbones.find_weights("resnet50")
        assert weights == str(nets["keras_models"] / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
        assert where == "ImageNet weights, cache $KERAS_HOME/models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        assert server.count(path) == 1, "found in Keras' cache the second time"
        # Keras' cache damaged later (a Colab restart during a download): set aside, downloaded again
        truncate(nets["keras_models"] / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
        capsys.readouterr()
        assert backbones.find_weights("resnet50")[1].startswith("ImageNet weights, downloaded to")
        assert "was damaged (md5" in capsys.readouterr().out and server.count(path) == 2
        kept, aside = sorted(p.name for p in nets["keras_models"].iterdir())
        assert kept == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        assert aside.startswith(f"{kept}.damaged-"), "the damaged copy is set aside, not deleted"


def test_a_damaged_mirror_file_is_named_with_its_fix_and_skipped(nets, capsys):
    damaged = nets["models"] / "mobilenet_1_0_224_tf_no_top.h5"
    fake_weights(damaged)
    truncate(damaged)
    fake_weights(nets["models"] / "mobilenet_2_5_224_tf_no_top.h5")
    assert backbones.choose_backbone("mobilenet_100") == "mobilenet_025"
    out = capsys.readouterr().out
    assert "$COURSE_DATA_DIR/keras_home/models/mobilenet_1_0_224_tf_no_top.h5 is damaged (HDF5 cannot read it" in out
    assert "python -m course download imagenet:mobilenet_100 --to $COURSE_DATA_DIR" in out
    assert damaged.exists(), "the mirror is the instructor's: never moved or deleted"
    backbones.choose_backbone("mobilenet_100")
    assert "Fix: copy it again" not in capsys.readouterr().out, "the warning with its fix is said once"


def test_a_damaged_cache_file_without_a_keras_hash_is_set_aside(nets, capsys):
    cached = nets["keras_models"] / "mobilenet_2_5_224_tf_no_top.h5"
    fake_weights(cached)
    truncate(cached, 0.9)
    weights, where = backbones.find_weights("mobilenet_025")
    assert weights is None and where.startswith("RANDOM weights (stand-in: no ImageNet weights here: Keras' cached "
                                                "copy was damaged (HDF5 cannot read it")
    assert not cached.exists() and list(cached.parent.glob(f"{cached.name}.damaged-*")), "set aside, not deleted"
    assert "was damaged (HDF5 cannot read it" in capsys.readouterr().out


@pytest.mark.parametrize("include_top", [False, True])
def test_nothing_at_all_smoke_uses_random_weights_full_names_the_fix(nets, monkeypatch, capsys, include_top):
    assert backbones.choose_backbone("resnet50", include_top=include_top) == "mobilenet_025"
    out = capsys.readouterr().out
    assert "nor for mobilenet_025, mobilenet_100: smoke mode uses mobilenet_025 with RANDOM weights" in out
    key = "choice:resnet50" + (":top" if include_top else "")
    assert record.current().sources[key].startswith("mobilenet_025 with RANDOM weights instead")
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError) as err:
        backbones.choose_backbone("resnet50", include_top=include_top)
    fix = "imagenet_top:mobilenet_100" if include_top else "imagenet:mobilenet_100"
    assert f"python -m course download {fix}" in str(err.value) and "COURSE_DATA_DIR" in str(err.value)
    with pytest.raises(data.DataUnavailableError, match="python -m course download imagenet:resnet50"):
        backbones.find_weights("resnet50")


def test_include_top_looks_for_the_classifier_file(nets, capsys):
    fake_weights(nets["models"] / "mobilenet_1_0_224_tf_no_top.h5")
    assert backbones.choose_backbone("mobilenet_100", include_top=True) == "mobilenet_025", "no top file: random"
    fake_weights(nets["models"] / "mobilenet_1_0_224_tf.h5")
    capsys.readouterr()
    assert backbones.choose_backbone("resnet50", include_top=True) == "mobilenet_100"
    assert "resnet50's ImageNet weights with its ImageNet top cannot be had" in capsys.readouterr().out
    assert backbones.weights_file("resnet50", True).file == "resnet50_weights_tf_dim_ordering_tf_kernels.h5"


def test_weights_file_checks():
    assert backbones.weights_file("vgg19").url == (
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert backbones.weights_file("mobilenet_100", include_top=True).md5 is None  # Keras has no hash for MobileNet


def test_check_weights_file_names_the_problem(tmp_path):
    good = tmp_path / "good.h5"
    fake_weights(good)
    assert backbones.check_weights_file(good) is None
    assert backbones.check_weights_file(good, hashlib.md5(good.read_bytes()).hexdigest()) is None
    assert backbones.check_weights_file(good, "0" * 32).startswith("md5 ")
    (tmp_path / "empty.h5").write_bytes(b"")
    assert backbones.check_weights_file(tmp_path / "empty.h5") == "it is empty"
    (tmp_path / "page.h5").write_bytes(b"<html>503</html>")
    assert "file signature not found" in backbones.check_weights_file(tmp_path / "page.h5")
    cut = tmp_path / "cut.h5"
    fake_weights(cut)
    truncate(cut, 0.95)
    assert "truncated file" in backbones.check_weights_file(cut)


def test_a_found_mobilenet_file_loads_at_any_size(nets):
    """Keras would ask for mobilenet_2_5_128_tf_no_top.h5 at 128 rows; the course loads the 224 file by path."""
    import keras

    try:
        source = _real("mobilenet_2_5_224_tf_no_top.h5")
        (nets["models"]).mkdir(parents=True)
        (nets["models"] / source.name).write_bytes(source.read_bytes())
    except pytest.skip.Exception:
        model = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=0.25, include_top=False, weights=None)
        real_weights(model, nets["models"] / "mobilenet_2_5_224_tf_no_top.h5")
    model, preprocess = backbones.load_backbone("mobilenet_025", 128)
    assert model.input_shape == (None, 128, 128, 3) and model.output_shape == (None, 256)
    assert record.current().sources["imagenet:mobilenet_025"] == (
        "ImageNet weights, mirror $COURSE_DATA_DIR/keras_home/models/mobilenet_2_5_224_tf_no_top.h5")
    import h5py

    with h5py.File(nets["models"] / "mobilenet_2_5_224_tf_no_top.h5") as f:
        stored = f["conv1"][f["conv1"].attrs["weight_names"][0]][()]
    np.testing.assert_array_equal(model.get_layer("conv1").kernel.numpy(), stored)


def test_the_real_imagenet_classifier_and_class_names_work_offline(nets):
    top = _real("mobilenet_1_0_224_tf.h5")
    index = _real("imagenet_class_index.json")
    nets["models"].mkdir(parents=True)
    for source in (top, index):
        (nets["models"] / source.name).write_bytes(source.read_bytes())
    photos = sorted((REAL_MIRROR / "flower_photos" / "daisy").glob("*.jpg"))[:6] if REAL_MIRROR else []
    if len(photos) < 6:
        pytest.skip("needs the mirror's daisy photos")
    import keras
    from PIL import Image

    # Built the way lesson 04 builds it: keras.applications with the weights file the course found.
    weights = backbones.imagenet_weights("mobilenet_100", include_top=True)
    classifier = keras.applications.MobileNet(include_top=True, weights=weights, input_shape=(160, 160, 3))
    preprocess = keras.applications.mobilenet.preprocess_input  # 160: Keras alone would look for another file
    images = np.stack([np.asarray(Image.open(p).convert("RGB").resize((160, 160)), np.float32) for p in photos])
    decoded = backbones.decode_predictions(classifier.predict(preprocess(images), verbose=0), top=5)
    assert all(len(top5) == 5 and top5[0][2] >= top5[-1][2] for top5 in decoded)
    top1 = [top5[0][:2] for top5 in decoded]
    assert top1.count(("n11939491", "daisy")) >= 5, top1  # ImageNet has a daisy class; random weights: never
    assert record.current().sources["imagenet:class_index"].startswith("real, mirror")


def test_class_names_stand_in_in_smoke_mode_and_stop_full_mode(nets, monkeypatch, capsys):
    names = backbones.decode_predictions(np.eye(1000)[[3]], top=2)[0]
    assert names[0] == ("n00000003", "class_3", 1.0)
    assert "STAND-IN ImageNet class names" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataUnavailableError, match="python -m course download imagenet:class_index"):
        backbones.imagenet_class_index()
    with pytest.raises(ValueError, match=r"shape \(batch, 1000\)"):
        backbones.decode_predictions(np.zeros((2, 10)))


# --- a weights file is judged by what it holds, not by its name (held-back cause 2) ---------------------------


@pytest.mark.parametrize("saved_as, holds", [
    ("mobilenet_2_5_224_tf_no_top.h5", "mobilenet_1_0_224_tf_no_top.h5"),    # alpha 1.0 under 0.25's name
    ("mobilenet_1_0_224_tf_no_top.h5", "mobilenet_1_0_224_tf.h5"),           # the classifier under the headless name
    ("mobilenet_1_0_224_tf.h5", "mobilenet_2_5_224_tf_no_top.h5"),
    ("mobilenet_1_0_224_tf_no_top.h5", "some_other_model.h5"),                # not an ImageNet backbone at all
])
def test_another_networks_weights_under_this_name_are_named_and_never_loaded(nets, capsys, saved_as, holds):
    path = nets["models"] / saved_as
    fake_weights(path, file=holds)
    name = next(n for n, spec in backbones.BACKBONES.items() if saved_as in (spec.weights_file, spec.top_file))
    include_top = saved_as == backbones.BACKBONES[name].top_file
    found, where = backbones.search(backbones.weights_file(name, include_top))
    assert found is None and "it holds another network's weights" in where
    out = capsys.readouterr().out
    assert "is damaged (it holds another network's weights" in out and "is not used" in out


def test_the_real_mirror_files_are_the_networks_they_are_named_for():
    from pathlib import Path

    models = Path(REAL_MIRROR or "/nonexistent") / "keras_home" / "models"
    files = {("mobilenet_025", False), ("mobilenet_100", False), ("mobilenet_100", True)}
    if not all((models / backbones.weights_file(n, t).file).is_file() for n, t in files):
        pytest.skip("needs the offline mirror's MobileNet weights (COURSE_DATA_DIR)")
    for name, top in files:
        wanted = backbones.weights_file(name, top)
        assert backbones.check_weights_file(models / wanted.file, wanted.md5, wanted.shapes) is None
