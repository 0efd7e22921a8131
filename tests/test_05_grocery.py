"""utils.grocery: the Grocery Store Dataset's split and class files, and the feature cache of notebook 05."""

import os

import numpy as np
import pytest

from utils import data, grocery

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


def test_read_classes_normalises_headers_and_paths(tmp_path):
    root = write_tiny_grocery(tmp_path / "dataset")
    classes = grocery.read_classes(root)
    assert list(classes.index) == [0, 1, 2]
    assert list(classes["name"]) == ["Golden-Delicious", "Granny-Smith", "Oatly-Oatghurt"]
    assert list(classes["coarse"]) == [0, 0, 1]
    assert list(classes["group"]) == ["Fruit", "Fruit", "Packages"]
    assert classes.loc[0, "iconic"] == str(root / "iconic-images-and-descriptions/Fruit/Apple/Golden-Delicious/G_Iconic.jpg")
    assert classes.loc[1, "description"] == "", "an empty description path stays empty"


def test_read_classes_rejects_a_table_without_the_columns(tmp_path):
    (tmp_path / "classes.csv").write_text("name,id\nA,0\n")
    with pytest.raises(grocery.GroceryFormatError, match="lacks the column"):
        grocery.read_classes(tmp_path)


def test_read_split_parses_lines_and_skips_blank_ones(tmp_path):
    root = write_tiny_grocery(tmp_path / "dataset")
    split = grocery.read_split(root, "train")
    assert list(split["fine"]) == [0, 2] and list(split["coarse"]) == [0, 1]
    assert split.loc[0, "path"] == str(root / "train/Fruit/Apple/Golden-Delicious/a.jpg")


def test_read_split_names_the_bad_line(tmp_path):
    (tmp_path / "val.txt").write_text("a.jpg, 0, 0\nb.jpg; 1; 0\n")
    with pytest.raises(grocery.GroceryFormatError, match="line 2"):
        grocery.read_split(tmp_path, "val")


def test_load_grocery_on_the_stand_in(course_env):
    g = grocery.load_grocery()
    assert len(g.classes) == 10 and g.coarse_names == ["Small-Digits", "Large-Digits"]
    assert list(g.fine_to_coarse) == [0] * 5 + [1] * 5
    assert [len(g.splits[s]) for s in grocery.SPLITS] == [200, 40, 120]
    assert all(os.path.exists(p) for p in g.splits["test"]["path"])
    assert all(os.path.exists(p) for p in g.classes["iconic"])
    assert "200 / 40 / 120" in data.sources()["grocery"]


def test_load_grocery_refuses_a_coarse_id_that_contradicts_classes_csv(course_env):
    root = course_env["mirror"] / "GroceryStoreDataset" / "dataset"
    write_tiny_grocery(root)
    (root / "train.txt").write_text("train/a.jpg, 0, 1\n")
    for split in ("val", "test"):
        (root / f"{split}.txt").write_text("")
    with pytest.raises(grocery.GroceryFormatError, match="disagrees with classes.csv"):
        grocery.load_grocery()


def test_per_class_sample_caps_each_class_and_keeps_order(course_env):
    train = grocery.load_grocery().splits["train"]
    small = grocery.per_class_sample(train, 3, seed=1)
    assert small["fine"].value_counts().max() == 3 and small["fine"].nunique() == 10
    assert list(small["path"]) == sorted(small["path"], key=list(train["path"]).index)
    assert grocery.per_class_sample(train, None) is train
    assert small.equals(grocery.per_class_sample(train, 3, seed=1)), "the same seed picks the same images"


def test_cache_key_changes_with_settings_files_and_their_content(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(b"1")
    b.write_bytes(b"22")
    key = grocery.cache_key([str(a), str(b)], backbone="m", image_size=224)
    assert key == grocery.cache_key([str(a), str(b)], image_size=224, backbone="m")
    assert key != grocery.cache_key([str(a), str(b)], backbone="m", image_size=160)
    assert key != grocery.cache_key([str(a), str(b)], backbone="other", image_size=224)
    assert key != grocery.cache_key([str(b), str(a)], backbone="m", image_size=224), "order matters"
    assert key != grocery.cache_key([str(a)], backbone="m", image_size=224)
    a.write_bytes(b"333")
    assert key != grocery.cache_key([str(a), str(b)], backbone="m", image_size=224), "a changed file"


def test_cached_features_computes_once_then_loads(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float64).reshape(3, 2)

    first = grocery.cached_features(compute, tmp_path / "cache", "k1")
    second = grocery.cached_features(compute, tmp_path / "cache", "k1")
    assert len(calls) == 1
    assert not first.from_cache and second.from_cache
    assert second.features.dtype == np.float32 and np.array_equal(first.features, second.features)
    assert second.compute_seconds == pytest.approx(first.compute_seconds)
    assert [p.name for p in sorted((tmp_path / "cache").iterdir())] == ["k1.json", "k1.npy"]
    grocery.cached_features(compute, tmp_path / "cache", "k2")
    assert len(calls) == 2, "another key computes again"


def test_cached_features_leaves_nothing_behind_when_compute_fails(tmp_path):
    def broken():
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        grocery.cached_features(broken, tmp_path / "cache", "k")
    assert not (tmp_path / "cache" / "k.npy").exists()
