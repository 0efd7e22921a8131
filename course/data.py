"""Every dataset the course uses, and one way to get each of them.

Resolution order for a dataset (`locate`):

1. the offline mirror `COURSE_DATA_DIR`, laid out exactly like the upstream downloads after extraction;
2. the local cache of an earlier download (`COURSE_CACHE_DIR`, default Keras' own `~/.keras/datasets`);
3. a checksum-verified, atomic download into that cache (never when `COURSE_OFFLINE=1`);
4. smoke mode only: a small stand-in built from real images that ship inside scikit-learn, announced
   loudly. Full mode never falls back: it stops with `DataUnavailableError`, which says what to do.

`data/README.md` documents the same table for people.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths, record, standins
from .downloads import (
    DOWNLOAD_ERRORS,
    ChecksumError,
    Remote,
    clean_stale,
    fetch,
    safe_extract,
)

HELP = "See data/README.md for how to download the data or point COURSE_DATA_DIR at an offline mirror."


class DataUnavailableError(RuntimeError):
    """A dataset is neither in the mirror, nor cached, nor downloadable right now."""


class DamagedDataError(DataUnavailableError, ValueError):
    """A dataset file in the mirror or the cache is damaged; the message names the file and the fix."""


@dataclass(frozen=True)
class Dataset:
    """A dataset: where it lives in a mirror or cache (`folder`), what proves it is there, how to fetch it."""

    name: str
    title: str
    folder: str
    licence: str
    size: str
    homepage: str
    remotes: tuple[Remote, ...]
    required: tuple[str, ...]
    archive_root: str | None = None
    aliases: tuple[str, ...] = ()
    notes: str = ""
    standin: str = ""
    classes: tuple[str, ...] = ()  # class folders (relative) a copy must hold: any missing makes it partial
    images: int = 0  # how many images the complete upstream download holds


_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
_GROCERY_COMMIT = "fc80ba90f803d79d0383df52c5a4ac5de99ff6fc"
_IDX = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="mnist",
            title="MNIST handwritten digits (LeCun, Cortes, Burges)",
            folder="mnist",
            licence="CC BY-SA 3.0",
            size="11.6 MB, 60,000 train + 10,000 test 28x28 greyscale",
            homepage="http://yann.lecun.com/exdb/mnist/",
            remotes=(
                Remote(_MNIST + _IDX[0], "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
                Remote(_MNIST + _IDX[1], "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
                Remote(_MNIST + _IDX[2], "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
                Remote(_MNIST + _IDX[3], "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
            ),
            required=_IDX,
            standin="scikit-learn's 1,797 handwritten digits (8x8, upscaled to 28x28)",
        ),
        Dataset(
            name="fashion_mnist",
            title="Fashion-MNIST (Zalando Research)",
            folder="fashion-mnist",
            licence="MIT",
            size="30 MB, 60,000 train + 10,000 test 28x28 greyscale",
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            remotes=(
                Remote(_FASHION + _IDX[0], "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
                Remote(_FASHION + _IDX[1], "md5:25c81989df183df01b3e8a0aad5dffbe", 29515),
                Remote(_FASHION + _IDX[2], "md5:bef4ecab320f06d8554ea6380940ec79", 4422102),
                Remote(_FASHION + _IDX[3], "md5:bb300cfdad3c16e7a12a480ee83cd310", 5148),
            ),
            required=_IDX,
            aliases=("keras_home/datasets/fashion-mnist",),
            notes="Same files and folder name as Keras' cache, so `keras.datasets.fashion_mnist` shares it.",
            standin="scikit-learn's handwritten digits (NOT garments: labels keep the garment names)",
        ),
        Dataset(
            name="flower_photos",
            title="TensorFlow flower photos (5 classes)",
            folder="flower_photos",
            licence="CC BY 2.0 (per-photo credits in LICENSE.txt)",
            size="229 MB archive, 3,670 JPEG photos",
            homepage="https://www.tensorflow.org/datasets/catalog/tf_flowers",
            remotes=(
                Remote(
                    "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",
                    "sha256:4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
                    228813984,
                ),
            ),
            required=("daisy",),
            archive_root="flower_photos",
            classes=("daisy", "dandelion", "roses", "sunflowers", "tulips"),
            images=3670,
            standin="scikit-learn digits 0-4 saved as JPEGs under the five flower class names",
        ),
        Dataset(
            name="hotdog",
            title="Hot dog / not hot dog (Dive into Deep Learning)",
            folder="hotdog",
            licence="see d2l.ai (images collected from the web for teaching)",
            size="261 MB archive, 2,000 train + 800 test photos",
            homepage="https://d2l.ai/chapter_computer-vision/fine-tuning.html",
            remotes=(
                Remote(
                    "http://d2l-data.s3-accelerate.amazonaws.com/hotdog.zip",
                    "sha1:fba480ffa8aa7e0febbb511d181409f899b9baa5",
                ),
            ),
            required=("train", "test"),
            archive_root="hotdog",
            classes=("train/hotdog", "train/not-hotdog", "test/hotdog", "test/not-hotdog"),
            images=2800,
            standin="scikit-learn digits 0 and 1 saved as JPEGs under hotdog/ and not-hotdog/",
        ),
        Dataset(
            name="grocery",
            title="Grocery Store Dataset (Klasson et al., WACV 2019)",
            folder="GroceryStoreDataset",
            licence="MIT",
            size="about 125 MB archive, 5,421 photos, 81 fine / 43 coarse classes",
            homepage="https://github.com/marcusklasson/GroceryStoreDataset",
            remotes=(
                Remote(
                    f"https://github.com/marcusklasson/GroceryStoreDataset/archive/{_GROCERY_COMMIT}.zip",
                    None,
                ),
            ),
            required=("dataset/classes.csv", "dataset/train.txt", "dataset/test.txt"),
            archive_root=f"GroceryStoreDataset-{_GROCERY_COMMIT}",
            notes=(
                "Pinned to commit fc80ba90. GitHub does not promise byte-identical archives, so instead of "
                "a checksum every file named in train/val/test.txt is checked after extraction."
            ),
            standin="scikit-learn digits as 10 'products' in 2 coarse groups, in the dataset's own layout",
        ),
    ]
}


def idx_file(root: Path, name: str) -> Path | None:
    """`root/<name>` (an IDX `.gz` file of MNIST's layout) or the same file unzipped or renamed; None if absent."""
    stem = name.removesuffix(".gz")
    for candidate in (name, stem, stem.replace("-idx", ".idx", 1)):
        if (root / candidate).exists():  # a folder in a file's place is read, and named as damaged
            return root / candidate
    return None


def missing(root: Path, ds: Dataset) -> list[str]:
    """What a copy of `ds` at `root` lacks, judged by its content: required files, class folders holding
    photos, and for the Grocery Store Dataset every photo its split files list. [] when it is whole."""
    if not root.is_dir():
        return [f"{root.name}/"]
    if ds.required and all(r.endswith(".gz") for r in ds.required):
        return [r for r in ds.required if idx_file(root, r) is None]
    lacking = [r for r in ds.required if not (root / r).exists()]
    for folder in ds.classes:
        if not (root / folder).is_dir() or not any(p.is_file() for p in (root / folder).iterdir()):
            lacking.append(f"{folder}/")
    if ds.name == "grocery" and not lacking:
        lacking += _missing_grocery_files(root / "dataset")
    return lacking


def _idx_count(path: Path) -> int:
    """The number of items an IDX file's header announces (gzipped or not), without reading the data."""
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        header = f.read(8)
    return int.from_bytes(header[4:8], "big")


def inventory(root: Path, ds: Dataset) -> str:
    """What a copy holds, counted from its files: "60,000 train / 10,000 test", "500 photos in 5 classes (of
    3,670 upstream)". Never a figure from the dataset's description."""
    try:
        if all(r.endswith(".gz") for r in ds.required):
            train, test = (_idx_count(idx_file(root, f)) for f in (_IDX[0], _IDX[2]))
            return f"{train:,} train / {test:,} test"
        if ds.name == "grocery":
            counts = [sum(1 for line in (root / "dataset" / f"{s}.txt").read_text(encoding="utf-8-sig").splitlines()
                          if line.strip()) for s in ("train", "val", "test")]
            return " / ".join(f"{n:,}" for n in counts) + " train / val / test photos"
        photos = sum(1 for folder in ds.classes for p in (root / folder).iterdir() if p.is_file())
        upstream = f", of {ds.images:,} upstream" if ds.images and photos < ds.images else ""
        return f"{photos:,} photos in {len(ds.classes)} class folders{upstream}"
    except (OSError, TypeError, ValueError, UnicodeDecodeError) as err:
        return f"cannot be counted ({err})"


def _is_complete(root: Path, ds: Dataset) -> bool:
    return root.is_dir() and not missing(root, ds)


def _partial(root: Path, ds: Dataset) -> list[str]:
    """What a folder that has the dataset's layout but not all of it lacks ([] when it is not the dataset at all)."""
    if not root.is_dir() or not any(root.iterdir()):
        return []
    return missing(root, ds)


def locate(name: str, *, allow_standin: bool = True) -> Path:
    """Path to a dataset's folder, following the resolution order in this module's docstring."""
    if name not in DATASETS:
        raise KeyError(f"Unknown dataset {name!r}. Known: {', '.join(DATASETS)}.")
    ds = DATASETS[name]
    mirror = paths.mirror_dir()
    partial = {}
    if mirror is not None:
        for rel in (ds.folder, *ds.aliases):
            if _is_complete(mirror / rel, ds):
                counts = f" ({inventory(mirror / rel, ds)})" if ds.classes else ""
                record.current().note_source(name, f"real, mirror {paths.mirror_label(rel)}{counts}")
                return mirror / rel
            if _partial(mirror / rel, ds):
                partial[paths.mirror_label(rel)] = _partial(mirror / rel, ds)
    if partial:
        where, lacking = next(iter(partial.items()))
        listed = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
        print(f"! The mirror's copy of {name} at {where} is incomplete (it lacks {listed}): it is not used. Copy "
              f"the missing parts again from where the mirror came from, or remove the folder.")
    cached = paths.cache_dir() / ds.folder
    if _is_complete(cached, ds):
        record.current().note_source(name, f"real, cache {paths.label(cached)}")
        return cached
    if not paths.is_offline():
        try:
            path = download(name)
            record.current().note_source(name, f"real, downloaded to {paths.label(path)}")
            return path
        except DOWNLOAD_ERRORS as err:
            failure = f"the download failed ({err})"
    else:
        failure = "COURSE_OFFLINE=1 forbids downloading it"
    if paths.is_smoke() and allow_standin:
        path = standins.build(name, ds.folder)
        if not record.current().sources.get(name, "").startswith("STAND-IN"):
            _announce_standin(ds, failure)
        record.current().note_source(name, f"STAND-IN ({ds.standin})")
        return path
    in_mirror = (f"the mirror's copy at {where} is incomplete (it lacks {listed})" if partial
                 else f"it is not in the mirror (COURSE_DATA_DIR={mirror or 'not set'})")
    raise DataUnavailableError(
        f"The dataset {name!r} ({ds.title}) is not available: {in_mirror} nor in the cache "
        f"({paths.label(cached)}), and {failure}.\n"
        f"Fix: run `python -m course download {name}` on a machine with internet, or set COURSE_DATA_DIR "
        f"to a folder that holds {ds.folder}/. {HELP}"
    )


def announce(*lines: str) -> None:
    """A warning no reader can miss (stand-in data, random weights): the lines between two bars of `!`."""
    bar = "!" * 78
    print("\n".join([bar, *(f"! {line}" for line in lines), bar]))


def _announce_standin(ds: Dataset, reason: str) -> None:
    announce(f"STAND-IN DATA for {ds.name}: {ds.standin}.",
             f"The real {ds.title} is not here ({reason}).",
             f"Smoke mode only checks that the code runs: the numbers below say nothing about {ds.name}.",
             HELP)


def download(name: str, root: Path | None = None) -> Path:
    """Fetch dataset `name` into `root` (default: the cache) and return its folder.

    Single files land in `root/<folder>/`; archives are extracted into a temporary folder next to the
    target and renamed into place only when complete. A damaged archive is deleted and reported as a
    `ChecksumError` naming its URL.
    """
    ds = DATASETS[name]
    root = Path(root) if root is not None else paths.cache_dir()
    target = root / ds.folder
    if _is_complete(target, ds):
        return target
    if ds.archive_root is None:
        for remote in ds.remotes:
            dest = target / remote.filename
            if not dest.exists():
                fetch(remote, dest)
        return target
    (remote,) = ds.remotes
    archive = fetch(remote, root / f".{remote.filename}")
    clean_stale(root)
    staging = root / f".{ds.folder}.extracting-{os.getpid()}"
    try:
        try:
            safe_extract(archive, staging)
        except ChecksumError as err:
            raise ChecksumError(f"{remote.url}: {err}. It was deleted; run the command again, and if it fails "
                                f"the same way, fetch the file by hand as data/README.md describes.") from None
        extracted = staging / ds.archive_root
        if not _is_complete(extracted, ds):
            raise ChecksumError(f"{remote.url} did not contain {ds.archive_root}/ with {', '.join(ds.required)}")
        if name == "grocery":
            _check_grocery_files(extracted / "dataset")
        if target.exists():
            shutil.rmtree(target)
        os.replace(extracted, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink(missing_ok=True)
    return target


def _missing_grocery_files(root: Path) -> list[str]:
    """The photos the Grocery Store Dataset's split files list that are not there (a split file that cannot
    be read is left to the dataset's reader, which names what is wrong with it)."""
    lacking = []
    for split in ("train", "val", "test"):
        try:
            lines = (root / f"{split}.txt").read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            rel = line.split(",")[0].strip()
            if rel and ".." not in rel and not rel.startswith("/") and not (root / rel).exists():
                lacking.append(f"dataset/{rel}")
    return lacking


def _check_grocery_files(root: Path) -> None:
    lacking = _missing_grocery_files(root)
    if lacking:
        raise ChecksumError(f"Grocery Store Dataset incomplete: {len(lacking)} listed files missing, e.g. {lacking[0]}")


# --- array datasets ----------------------------------------------------------------------------


_IDX_KIND = {"images": "idx3", "labels": "idx1"}


def read_idx(path: Path, kind: str | None = None) -> np.ndarray:
    """Read an IDX file (the MNIST format, gzipped or already unzipped) into a uint8 array.

    `kind` ("images": N x 28 x 28, "labels": N values 0-9) is checked too, so swapped files are caught.
    Raises `DamagedDataError` saying what is wrong with the file: empty, cut short, an HTML page, bit rot,
    not IDX, or the wrong kind.
    """
    path = Path(path)

    def damaged(why: str):
        return DamagedDataError(f"{path} is damaged: {why}.")

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise damaged(f"it cannot be read ({err.strerror or err})") from None
    if not raw:
        raise damaged("it is empty (0 bytes)")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise damaged(f"its gzip data ends before its end marker: the file ({path.stat().st_size:,} bytes) is "
                          f"cut short by an interrupted download or copy, or corrupted") from None
        except (OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
            raise damaged(f"its gzip data does not check out ({err}): bit rot or a bad copy") from None
    elif raw[:200].lstrip().lower().startswith((b"<!doctype html", b"<html", b"<?xml")):
        raise damaged("it is an HTML page (a failed download saved under the data's name), not MNIST data")
    elif raw[:3] != b"\x00\x00\x08":
        raise damaged("it is neither gzip nor IDX data (the MNIST format)")
    # else: an IDX file someone already unzipped (keeping the .gz name): its content is all that matters
    if len(raw) < 4 or len(raw) < 4 + 4 * raw[3]:
        raise damaged("it is cut short inside its header")
    if raw[:2] != b"\x00\x00":
        raise damaged("its header is not IDX")
    if raw[2] != 0x08:
        raise damaged(f"its values are not unsigned bytes (IDX type 0x{raw[2]:02x}): not MNIST data")
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        cut = "cut short" if data.size < int(np.prod(shape)) else "longer than it should be"
        raise damaged(f"its header promises {shape} but it holds {data.size:,} values ({cut})")
    array = data.reshape(shape)
    if kind == "images" and (ndim != 3 or tuple(shape[1:]) != (28, 28)):
        what = "labels" if ndim == 1 else f"an array of shape {shape}"
        raise damaged(f"it holds {what}, not 28x28 images: the image and label files are swapped or misnamed"
                      if ndim == 1 else f"it holds {what}, not 28x28 images: another dataset's file")
    if kind == "labels":
        if ndim != 1:
            raise damaged(f"it holds {'images' if ndim == 3 else f'an array of shape {shape}'}, not labels: the "
                          f"image and label files are swapped or misnamed")
        if array.size and array.max() > 9:
            raise damaged(f"it holds labels up to {array.max()}, outside 0-9: not MNIST labels")
    return array


def damage_fix(name: str, root: Path) -> str:
    """What to do about a damaged file of dataset `name` found in `root` (the mirror, or the cache)."""
    mirror = paths.mirror_dir()
    if mirror is not None and os.path.abspath(root).startswith(os.path.abspath(mirror) + os.sep):
        return (f"The offline mirror holds a damaged copy: replace the file from a good copy of the mirror (on a "
                f"machine with internet: `python -m course download {name} --to {mirror}`), or unset COURSE_DATA_DIR "
                f"to use the download cache instead.")
    return (f"Delete {root} and run again: the course downloads it again (or run `python -m course download {name}` "
            f"on a machine with internet). {HELP}")


def _load_idx_dataset(name: str):
    root = locate(name)
    if record.current().sources[name].startswith("STAND-IN"):
        return standins.digits_as_mnist()
    try:
        x_train, y_train, x_test, y_test = (read_idx(idx_file(root, f), kind) for f, kind in
                                            zip(_IDX, ("images", "labels", "images", "labels")))
        for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
            if len(x) != len(y):
                raise DamagedDataError(f"{root}: {len(x):,} {split} images but {len(y):,} labels; the files do not "
                                       f"belong together (mixed from two copies, or one is damaged).")
    except DamagedDataError as err:
        raise DamagedDataError(f"{name}: {err} {damage_fix(name, root)}") from None
    record.current().sources[name] += f" ({len(x_train):,} train / {len(x_test):,} test)"
    return (x_train, y_train), (x_test, y_test)


def load_mnist():
    """MNIST as `(x_train, y_train), (x_test, y_test)`, uint8 28x28, like `keras.datasets.mnist`."""
    return _load_idx_dataset("mnist")


FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def load_fashion_mnist():
    """Fashion-MNIST as `(x_train, y_train), (x_test, y_test)`; class names are `FASHION_CLASSES`."""
    return _load_idx_dataset("fashion_mnist")


