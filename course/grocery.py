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
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from . import data, images, record, storage
from .params import check_count, check_value

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

    def sample(self, per_class: int | None, seed: int = 0, *, parameter: str = "PER_CLASS",
               skip_bad: bool = False) -> dict[str, pd.DataFrame]:
        """Each split cut to `per_class` photos per class (`per_class_sample`), its photos checked (`check_photos`).

        What a notebook trains and tests on: every photo in it decodes (a converted copy where needed).
        """
        return {split: check_photos(per_class_sample(table, per_class, seed, parameter=parameter), split=split,
                                    skip_bad=skip_bad)
                for split, table in self.splits.items()}


def _fix(root: Path) -> str:
    """What to do about a damaged or incomplete copy of the dataset whose `dataset/` folder is `root`."""
    return data.damage_fix("grocery", Path(root).parent)


def read_classes(root: Path) -> pd.DataFrame:
    """`classes.csv` as a DataFrame indexed by fine id, with absolute `iconic`/`description` paths.

    Adds `group` (Fruit, Vegetables or Packages: the first folder of the iconic image path).
    """
    root = Path(root)
    path = root / "classes.csv"
    try:
        table = pd.read_csv(path, skipinitialspace=True, keep_default_na=False, encoding="utf-8-sig", dtype=str)
    except FileNotFoundError:
        raise GroceryFormatError(f"{path} is missing. {_fix(root)}") from None
    except (OSError, ValueError, pd.errors.ParserError) as err:  # EmptyDataError is a ValueError
        raise GroceryFormatError(f"{path} cannot be read as a table ({err}). {_fix(root)}") from None
    table.columns = [_CLASS_COLUMNS.get(c.split("(")[0].strip().lower(), c) for c in table.columns]
    missing = set(_CLASS_COLUMNS.values()) - set(table.columns)
    if missing:
        raise GroceryFormatError(f"{path} lacks the column(s) {sorted(missing)}")
    for column in ("fine", "coarse"):
        bad = table[~table[column].str.strip().str.fullmatch(r"\d+")]
        if len(bad):
            raise GroceryFormatError(f"{path} row {bad.index[0] + 2}: {column} class id {bad[column].iloc[0]!r} is not "
                                     f"a whole number. {_fix(root)}")
    table = table.astype({"fine": int, "coarse": int}).set_index("fine", drop=False).sort_index()
    if list(table.index) != list(range(len(table))):
        raise GroceryFormatError(f"{root / 'classes.csv'}: fine class ids must run 0..{len(table) - 1}")
    names = table.groupby("coarse")["coarse_name"].nunique()
    if (names > 1).any():
        coarse = int(names[names > 1].index[0])
        raise GroceryFormatError(f"{path}: coarse class id {coarse} has several names "
                                 f"({sorted(set(table.loc[table['coarse'] == coarse, 'coarse_name']))}). {_fix(root)}")
    rel = table["iconic"].str.lstrip("/")
    table["group"] = rel.str.split("/").str[1]
    table["iconic"] = [str(root / p) if p else "" for p in rel]
    table["description"] = [str(root / p.lstrip("/")) if p else "" for p in table["description"]]
    return table[["name", "coarse", "coarse_name", "group", "iconic", "description"]]


