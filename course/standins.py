"""Stand-in data for test runs without the real data: real images that ship with scikit-learn (its 1,797
handwritten digits), laid out like each dataset, so that a smoke run exercises the same code. Announced
loudly wherever used; full mode never uses them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from . import paths


def digits_as_mnist():
    """scikit-learn's real handwritten digits, centred in a 28x28 frame the way MNIST digits are."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    frames = np.zeros((len(digits.images), 28, 28), np.uint8)
    for i, img in enumerate(digits.images):
        small = Image.fromarray((img * (255 / 16)).astype(np.uint8)).resize((20, 20), Image.BICUBIC)
        frames[i, 4:24, 4:24] = np.asarray(small)
    labels = digits.target.astype(np.uint8)
    cut = 1500
    return (frames[:cut], labels[:cut]), (frames[cut:], labels[cut:])


def _digit_jpeg(img: np.ndarray, path: Path, size: int = 96) -> None:
    from PIL import Image

    grey = Image.fromarray((255 - img * (255 / 16)).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    grey.convert("RGB").save(path, quality=90)


def build(name: str, folder: str) -> Path:
    """Build (once) a small folder in the dataset's own layout from scikit-learn's real digit images."""
    from sklearn.datasets import load_digits

    root = paths.cache_dir() / "standin" / folder
    if root.exists():
        return root
    digits = load_digits()
    by_class = {d: digits.images[digits.target == d] for d in range(10)}
    staging = root.with_name(root.name + f".building-{os.getpid()}")
    if name in ("mnist", "fashion_mnist"):
        staging.mkdir(parents=True)
    elif name == "flower_photos":
        for d, cls in enumerate(["daisy", "dandelion", "roses", "sunflowers", "tulips"]):
            for i, img in enumerate(by_class[d][:40]):
                _digit_jpeg(img, staging / cls / f"{cls}_{i:03d}.jpg")
    elif name == "hotdog":
        for d, cls in enumerate(["hotdog", "not-hotdog"]):
            for i, img in enumerate(by_class[d][:60]):
                split = "train" if i < 40 else "test"
                _digit_jpeg(img, staging / split / cls / f"{i:03d}.jpg")
    elif name == "grocery":
        _build_grocery_standin(staging / "dataset", by_class)
    try:
        os.replace(staging, root)
    except OSError:  # another process finished the same stand-in first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _build_grocery_standin(root: Path, by_class: dict[int, np.ndarray]) -> None:
    """Ten 'products' (digits) in two coarse groups, with split files, classes.csv and iconic images."""
    rows = ["Class Name,Class ID,Coarse Class Name,Coarse Class ID,Iconic Image Path,Product Description Path"]
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for d in range(10):
        coarse, coarse_id = ("Small-Digits", 0) if d < 5 else ("Large-Digits", 1)
        fine = f"Digit-{d}"
        iconic = f"/iconic-images-and-descriptions/Packages/{coarse}/{fine}/{fine}_Iconic.jpg"
        _digit_jpeg(by_class[d].mean(axis=0), root / iconic.lstrip("/"))
        rows.append(f"{fine},{d},{coarse},{coarse_id},{iconic},")
        for i, img in enumerate(by_class[d][:36]):
            split = "train" if i < 20 else "val" if i < 24 else "test"
            rel = f"{split}/Packages/{coarse}/{fine}/{fine}_{i:03d}.jpg"
            _digit_jpeg(img, root / rel)
            lines[split].append(f"{rel}, {d}, {coarse_id}")
    (root / "classes.csv").write_text("\n".join(rows) + "\n")
    for split, items in lines.items():
        (root / f"{split}.txt").write_text("\n".join(items) + "\n")
