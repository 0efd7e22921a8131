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
import hashlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from . import paths

HELP = "See data/README.md for how to download the data or point COURSE_DATA_DIR at an offline mirror."


class DataUnavailableError(RuntimeError):
    """A dataset is neither in the mirror, nor cached, nor downloadable right now."""


class ChecksumError(RuntimeError):
    """A downloaded file is damaged or does not match its published checksum; it was deleted, never trusted."""


class DownloadInterruptedError(ConnectionError):
    """The server closed the connection before the whole file arrived; nothing of it was kept."""


class UnsafeArchiveError(RuntimeError):
    """An archive holds an entry that would land outside the target folder, or a link."""


class DamagedDataError(DataUnavailableError, ValueError):
    """A dataset file in the mirror or the cache is damaged; the message names the file and the fix."""


@dataclass(frozen=True)
class Remote:
    """One file to download: where from, its checksum ("sha256:…", "sha1:…", "md5:…" or None) and size."""

    url: str
    checksum: str | None
    size: int | None = None

    @property
    def filename(self) -> str:
        return PurePosixPath(self.url.split("?")[0]).name


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

# What each dataset resolved to in this process, for the setup banner and build/results.json.
_SOURCES: dict[str, str] = {}


def sources() -> dict[str, str]:
    """Where each dataset used so far came from (`{"mnist": "real, mirror: /data/mnist", ...}`)."""
    return dict(_SOURCES)


def describe_sources() -> str:
    if _SOURCES:
        return "; ".join(f"{k}: {v}" for k, v in _SOURCES.items())
    mirror = paths.mirror_dir()
    return f"mirror={mirror or 'not set'}, cache={paths.cache_dir()}" + (", offline" if paths.is_offline() else "")


def note_source(name: str, description: str) -> None:
    """Record where a dataset came from (shown in the runner's table and `build/results.json`)."""
    _SOURCES[name] = description


def _is_complete(root: Path, ds: Dataset) -> bool:
    return root.is_dir() and all((root / r).exists() for r in ds.required)


def locate(name: str, *, allow_standin: bool = True) -> Path:
    """Path to a dataset's folder, following the resolution order in this module's docstring."""
    if name not in DATASETS:
        raise KeyError(f"Unknown dataset {name!r}. Known: {', '.join(DATASETS)}.")
    ds = DATASETS[name]
    mirror = paths.mirror_dir()
    if mirror is not None:
        for rel in (ds.folder, *ds.aliases):
            if _is_complete(mirror / rel, ds):
                note_source(name, f"real, mirror {paths.mirror_label(rel)}")
                return mirror / rel
    cached = paths.cache_dir() / ds.folder
    if _is_complete(cached, ds):
        note_source(name, f"real, cache {cached}")
        return cached
    if not paths.is_offline():
        try:
            path = download(name)
            note_source(name, f"real, downloaded to {path}")
            return path
        except DOWNLOAD_ERRORS as err:
            failure = f"the download failed ({err})"
    else:
        failure = "COURSE_OFFLINE=1 forbids downloading it"
    if paths.is_smoke() and allow_standin:
        path = _build_standin(name)
        if not _SOURCES.get(name, "").startswith("STAND-IN"):
            _announce_standin(ds, failure)
        note_source(name, f"STAND-IN ({ds.standin})")
        return path
    raise DataUnavailableError(
        f"The dataset {name!r} ({ds.title}) is not available: it is not in the mirror "
        f"(COURSE_DATA_DIR={mirror or 'not set'}) nor in the cache ({cached}), and {failure}.\n"
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


# --- downloads ---------------------------------------------------------------------------------

#: Seconds a download waits for a server to answer or to send its next block. Short, so that a machine
#: without network falls back to the mirror, the cache or a stand-in quickly instead of hanging.
TIMEOUT = 20

#: A host that could not be reached (no network, DNS failure, firewall) is not tried again for this
#: many seconds, so that one notebook without network pays for one failed connection, not ten.
UNREACHABLE_FOR = 60.0
_UNREACHABLE: dict[str, tuple[float, str]] = {}


def file_checksum(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, remote: Remote) -> None:
    """Raise `ChecksumError` (and delete the file) when `path` does not match `remote`'s checksum/size."""
    problem = None
    if remote.size is not None and path.stat().st_size != remote.size:
        problem = f"size {path.stat().st_size:,} bytes, expected {remote.size:,}"
    elif remote.checksum:
        algorithm, expected = remote.checksum.split(":", 1)
        actual = file_checksum(path, algorithm)
        if actual != expected:
            problem = f"{algorithm} {actual}, expected {expected}"
    if problem:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{remote.url} downloaded with {problem}. The file was deleted. The download was "
            f"interrupted or the server changed the file; run the command again, and if it fails the "
            f"same way, fetch the file by hand as data/README.md describes."
        )