def read_split(root: Path, split: str) -> pd.DataFrame:
    """One split file as a DataFrame with columns `path` (absolute), `fine`, `coarse`."""
    root = Path(root)
    path = root / f"{split}.txt"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GroceryFormatError(f"{path} is missing: the {split} split is not listed. {_fix(root)}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise GroceryFormatError(f"{path} cannot be read ({err}). {_fix(root)}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            raise GroceryFormatError(f"{path} line {number}: expected '<path>, <fine>, <coarse>', got {line!r}")
        rel = PurePosixPath(parts[0].replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or ":" in rel.parts[0]:
            raise GroceryFormatError(f"{path} line {number}: {parts[0]!r} points outside the dataset folder; the "
                                     f"split files list paths relative to {root}")
        rows.append((str(root / rel), int(parts[1]), int(parts[2])))
    return pd.DataFrame(rows, columns=["path", "fine", "coarse"])


def load_grocery() -> Grocery:
    """Find the dataset (`utils.locate("grocery")`), read its class table and splits, and check they agree.

    Refused, naming the file and the fix: a missing or unreadable classes.csv or split file, an empty
    split, a line whose ids contradict classes.csv, and photos the split files list but that are missing.
    (Whether each photo decodes is checked for the photos a run uses: `Grocery.sample`.)
    """
    folder = data.locate("grocery")
    root = folder / "dataset"
    classes = read_classes(root)
    splits = {split: read_split(root, split) for split in SPLITS}
    for split, table in splits.items():
        unknown = table[~table["fine"].isin(classes.index)]
        if len(unknown):
            raise GroceryFormatError(f"{root / f'{split}.txt'}: {len(unknown)} line(s) with a fine class id that is "
                                     f"not in classes.csv (0..{len(classes) - 1}), e.g. {unknown.iloc[0].to_dict()}")
        bad = table[table["coarse"] != classes["coarse"].reindex(table["fine"]).to_numpy()]
        if len(bad):
            raise GroceryFormatError(f"{split}.txt: {len(bad)} line(s) whose coarse id disagrees with classes.csv, "
                                     f"e.g. {bad.iloc[0].to_dict()}")
    for split, table in splits.items():
        if table.empty:
            raise GroceryFormatError(f"{root / f'{split}.txt'} lists no photos. {_fix(root)}")
        missing = [p for p in table["path"] if not os.path.isfile(p)]
        if missing:
            raise GroceryFormatError(
                f"{root / f'{split}.txt'} lists {len(missing):,} photo(s) that are missing, e.g. {missing[0]}. "
                f"{_fix(root)}")
    counts = " / ".join(f"{len(splits[s]):,}" for s in SPLITS)
    where = record.current().sources.get("grocery", "")
    if "train / " not in where:
        record.current().note_source("grocery", f"{where} ({counts} train / val / test)")
    return Grocery(root, classes, splits)


def per_class_sample(table: pd.DataFrame, n: int | None, seed: int = 0, *, parameter: str = "PER_CLASS") -> pd.DataFrame:
    """At most `n` rows of each fine class (all of them when `n` is None), in the original order.

    `n` is checked as the notebook parameter `parameter`: a whole number >= 1, not more than the
    largest class holds (a larger value would change nothing while the run records it).
    """
    check_value(parameter, n)
    if n is None:
        return table
    largest = table["fine"].value_counts()
    check_count(parameter, n, int(largest.max()) if len(largest) else 0, "images in the largest class")
    picked = table.sample(frac=1.0, random_state=seed).groupby("fine").head(n)
    return table.loc[sorted(picked.index)].reset_index(drop=True)


def check_photos(table: pd.DataFrame, *, split: str = "", skip_bad: bool = False) -> pd.DataFrame:
    """The rows whose photo the pipeline can read, with `path` pointing at a converted copy where one is needed.

    Each photo is decoded the way `images.make_dataset` reads it (`course.images.check_image_files`). A
    truncated or unreadable photo raises `GroceryFormatError` naming it and the fix, or with
    `skip_bad=True` its row is left out (and printed).
    """
    try:
        found = images.check_image_files(list(table["path"]), skip_bad=skip_bad, where=f"the {split} split".strip())
    except images.ImageFolderError as err:
        raise GroceryFormatError(f"{err}\nThe Grocery Store Dataset's photos are damaged. "
                                 f"Download the dataset again (`python -m course download grocery`), or replace "
                                 f"those files from a good copy.") from None
    for path, why in found.skipped:
        print(f"left out: {path}: {why}")
    for path, why in found.converted:
        print(f"converted: {path}: {why}")
    checked = table.iloc[found.labels].copy()
    checked["path"] = found.files
    return checked.reset_index(drop=True)


# --- feature cache -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedFeatures:
    """What `cached_features` returns: the array, whether it came from disk, and what each way cost."""

    features: np.ndarray
    path: Path
    from_cache: bool
    seconds: float  # this call
    compute_seconds: float  # what computing them took (now, or when the cache was written)


def _load_cached(path: Path, meta_path: Path) -> tuple[np.ndarray, dict] | str:
    """The cached features and their metadata, or why they cannot be trusted."""
    if not path.exists():
        return f"{meta_path.name} has no {path.name} beside it (an interrupted run)"
    if not meta_path.exists():
        return f"{path.name} has no {meta_path.name} beside it (an interrupted run)"
    try:
        features = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        return f"{path.name} cannot be read ({err or type(err).__name__})"
    try:
        meta = json.loads(meta_path.read_text())
        seconds = float(meta["compute_seconds"])
        shape = [int(n) for n in meta["shape"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"{meta_path.name} cannot be read ({err or type(err).__name__})"
    if list(features.shape) != shape or features.dtype != np.float32:
        return f"{path.name} holds {features.dtype} {list(features.shape)}, its metadata says float32 {shape}"
    return features, {**meta, "compute_seconds": seconds}


def cached_features(compute: Callable[[], np.ndarray], folder: Path, key: str) -> CachedFeatures:
    """`compute()` once, saved as `folder/<key>.npy` (+ `<key>.json`); later calls with the same key load them.

    Both files are written under temporary names and renamed, so an interrupted run never leaves a half
    file that a later run would trust. A cache that cannot be trusted anyway (empty, cut short, its
    metadata missing or contradicting it) is set aside as `<key>.npy.damaged-<time>`, announced, and computed
    again: it never fails every rerun.
    """
    folder = Path(folder)
    path, meta_path = folder / f"{key}.npy", folder / f"{key}.json"
    start = time.perf_counter()
    if path.exists() or meta_path.exists():
        loaded = _load_cached(path, meta_path)
        if not isinstance(loaded, str):
            features, meta = loaded
            return CachedFeatures(features, path, True, time.perf_counter() - start, meta["compute_seconds"])
        for damaged in (path, meta_path):
            if damaged.exists():
                storage.set_aside(damaged)
        print(f"Feature cache {path} set aside ({loaded}): computing the features again.")
    features = np.asarray(compute(), dtype=np.float32)
    seconds = time.perf_counter() - start
    meta = json.dumps({"compute_seconds": seconds, "shape": list(features.shape)})
    storage.write_atomic(path, lambda tmp: np.save(tmp, features))
    storage.write_atomic(meta_path, meta)
    return CachedFeatures(features, path, False, seconds, seconds)
