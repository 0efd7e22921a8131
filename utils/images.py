"""Folders of images from the real world: check them before training, then read them with tf.data.

A learner's own folder holds corrupt downloads, PNGs with alpha, greyscale scans, `.DS_Store` and
empty class folders. `scan_image_folder` finds all of that up front and reports it in one table,
instead of letting TensorFlow fail deep inside `fit` with a message that names no file.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
IGNORED_NAMES = {"thumbs.db", "desktop.ini", "license.txt", "readme.md", "readme.txt"}
MAX_PIXELS = 50_000_000  # larger photos are almost always mistakes (panoramas, scans) and exhaust memory


class ImageFolderError(ValueError):
    """The folder cannot be used as it is; the message names the files and says what to do."""


@dataclass
class ImageFolder:
    """The result of `scan_image_folder`: usable files with labels, and everything that was not used."""

    root: Path
    class_names: list[str]
    files: list[str]
    labels: list[int]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): bad, left out
    converted: list[tuple[str, str]] = field(default_factory=list)  # (path, note): used after conversion
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): not images at all

    def counts(self) -> dict[str, int]:
        return {name: self.labels.count(i) for i, name in enumerate(self.class_names)}

    def report(self) -> str:
        """A plain-text summary: classes and counts, then each problem with its file."""
        lines = [f"{self.root}: {len(self.files):,} usable images in {len(self.class_names)} classes"]
        lines += [f"  {name:<24} {n:>6,}" for name, n in self.counts().items()]
        for title, items in (
            ("Left out (bad files)", self.skipped),
            ("Converted to RGB", self.converted),
            ("Ignored (not images)", self.ignored),
        ):
            if items:
                lines.append(f"{title}: {len(items)}")
                lines += [f"  {path}: {why}" for path, why in items[:20]]
                if len(items) > 20:
                    lines.append(f"  ... and {len(items) - 20} more")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):  # IPython shows the report when the object ends a cell
        p.text(self.report())


def check_image_file(path: Path) -> tuple[str, str]:
    """Classify one file: ("ok" | "convert" | "bad", reason). Decodes it, so truncation is caught."""
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size == 0:
        return "bad", "empty file (0 bytes)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    return "bad", f"too large ({width}x{height} pixels); resize it below {MAX_PIXELS:,} pixels"
                fmt, mode = im.format, im.mode
                im.draft("RGB", (64, 64))  # JPEG: decode at reduced scale; still reads every byte
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "bad", "too large to decode safely (decompression-bomb limit)"
    except UnidentifiedImageError:
        return "bad", "not an image (the content is not JPEG/PNG/BMP/GIF, whatever the name says)"
    except (OSError, SyntaxError, ValueError) as err:
        return "bad", f"corrupt or truncated image data ({err})"
    if mode not in ("RGB", "L"):
        return "convert", f"{fmt} in mode {mode}: read as RGB (alpha/palette/16-bit dropped)"
    if mode == "L":
        return "convert", "greyscale: read as RGB (grey copied to three channels)"
    return "ok", ""


def scan_image_folder(root: str | Path, *, skip_bad: bool = False, min_classes: int = 2) -> ImageFolder:
    """Check a folder with one sub-folder per class before any training.

    Hidden and non-image files are ignored (and listed). Greyscale, alpha, palette, CMYK and 16-bit
    images are accepted and read as RGB. Unreadable, truncated, empty or oversized files, and empty class
    folders, are problems: with `skip_bad=False` (the default) they raise `ImageFolderError` naming each
    file; with `skip_bad=True` they are left out and listed in `.skipped`. Images in nested sub-folders
    count for their top-level class, as in `keras.utils.image_dataset_from_directory`.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise ImageFolderError(f"DATA_DIR must be a folder path (a string), got {root!r} ({type(root).__name__}).")
    root = Path(root).expanduser()
    if not root.is_dir():
        where = "" if root.is_absolute() else f" (relative to the current folder {Path.cwd()})"
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise ImageFolderError(
            f"{root}{where} {what}. Point DATA_DIR at a folder that has one sub-folder per class, "
            f"e.g. flowers/roses/*.jpg and flowers/tulips/*.jpg."
        )
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = ImageFolder(root=root, class_names=[], files=[], labels=[])
    empty = []
    for class_dir in class_dirs:
        members = []
        for path in sorted(class_dir.rglob("*")):
            rel = str(path.relative_to(root))
            if path.is_dir():
                continue
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                found.ignored.append((rel, "hidden file"))
            elif path.suffix.lower() not in IMAGE_EXTENSIONS or path.name.lower() in IGNORED_NAMES:
                found.ignored.append((rel, f"not an image file type ({path.suffix or 'no extension'})"))
            else:
                status, why = check_image_file(path)
                if status == "bad":
                    found.skipped.append((rel, why))
                    continue
                if status == "convert":
                    found.converted.append((rel, why))
                members.append(str(path))
        if not members:
            empty.append(class_dir.name)
            continue
        found.labels += [len(found.class_names)] * len(members)
        found.class_names.append(class_dir.name)
        found.files += members
    found.skipped += [(name + "/", "empty class folder (no usable images)") for name in empty]
    if found.skipped and not skip_bad:
        listing = "\n".join(f"  {p}: {why}" for p, why in found.skipped[:20])
        more = f"\n  ... and {len(found.skipped) - 20} more" if len(found.skipped) > 20 else ""
        raise ImageFolderError(
            f"{len(found.skipped)} problem(s) in {root}:\n{listing}{more}\n"
            f"Fix or delete these files, or pass skip_bad=True (the notebooks' SKIP_BAD_IMAGES parameter) "
            f"to leave them out."
        )
    if len(found.class_names) < min_classes:
        loose = sum(1 for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        hint = (f" It holds {loose} image(s) directly: is it one class's folder? Point DATA_DIR at its parent."
                if loose else "")
        raise ImageFolderError(
            f"{root} has {len(found.class_names)} class folder(s) with images "
            f"({', '.join(found.class_names) or 'none'}); a classifier needs at least {min_classes}.{hint} "
            f"Put each class's images in its own sub-folder of {root}."
        )
    return found


def make_dataset(
    files,
    labels,
    image_size: tuple[int, int],
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int | None = None,
    cache: bool = False,
    augment=None,
):
    """A `tf.data` pipeline of (image, label) batches: parallel decode to RGB, resize, batch, prefetch.

    Images come out as float32 in [0, 255] (the range `keras.applications.*.preprocess_input` expects).
    `cache=True` keeps the decoded images in memory (as uint8) after the first complete pass. `augment`, a
    function of a batch of images (e.g. a `keras.Sequential` of preprocessing layers), runs on whole
    batches after batching, in parallel: far cheaper than augmenting one image at a time.
    """
    import tensorflow as tf

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize(image, image_size)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((list(files), list(labels)))
    if cache:  # decode once; keep uint8 images in memory (4x smaller than float32), shuffle those
        to_uint8 = lambda x, y: (tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8), y)  # noqa: E731
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).map(to_uint8).cache()
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if not cache:  # shuffle the file names (cheap), then decode in parallel
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if cache:
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y))
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
