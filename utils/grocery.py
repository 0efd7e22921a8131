"""The Grocery Store Dataset's own files, and a disk cache for features computed once per image.

    from utils import grocery
    g = grocery.load_grocery()            # classes table + official train/val/test splits
    g.splits["train"]                     # DataFrame: path, fine, coarse
    g.classes                             # DataFrame indexed by fine id: name, coarse, coarse_name, group, iconic

    feats = grocery.cached_features(lambda: model.predict(ds), run_dir / "features", key)

`key` names what the features depend on; building it is part of notebook 05's lesson (its `cache_key`).

Files (Klasson et al., WACV 2019): `dataset/{train,val,test}.txt` list `<relative path>, <fine id>,
<coarse id>` per line; `dataset/classes.csv` has one row per fine class with its coarse class and the
paths (relative to `dataset/`) of its iconic image and product description.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import data

SPLITS = ("train", "val", "test")

# classes.csv headers, normalised: "Class Name (str)" -> "class name" -> our column name
_CLASS_COLUMNS = {
    "class name": "name",
    "class id": "fine",
    "coarse class name": "coarse_name",
    "coarse class id": "coarse",
    "iconic image path": "iconic",
    "product description path": "description",
}


class GroceryFormatError(ValueError):
    """A split file or classes.csv does not have the documented format; the message names the line."""


@dataclass(frozen=True)
class Grocery:
    """The dataset: `root` (the folder holding `train.txt`), the class table and the three splits."""

    root: Path
    classes: pd.DataFrame  # index: fine id; columns name, coarse, coarse_name, group, iconic, description
    splits: dict[str, pd.DataFrame]  # columns path (absolute), fine, coarse

    @property
    def fine_names(self) -> list[str]:
        return list(self.classes["name"])

    @property
    def coarse_names(self) -> list[str]:
        """Coarse class names ordered by coarse id."""
        return list(self.classes.drop_duplicates("coarse").sort_values("coarse")["coarse_name"])

    @property
    def fine_to_coarse(self) -> np.ndarray:
        """`fine_to_coarse[fine_id]` is the coarse id: maps fine predictions to coarse ones."""
        return self.classes["coarse"].to_numpy()


def read_classes(root: Path) -> pd.DataFrame:
    """`classes.csv` as a DataFrame indexed by fine id, with absolute `iconic`/`description` paths.

    Adds `group` (Fruit, Vegetables or Packages: the first folder of the iconic image path).
    """
    root = Path(root)
    table = pd.read_csv(root / "classes.csv", skipinitialspace=True, keep_default_na=False)
    table.columns = [_CLASS_COLUMNS.get(c.split("(")[0].strip().lower(), c) for c in table.columns]
    missing = set(_CLASS_COLUMNS.values()) - set(table.columns)
    if missing:
        raise GroceryFormatError(f"{root / 'classes.csv'} lacks the column(s) {sorted(missing)}")
    table = table.astype({"fine": int, "coarse": int}).set_index("fine", drop=False).sort_index()
    if list(table.index) != list(range(len(table))):
        raise GroceryFormatError(f"{root / 'classes.csv'}: fine class ids must run 0..{len(table) - 1}")
    rel = table["iconic"].str.lstrip("/")
    table["group"] = rel.str.split("/").str[1]
    table["iconic"] = [str(root / p) if p else "" for p in rel]
    table["description"] = [str(root / p.lstrip("/")) if p else "" for p in table["description"]]
    return table[["name", "coarse", "coarse_name", "group", "iconic", "description"]]


def read_split(root: Path, split: str) -> pd.DataFrame:
    """One split file as a DataFrame with columns `path` (absolute), `fine`, `coarse`."""
    root = Path(root)
    rows = []
    for number, line in enumerate((root / f"{split}.txt").read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            raise GroceryFormatError(f"{root / f'{split}.txt'} line {number}: expected '<path>, <fine>, <coarse>', "
                                     f"got {line!r}")
        rows.append((str(root / parts[0]), int(parts[1]), int(parts[2])))
    return pd.DataFrame(rows, columns=["path", "fine", "coarse"])


def load_grocery() -> Grocery:
    """Find the dataset (`utils.locate("grocery")`), read its class table and splits, and check they agree."""
    folder = data.locate("grocery")
    root = folder / "dataset"
    classes = read_classes(root)
    splits = {split: read_split(root, split) for split in SPLITS}
    for split, table in splits.items():
        bad = table[(table["fine"] >= len(classes)) | (table["coarse"] != classes["coarse"].reindex(table["fine"]).to_numpy())]
        if len(bad):
            raise GroceryFormatError(f"{split}.txt: {len(bad)} line(s) whose coarse id disagrees with classes.csv, "
                                     f"e.g. {bad.iloc[0].to_dict()}")
    counts = " / ".join(f"{len(splits[s]):,}" for s in SPLITS)
    where = data.sources().get("grocery", "")
    if "train / " not in where:
        data.note_source("grocery", f"{where} ({counts} train / val / test)")
    return Grocery(root, classes, splits)


def per_class_sample(table: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """At most `n` rows of each fine class (all of them when `n` is None), in the original order."""
    if n is None:
        return table
    picked = table.sample(frac=1.0, random_state=seed).groupby("fine").head(n)
    return table.loc[sorted(picked.index)].reset_index(drop=True)


# --- feature cache -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedFeatures:
    """What `cached_features` returns: the array, whether it came from disk, and what each way cost."""

    features: np.ndarray
    path: Path
    from_cache: bool
    seconds: float  # this call
    compute_seconds: float  # what computing them took (now, or when the cache was written)


def cached_features(compute: Callable[[], np.ndarray], folder: Path, key: str) -> CachedFeatures:
    """`compute()` once, saved as `folder/<key>.npy`; later calls with the same key load that file.

    The file is written under a temporary name and renamed, so an interrupted run never leaves a half
    file that a later run would trust.
    """
    folder = Path(folder)
    path, meta_path = folder / f"{key}.npy", folder / f"{key}.json"
    start = time.perf_counter()
    if path.exists() and meta_path.exists():
        features = np.load(path)
        meta = json.loads(meta_path.read_text())
        return CachedFeatures(features, path, True, time.perf_counter() - start, meta["compute_seconds"])
    features = np.asarray(compute(), dtype=np.float32)
    seconds = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.npy"
    np.save(tmp, features)
    os.replace(tmp, path)
    meta_path.write_text(json.dumps({"compute_seconds": seconds, "shape": list(features.shape)}))
    return CachedFeatures(features, path, False, seconds, seconds)
