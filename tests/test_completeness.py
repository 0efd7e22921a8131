"""Datasets are recognised by what they hold, not by a folder's name (held-back cause 2).

A copy in the mirror or the cache is used only when it has everything the dataset must hold: every IDX
file (as downloaded, unzipped, or renamed the way LeCun's page names it unzipped), every class folder with
photos in it, every photo the Grocery Store Dataset's split files list. A copy that lacks some of it is
named as incomplete, with what it lacks, and never recorded as the real dataset.
"""

import gzip

import pytest

from conftest import write_idx_dataset
from course import data, record


def _photos(root, folders, n=2):
    from PIL import Image

    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 40, 80, 120)).save(root / folder / f"{i}.jpg")


FLOWERS = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
HOTDOG = ["train/hotdog", "train/not-hotdog", "test/hotdog", "test/not-hotdog"]


@pytest.mark.parametrize("name, folders, removed", [
    ("flower_photos", FLOWERS, ["roses", "tulips"]),
    ("flower_photos", FLOWERS, ["daisy"]),  # the one folder the old check looked for
    ("hotdog", HOTDOG, ["test/not-hotdog"]),
    ("hotdog", HOTDOG, ["train/hotdog", "train/not-hotdog"]),
])
def test_a_half_copied_image_mirror_is_named_incomplete_and_never_used(course_env, capsys, name, folders, removed):
    _photos(course_env["mirror"] / data.DATASETS[name].folder, [f for f in folders if f not in removed])
    data.locate(name)  # smoke mode: a stand-in, announced
    out = capsys.readouterr().out
    assert f"The mirror's copy of {name}" in out and "is incomplete" in out
    for folder in removed:
        assert f"{folder}/" in out
    assert record.current().sources[name].startswith("STAND-IN"), "an incomplete copy is never the real dataset"


def test_full_mode_refuses_an_incomplete_mirror_and_says_what_it_lacks(course_env, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    _photos(course_env["mirror"] / "flower_photos", FLOWERS[:3])
    with pytest.raises(data.DataUnavailableError) as err:
        data.locate("flower_photos")
    message = str(err.value)
    assert "the mirror's copy at $COURSE_DATA_DIR/flower_photos is incomplete (it lacks sunflowers/, tulips/)" in message
    assert "Fix: run `python -m course download flower_photos`" in message


def test_a_class_folder_without_photos_counts_as_missing(course_env):
    root = course_env["mirror"] / "flower_photos"
    _photos(root, FLOWERS)
    for photo in (root / "dandelion").iterdir():
        photo.unlink()
    assert data.missing(root, data.DATASETS["flower_photos"]) == ["dandelion/"]


def test_a_complete_image_mirror_is_used(course_env):
    _photos(course_env["mirror"] / "hotdog", HOTDOG)
    assert data.locate("hotdog") == course_env["mirror"] / "hotdog"
    assert record.current().sources["hotdog"] == ("real, mirror $COURSE_DATA_DIR/hotdog (8 photos in 4 class folders, "
                                                  "of 2,800 upstream)")


def _unzip(path, new_name):
    path.with_name(new_name).write_bytes(gzip.decompress(path.read_bytes()))
    path.unlink()


@pytest.mark.parametrize("rename", [
    lambda name: name.removesuffix(".gz"),                                       # gunzip
    lambda name: name.removesuffix(".gz").replace("-idx", ".idx", 1),           # LeCun's unzipped names
])
def test_unzipped_or_renamed_mnist_files_are_read(course_env, rename):
    root = course_env["mirror"] / "mnist"
    write_idx_dataset(root, n_train=6, n_test=4, value=9)
    for path in list(root.iterdir()):
        _unzip(path, rename(path.name))
    (x_train, y_train), (x_test, _) = data.load_mnist()
    assert x_train.shape == (6, 28, 28) and (x_train == 9).all() and len(x_test) == 4
    assert record.current().sources["mnist"].startswith("real, mirror")


def test_mnist_missing_one_file_is_incomplete_and_named(course_env):
    root = course_env["mirror"] / "mnist"
    write_idx_dataset(root)
    (root / "train-labels-idx1-ubyte.gz").unlink()
    assert data.missing(root, data.DATASETS["mnist"]) == ["train-labels-idx1-ubyte.gz"]


def test_a_grocery_copy_missing_a_listed_photo_is_named(course_env):
    data.locate("grocery")  # the stand-in has the dataset's own layout and split files
    root = next((course_env["cache"] / "standin").glob("GroceryStoreDataset"))
    listed = (root / "dataset" / "train.txt").read_text().splitlines()[3].split(",")[0]
    (root / "dataset" / listed).unlink()
    assert data.missing(root, data.DATASETS["grocery"]) == [f"dataset/{listed}"]
