"""Notebook 05's own code: the Grocery Store Dataset's split and class files (read and checked in the notebook),
the feature cache and its key, and the functions the lesson is built on."""

import hashlib
import json
import os
import re
import types

import notebook_code
import numpy as np
import pandas as pd
import pytest

from course import data, paths

NOTEBOOK = paths.REPO_ROOT / "notebooks" / "05_grocery_retrain.ipynb"


def notebook_functions(marker: str, namespace: dict) -> dict:
    """Run the imports, functions, classes and constants of the lesson's code cell containing `marker`."""
    return notebook_code.notebook_functions("05_grocery_retrain", marker, namespace)

HEADER = ("Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int),"
          "Iconic Image Path (str),Product Description Path (str)")


def write_tiny_grocery(root):
    """Three fine classes in two coarse ones, headers as upstream writes them (with type hints)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.csv").write_text(
        HEADER + "\n"
        "Golden-Delicious,0,Apple,0,/iconic-images-and-descriptions/Fruit/Apple/Golden-Delicious/G_Iconic.jpg,"
        "/iconic-images-and-descriptions/Fruit/Apple/Golden-Delicious/G_Description.txt\n"
        "Granny-Smith,1,Apple,0,/iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/S_Iconic.jpg,\n"
        "Oatly-Oatghurt,2,Oatghurt,1,/iconic-images-and-descriptions/Packages/Oatghurt/O_Iconic.jpg,\n"
    )
    (root / "train.txt").write_text("train/Fruit/Apple/Golden-Delicious/a.jpg, 0, 0\ntrain/x/b.jpg, 2, 1\n\n")
    return root


# --- notebook 05: the lesson's own code ---------------------------------------------------------------------


def readers(root):
    """The lesson's readers and checks of the dataset's text files (section 1), on the dataset folder `root`."""
    return notebook_functions("def read_split", {"pd": pd, "os": os, "ROOT": root})


@pytest.fixture
def stand_in(course_env):
    """The course's stand-in Grocery Store Dataset (10 products in 2 coarse classes) and the lesson's readers."""
    root = data.locate("grocery") / "dataset"
    return root, readers(root)


def test_notebook_reads_the_split_files_line_by_line(stand_in):
    root, ns = stand_in
    for split, count in [("train", 200), ("val", 40), ("test", 120)]:
        lines = [[field.strip() for field in line.split(",")] for line in (root / f"{split}.txt").read_text().splitlines()
                 if line.strip()]
        table = ns["read_split"](split)
        assert len(table) == len(lines) == count
        assert list(table["path"]) == [str(root / path) for path, _, _ in lines], "absolute, in the file's order"
        assert list(table["fine"]) == [int(f) for _, f, _ in lines] and list(table["coarse"]) == [int(c) for *_, c in lines]
        ns["check_split"](split, table, ns["read_classes"]())  # the stand-in is sound


def test_notebook_reads_the_class_table_as_upstream_writes_it(tmp_path, stand_in):
    _, ns = stand_in
    classes = ns["read_classes"]()
    assert len(classes) == 10 and list(classes["coarse"]) == [0] * 5 + [1] * 5
    assert list(classes.drop_duplicates("coarse")["coarse_name"]) == ["Small-Digits", "Large-Digits"]
    assert all(os.path.exists(p) for p in classes["iconic"])
    root = write_tiny_grocery(tmp_path / "dataset")  # headers with type hints, an empty description, a blank line
    classes = readers(root)["read_classes"]()
    assert list(classes.index) == [0, 1, 2] and list(classes["name"]) == ["Golden-Delicious", "Granny-Smith", "Oatly-Oatghurt"]
    assert list(classes["coarse"]) == [0, 0, 1] and list(classes["group"]) == ["Fruit", "Fruit", "Packages"]
    assert classes.loc[0, "iconic"] == str(root / "iconic-images-and-descriptions/Fruit/Apple/Golden-Delicious/G_Iconic.jpg")
    assert classes.loc[1, "description"] == "", "an empty description path stays empty"
    assert len(readers(root)["read_split"]("train")) == 2, "the blank line is no photo"


def test_notebook_refuses_a_split_with_missing_photos_or_contradicting_classes(stand_in):
    """A damaged download is named (file, count, what to do) before any training, by ValueError, not assert."""
    root, ns = stand_in
    classes, train = ns["read_classes"](), ns["read_split"]("train")
    gone = train["path"].iloc[3]
    os.remove(gone)
    with pytest.raises(ValueError, match=r"1 listed photo\(s\) are missing, e\.g\. .*delete that folder") as err:
        ns["check_split"]("train", train, classes)
    assert gone in str(err.value) and "train.txt" in str(err.value) and str(root.parent) in str(err.value)
    wrong = ns["read_split"]("val")
    wrong.loc[0, "coarse"] = (wrong.loc[0, "coarse"] + 1) % 2
    wrong.loc[1, "fine"] = 999
    with pytest.raises(ValueError, match="1 line\\(s\\) name a product.*1 line\\(s\\) give a coarse class"):
        ns["check_split"]("val", wrong, classes)


def test_notebook_takes_at_most_n_photos_per_product_with_its_seed(stand_in):
    train = stand_in[1]["read_split"]("train")
    ns = notebook_functions("def at_most_per_class", {})
    small = ns["at_most_per_class"](train, 3)
    assert small["fine"].value_counts().max() == 3 and small["fine"].nunique() == train["fine"].nunique() == 10
    assert list(small.index) == sorted(small.index), "in the split file's order"
    assert small.equals(ns["at_most_per_class"](train, 3)) and ns["at_most_per_class"](train, None) is train
    assert not small.equals(notebook_functions("def at_most_per_class", {})["at_most_per_class"](train, 3, seed=1))


@pytest.fixture
def cache_key():
    return notebook_functions("def cache_key", {"hashlib": hashlib, "json": json, "os": os})["cache_key"]


def test_notebook_cache_key_changes_with_settings_files_and_their_content(tmp_path, cache_key):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(b"1")
    b.write_bytes(b"22")
    key = cache_key([str(a), str(b)], backbone="m", image_size=224)
    assert key == cache_key([str(a), str(b)], image_size=224, backbone="m")
    assert key != cache_key([str(a), str(b)], backbone="m", image_size=160)
    assert key != cache_key([str(a), str(b)], backbone="other", image_size=224)
    assert key != cache_key([str(b), str(a)], backbone="m", image_size=224), "order matters"
    assert key != cache_key([str(a)], backbone="m", image_size=224)
    assert key != cache_key([str(a), str(b)], backbone="m", image_size=224, mirrored=True)
    a.write_bytes(b"333")
    assert key != cache_key([str(a), str(b)], backbone="m", image_size=224), "a changed file"


def test_notebook_cache_key_is_rarely_stale_not_never(tmp_path, cache_key):
    """What the lesson says the key does NOT cover: new content of the same size with the old modification
    time (as `cp -p` or `rsync -t` leave it). If the key learns to hash content, update the lesson too."""
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"abcd")
    stat = os.stat(photo)
    key = cache_key([str(photo)], backbone="m")
    photo.write_bytes(b"abce")
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache_key([str(photo)], backbone="m") == key


@pytest.fixture
def augment_namespace():
    tf = pytest.importorskip("tensorflow")

    def make(mirrors):
        import utils

        return notebook_functions("def augment(image, label, seed)", {"tf": tf, "np": np, "utils": utils, "IMAGE_SIZE": 12,
                                                                      "MIRRORS": mirrors, "BATCH_SIZE": 4})
    return make


def test_notebook_augment_is_stateless_and_brightens_by_a_factor(augment_namespace):
    import tensorflow as tf

    augment = augment_namespace(True)["augment"]
    image = np.full((12, 12, 3), 100, np.uint8)
    outs = [augment(image, 3, tf.constant([i, 42])) for i in range(20)]
    assert all(label == 3 and out.shape == (12, 12, 3) for out, label in outs)
    assert np.array_equal(outs[7][0], augment(image, 3, tf.constant([7, 42]))[0])
    levels = np.array([float(out[0, 0, 0]) for out, _ in outs])  # a flat image: crops and flips change nothing
    assert levels.min() >= 80 - 1e-3 and levels.max() <= 120 + 1e-3 and levels.std() > 1, "x0.8 to x1.2"


def test_notebook_flips_only_when_the_recipe_keeps_mirror_images(augment_namespace):
    import tensorflow as tf

    image = np.zeros((12, 12, 3), np.uint8)
    image[:, :6] = 255  # bright left half

    def bright_left(mirrors):
        augment = augment_namespace(mirrors)["augment"]
        return [float(np.mean(augment(image, 0, tf.constant([i, 1]))[0][:, :3])) > 127 for i in range(24)]

    assert all(bright_left(False)), "never flipped"
    assert not all(bright_left(True)), "sometimes flipped"


def test_notebook_oversample_and_balanced_accuracy():
    ns = notebook_functions("def oversample_index", {"np": np})
    y = np.array([0] * 7 + [1] * 3)
    rows = ns["oversample_index"](y)
    assert np.bincount(y[rows]).tolist() == [7, 7] and set(rows[y[rows] == 1]) <= {7, 8, 9}
    assert np.array_equal(rows, ns["oversample_index"](y)), "the lesson's seed: the same rows every run"
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y_true = np.array([0, 0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 0, 1, 0, 2])
    assert ns["balanced_accuracy"](y_true, y_pred) == pytest.approx(
        sklearn_metrics.balanced_accuracy_score(y_true, y_pred))
    assert ns["balanced_accuracy"](y_true, y_pred) != pytest.approx(np.mean(y_true == y_pred))
    assert ns["balanced_accuracy"](np.array([3, 3, 5]), np.array([3, 0, 5])) == pytest.approx(0.75), "absent classes"


def test_notebook_paired_bootstrap_interval_says_when_a_difference_is_noise():
    ns = notebook_functions("def bootstrap_difference", {"np": np})
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 300)
    a = np.where(rng.random(300) < 0.6, y, (y + 1) % 5)  # 60% right
    low, high = ns["bootstrap_difference"](y, a, a.copy(), ns["balanced_accuracy"])
    assert low == high == 0.0, "the same predictions: no difference in any draw"
    better = np.where(rng.random(300) < 0.5, y, a)  # right wherever a was, and on about half of a's errors
    low, high = ns["bootstrap_difference"](y, a, better, ns["balanced_accuracy"])
    assert 0 < low < high, "a real improvement: the whole interval above 0"
    one_photo = a.copy()
    one_photo[np.flatnonzero(a != y)[0]] = y[np.flatnonzero(a != y)[0]]
    low, high = ns["bootstrap_difference"](y, a, one_photo, ns["balanced_accuracy"])
    assert low <= 0 < high, "one photo is noise"


def test_notebook_image_pipeline_decodes_resizes_mirrors_and_keeps_file_order(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from PIL import Image

    rows = []
    for i, size in enumerate([(30, 20), (12, 40)]):
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:, : size[0] // 2] = 200  # bright left half
        Image.fromarray(image).save(tmp_path / f"{i}.jpg", quality=95)
        rows.append((str(tmp_path / f"{i}.jpg"), i + 3))
    table = pd.DataFrame(rows, columns=["path", "fine"])
    ns = notebook_functions("def image_dataset", {"tf": tf, "IMAGE_SIZE": 8})
    (x, y), = [(a.numpy(), b.numpy()) for a, b in ns["image_dataset"](table)]
    assert x.shape == (2, 8, 8, 3) and x.dtype == np.float32 and y.tolist() == [3, 4]
    assert (x[:, :, :3].mean() > 150) and (x[:, :, 5:].mean() < 50), "left bright, right dark"
    (xm, _), = [(a.numpy(), b.numpy()) for a, b in ns["image_dataset"](table, mirrored=True)]
    np.testing.assert_array_equal(xm, x[:, :, ::-1])
    (x4, _), = [(a.numpy(), b.numpy()) for a, b in ns["image_dataset"](table, size=4)]
    assert x4.shape == (2, 4, 4, 3)


def test_notebook_counts_the_errors_that_stay_inside_a_coarse_class():
    ns = notebook_functions("def errors_inside_coarse", {"np": np, "FINE_TO_COARSE": np.array([0, 0, 1, 1, 2])})
    y_true = np.array([0, 0, 2, 2, 4, 4])
    y_pred = np.array([0, 1, 3, 4, 0, 4])  # wrong: 0->1 (inside), 2->3 (inside), 2->4 (crosses), 4->0 (crosses)
    assert ns["errors_inside_coarse"](y_true, y_pred) == pytest.approx(0.5)
    assert ns["errors_inside_coarse"](y_true, y_true) == 0.0


def _cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def test_notebook_checks_parameters_then_chooses_the_network_by_availability():
    cells = _cells()
    at = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    check = "".join(cells[at + 1]["source"])
    assert check.startswith('lesson = utils.start("05_grocery_retrain", globals())'), "the next cell checks them"
    assert "BACKBONE = utils.choose_backbone(BACKBONE)" in check
    assert 'BACKBONE = "inception_v3"' in "".join(cells[at]["source"]), "the lesson defaults to the original's network"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "check_split(split, table, classes)" in code, "the lesson reads the split files once and checks them"
    assert not re.search(r"\bgrocery\.[a-z_]+\(|from utils import|utils\.(make_dataset|load_backbone|check_backbone|SEED)\b", code)
    assert 'keras.applications.InceptionV3' in code and "keras.applications.inception_v3.preprocess_input" in code
    assert re.search(r"make_backbone\(include_top=False, weights=backbone_weights, input_shape=\(IMAGE_SIZE, "
                     r"IMAGE_SIZE, 3\),\s+pooling=\"avg\"\)", code), "the constructor call, in the lesson"
    assert "IMAGE_SIZE = IMAGE_SIZE or own_size" in code, "the size is resolved once, where the network is chosen"
    assert 'BackupAndRestore(lesson.backup_dir("fine-tune", backbone=BACKBONE' in code
    assert "DataUnavailableError" not in code, "choose_backbone decides what can be had; no hand-rolled fallback"


def test_every_backbone_the_lesson_accepts_has_a_constructor_its_preprocess_input_and_size():
    keras = pytest.importorskip("keras")
    from course import networks, params

    cells = _cells()
    namespace = {"keras": keras, "functools": __import__("functools"), "BACKBONE": "mobilenet_025", "IMAGE_SIZE": None}
    source = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("NETWORKS = {"))
    exec(source.split("print(")[0], namespace)
    table = namespace["NETWORKS"]
    assert set(params.spec_for("BACKBONE", "05_grocery_retrain").options()) == set(table)
    assert table["inception_v3"][:2] == (keras.applications.InceptionV3, keras.applications.inception_v3.preprocess_input)
    assert all(size == networks.BACKBONES[name].image_size for name, (_, _, size) in table.items())
    assert namespace["IMAGE_SIZE"] == 224, "None: the network's own size"


def test_notebook_has_a_hint_and_a_running_solution_for_every_exercise():
    cells = _cells()
    text = ["".join(c["source"]) for c in cells]
    exercises = next(t for t in text if t.startswith("## Exercises"))
    numbers = [int(n) for n in re.findall(r"^(\d+)\. \*\*", exercises, flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 5
    assert exercises.count("<details>") == len(numbers), "one hint per exercise"
    for n in numbers:
        at = next(i for i, t in enumerate(text) if f"### Solution {n}:" in t)
        assert cells[at + 1]["cell_type"] == "code", f"solution {n} has code right after its heading"
    assert [t for t in text if t.startswith("## ")][-4:] == [
        t for t in text if t.startswith(("## What changed", "## Summary", "## Exercises", "## Solutions"))]


def test_notebook_softmax_layer_stops_early_and_keeps_the_best_epoch():
    keras = pytest.importorskip("keras")
    import utils

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    x_val = rng.normal(size=(100, 8)).astype("float32")
    y_val = (x_val[:, 0] < 0).astype(int)  # the opposite rule: the better training fits, the worse validation gets
    tf = pytest.importorskip("tensorflow")
    ns = notebook_functions("def train_head", {"keras": keras, "np": np, "tf": tf, "utils": utils, "HEAD_EPOCHS": 80,
                                               "HEAD_BATCH": 64, "CLASS_NAMES": ["a", "b"], "features": {"val": x_val},
                                               "labels": {"val": y_val}})
    head, history = ns["train_head"](x, y, 1e-4)
    losses = history.history["val_loss"]
    assert len(losses) < 80, "stopped before the epoch budget"
    restored = head.evaluate(ns["feature_batches"](x_val, y_val), verbose=0)[0]
    assert restored == pytest.approx(min(losses), rel=1e-3, abs=1e-3), "the best epoch's weights are kept"
    _, full = ns["train_head"](x, y, 1e-4, epochs=5, stop_early=False)
    assert len(full.history["loss"]) == 5


def run_subset_cell(root, ns, per_class):
    """Section 1's subset cell (`at_most_per_class`, then each photo the run uses decoded once) on `root`."""
    import utils

    cell = next("".join(c["source"]) for c in _cells() if c["cell_type"] == "code" and "def at_most_per_class" in
                "".join(c["source"]))
    namespace = {"pd": pd, "utils": utils, "ROOT": root, "PER_CLASS": per_class, "print": lambda *a, **k: None,
                 "all_splits": {s: ns["read_split"](s) for s in ("train", "val", "test")},
                 "classes": ns["read_classes"](), "lesson": types.SimpleNamespace(seed=42)}
    exec(compile(cell, "<05 subset cell>", "exec"), namespace)
    return namespace["splits"]


def test_notebook_names_a_damaged_photo_before_any_feature_is_computed(stand_in):
    """The subset cell decodes each photo the run uses once: a truncated one stops the lesson there, named,
    with the fix (not a TensorFlow error in the middle of computing features)."""
    import utils

    root, ns = stand_in
    used = run_subset_cell(root, ns, 2)["val"]["path"].iloc[0]  # the stand-in is sound
    with open(used, "r+b") as photo:
        photo.truncate(os.path.getsize(used) // 3)
    with pytest.raises(utils.ImageFolderError) as err:
        run_subset_cell(root, ns, 2)
    assert os.path.basename(used) in str(err.value) and "val split" in str(err.value)


def test_notebook_decodes_only_the_photos_a_run_uses(stand_in):
    root, ns = stand_in
    used = set(run_subset_cell(root, ns, 1)["val"]["path"])
    for path in set(ns["read_split"]("val")["path"]) - used:
        with open(path, "r+b") as photo:
            photo.truncate(60)
    assert set(run_subset_cell(root, ns, 1)["val"]["path"]) == used, "no error: the damaged photos are not in this run"