_LEFTOVER = re.compile(r"\.(?:part|extracting|exporting)-(\d+)$")


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill(pid, 0) would signal the process there; rely on age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, it is another user's
        return True
    return True


def clean_stale(folder: Path, max_age_s: float = 24 * 3600) -> list[Path]:
    """Remove what killed downloads, extractions and exports left in `folder`; return what went.

    Those are `<name>.part-<pid>` files and `.<name>.extracting-<pid>` / `.exporting-<pid>` folders
    whose process no longer runs (or that nothing touched for a day). A live process's are kept: it
    may still be writing them.
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _LEFTOVER.search(path.name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            fresh = time.time() - path.stat().st_mtime < max_age_s
        except OSError:
            continue
        if fresh and _pid_alive(int(match.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        print(f"Removed {len(removed)} leftover(s) of interrupted downloads in {folder}: "
              + ", ".join(p.name for p in removed))
    return removed


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def unreachable(url: str) -> str | None:
    """Why `url`'s host could not be reached in the last `UNREACHABLE_FOR` seconds, or None."""
    seen = _UNREACHABLE.get(_host(url))
    if seen and time.monotonic() - seen[0] < UNREACHABLE_FOR:
        return f"{_host(url)} could not be reached a moment ago: {seen[1]}; not retried yet"
    return None


def note_unreachable(url: str, err: BaseException) -> None:
    """Remember a failed connection (no network, DNS, firewall; not an HTTP error) to `url`'s host."""
    reason = getattr(err, "reason", err)
    if isinstance(err, OSError) and not isinstance(err, urllib.error.HTTPError) and isinstance(reason, OSError):
        _UNREACHABLE[_host(url)] = (time.monotonic(), str(reason))


def _transfer(url: str, part: Path) -> None:
    """Stream `url` into `part`; raise `DownloadInterruptedError` when the transfer stops short.

    `urllib` returns a short read silently when a server closes the connection early, so the bytes
    received are compared with the `Content-Length` the server announced.
    """
    reason = unreachable(url)
    if reason:
        raise urllib.error.URLError(reason)
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT)
    except OSError as err:
        note_unreachable(url, err)
        raise
    with response, open(part, "wb") as out:
        announced = response.headers.get("Content-Length", "")
        expected = f" of {int(announced):,}" if announced.isdigit() else ""
        try:
            shutil.copyfileobj(response, out, 1 << 20)
        except (ConnectionError, TimeoutError, http.client.IncompleteRead) as err:
            raise DownloadInterruptedError(
                f"The download of {url} was interrupted after {out.tell():,}{expected} bytes "
                f"({type(err).__name__}: {err}). Nothing was kept; run the command again."
            ) from None
        received = out.tell()
    if expected and received != int(announced):
        raise DownloadInterruptedError(
            f"The download of {url} was interrupted: {received:,}{expected} bytes arrived before the "
            f"server closed the connection. Nothing was kept; run the command again."
        )


