"""course.images.link_folder: image_dataset_from_directory reads exactly the photos the folder check kept."""

import os

import numpy as np
import pytest
from PIL import Image

from course import images

keras = pytest.importorskip("keras")


def _photo(path, colour, fmt="JPEG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 8), colour).save(path, format=fmt)
    return path


def test_the_keras_reader_sees_only_the_checked_photos(tmp_path):
    root = tmp_path / "photos"
    _photo(root / "cats" / "a.jpg", (250, 0, 0))
    _photo(root / "cats" / "2019" / "a.jpg", (240, 0, 0))  # the same name in a sub-folder
    _photo(root / "dogs" / "b.webp", (0, 0, 250), fmt="WEBP")  # read by TF, not listed by Keras
    (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8 cut short")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._a.jpg").write_bytes(b"resource fork")
    folder = images.scan_image_folder(root, skip_bad=True)
    assert folder.class_names == ["cats", "dogs"] and len(folder.files) == 3

    linked = images.link_folder(tmp_path / "linked", folder.files, folder.labels, folder.class_names)
    names = sorted(str(p.relative_to(linked)) for p in linked.rglob("*") if not p.is_dir())
    assert names == ["cats/00001_a.jpg", "cats/a.jpg", "dogs/b.webp.png"]
    ds = keras.utils.image_dataset_from_directory(linked, image_size=(8, 8), batch_size=None, shuffle=False,
                                                  verbose=False)
    assert ds.class_names == ["cats", "dogs"]
    pixels = {int(np.argmax(x.numpy().mean(axis=(0, 1)))): int(y) for x, y in ds}
    assert pixels == {0: 0, 2: 1}, "red photos are cats, the blue WebP is a dog"
    assert sum(1 for _ in ds) == 3


def test_a_second_call_starts_afresh_and_counts_must_match(tmp_path):
    a = _photo(tmp_path / "src" / "x" / "a.png", (1, 2, 3), fmt="PNG")
    b = _photo(tmp_path / "src" / "y" / "b.png", (3, 2, 1), fmt="PNG")
    target = tmp_path / "linked"
    images.link_folder(target, [a, b], [0, 1], ["x", "y"])
    images.link_folder(target, [a], [0], ["x", "y"])
    assert sorted(os.listdir(target)) == ["x"]
    with pytest.raises(ValueError, match="2 files but 1 labels"):
        images.link_folder(target, [a, b], [0], ["x", "y"])