def fetch(remote: Remote, dest: Path, *, check=None) -> Path:
    """Download `remote` to `dest` atomically: a `.part` file is verified, then renamed into place.

    `check(part)`, if given, runs after the checksum and may raise `ChecksumError` (e.g. a weights file
    that HDF5 cannot read). A killed download leaves only the `.part` file, which nothing ever reads and
    the next download into the same folder removes (`clean_stale`), so a later run can never trust a
    half-written file. A connection closed before `Content-Length` bytes arrived raises
    `DownloadInterruptedError`, whatever the checksum would have said.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(dest.parent)
    part = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    print(f"Downloading {remote.url} -> {dest}")
    try:
        _transfer(remote.url, part)
        verify(part, remote)
        if check is not None:
            check(part)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


#: What a failed download raises; `locate` and `python -m course download` turn these into clear messages.
DOWNLOAD_ERRORS = (OSError, http.client.HTTPException, ChecksumError, UnsafeArchiveError)


def _check_member(name: str, target: Path, is_link: bool) -> None:
    path = PurePosixPath(name)
    if is_link:
        raise UnsafeArchiveError(f"archive entry {name!r} is a link; links are refused")
    if path.is_absolute() or name.startswith(("/", "\\")) or ".." in path.parts or ":" in path.parts[0]:
        raise UnsafeArchiveError(f"archive entry {name!r} would be written outside {target}")


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a .zip/.tar(.gz) into `target`, refusing absolute paths, `..` entries and any link.

    Every entry is checked before anything is written, so an unsafe archive writes nothing at all. A
    damaged archive (a bad CRC, a cut-short file) raises `ChecksumError`; it may have written part of
    its entries, so extract into a staging folder (as `download` does).
    """
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                    _check_member(info.filename, target, is_link)
                zf.extractall(target)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for m in members:
                    _check_member(m.name, target, m.issym() or m.islnk())
                    if not (m.isfile() or m.isdir()):
                        raise UnsafeArchiveError(f"archive entry {m.name!r} is not a plain file or folder")
                tf.extractall(target, members=members, filter="data")
        else:
            raise ChecksumError(f"{archive.name} is not a complete zip or tar archive (cut short or damaged)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
        raise ChecksumError(f"{archive.name} is damaged and cannot be extracted ({type(err).__name__}: {err})") from None


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


def _check_grocery_files(root: Path) -> None:
    missing = [
        line.split(",")[0]
        for split in ("train", "val", "test")
        for line in (root / f"{split}.txt").read_text().splitlines()
        if line.strip() and not (root / line.split(",")[0]).exists()
    ]
    if missing:
        raise ChecksumError(f"Grocery Store Dataset incomplete: {len(missing)} listed files missing, e.g. {missing[0]}")


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


def _damage_fix(name: str, root: Path) -> str:
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
    if _SOURCES[name].startswith("STAND-IN"):
        return _digits_as_mnist()
    try:
        x_train, y_train, x_test, y_test = (read_idx(root / f, kind) for f, kind in
                                            zip(_IDX, ("images", "labels", "images", "labels")))
        for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
            if len(x) != len(y):
                raise DamagedDataError(f"{root}: {len(x):,} {split} images but {len(y):,} labels; the files do not "
                                       f"belong together (mixed from two copies, or one is damaged).")
    except DamagedDataError as err:
        raise DamagedDataError(f"{name}: {err} {_damage_fix(name, root)}") from None
    _SOURCES[name] += f" ({len(x_train):,} train / {len(x_test):,} test)"
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


def _digits_as_mnist():
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


# --- image-folder stand-ins --------------------------------------------------------------------


@dataclass
class _FolderSpec:
    splits: dict[str, int] = field(default_factory=dict)  # split folder -> images per class
    classes: tuple[str, ...] = ()


def _digit_jpeg(img: np.ndarray, path: Path, size: int = 96) -> None:
    from PIL import Image

    grey = Image.fromarray((255 - img * (255 / 16)).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    grey.convert("RGB").save(path, quality=90)


def _build_standin(name: str) -> Path:
    """Build (once) a small folder in the dataset's own layout from scikit-learn's real digit images."""
    from sklearn.datasets import load_digits

    root = paths.cache_dir() / "standin" / DATASETS[name].folder
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
