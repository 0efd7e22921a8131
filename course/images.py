"""Folders of images from the real world: check them before training, then read them with tf.data.

A learner's own folder holds phone photos with a rotation flag, TIFF scans, WebP and HEIC downloads,
corrupt or cut-short files, `.DS_Store`, a `__MACOSX` folder, broken links, and sometimes a whole dataset
with `train/` and `test/` inside. `scan_image_folder` finds all of that up front and reports it in one
table, instead of letting TensorFlow fail deep inside `fit` with a message that names no file.

What is read (`FORMATS`): the check decodes every photo with the pipeline's own decoder
(`tf.io.decode_image`), so a file it accepts is a file the lessons' `tf.data` pipelines read, by a name
`tf.data` takes (a copy in the cache when the name is not UTF-8 text).

- JPEG, PNG, GIF (first frame), BMP (24/32-bit) and WebP are read as they are;
- TIFF, JPEG 2000, PPM/PGM/PBM, TGA, ICO, QOI, PSD, AVIF (where Pillow reads it), BMP and WebP variants
  TensorFlow cannot decode (1/4/8/16-bit or RLE BMPs, WebP with transparency or animation), and every
  photo whose EXIF orientation says "rotate me" (phone photos) are converted once into a corrected copy
  in the course's cache (`$COURSE_CACHE_DIR/converted-images/`, named by content), and listed;
- HEIC/HEIF (iPhone), JPEG XL, camera RAW and SVG files are refused by name, with how to convert them.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import paths, record, storage

#: Formats `tf.io.decode_image` reads (as Pillow names them; MPO is a JPEG with extra pictures appended).
TF_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP"}

#: File types the check reads as photos: decoded as they are, or converted into a copy.
IMAGE_EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".bmp", ".dib", ".webp",
    ".tif", ".tiff", ".jp2", ".j2k", ".jpf", ".jpx", ".jpc", ".j2c", ".ppm", ".pgm", ".pbm", ".pnm",
    ".tga", ".ico", ".qoi", ".psd", ".avif", ".mpo",
}  # fmt: skip

_CONVERT_HINT = ("Convert it to JPEG or PNG: an image editor can, or Pillow with the right plugin "
                 "(`Image.open('photo.xyz').save('photo.jpg')`).")

#: Photo formats the course cannot read, by extension: what they are and what to do.
UNREADABLE = {
    ".heic": "HEIC (Apple's iPhone photo format), which TensorFlow and Pillow cannot read. Convert it to JPEG: on "
             "the iPhone choose Settings > Camera > Formats > Most Compatible for new photos; on a Mac, Preview's "
             "File > Export; in Python, `pip install pillow-heif`, then Pillow can open and save it as JPEG.",
    ".heif": "HEIF (the HEIC family), which TensorFlow and Pillow cannot read. " + _CONVERT_HINT,
    ".hif": "HEIF (the HEIC family), which TensorFlow and Pillow cannot read. " + _CONVERT_HINT,
    ".jxl": "JPEG XL, which TensorFlow and Pillow cannot read. " + _CONVERT_HINT,
    ".svg": "SVG (a vector drawing, not a photo). Export it as PNG.",
    **{ext: "a camera RAW file, which the course cannot read (Pillow would only see its small preview). Export "
            "it as JPEG from your camera software."
       for ext in (".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw")},
}

IGNORED_NAMES = {"thumbs.db", "desktop.ini", "license.txt", "readme.md", "readme.txt"}
IGNORED_FOLDERS = {"__macosx": "macOS zip metadata (__MACOSX), not photos"}
#: Folder names that mean "a split of a dataset", not a class.
SPLIT_NAMES = {"train", "training", "test", "testing", "val", "valid", "validation"}
MAX_PIXELS = 50_000_000  # larger photos are almost always mistakes (panoramas, scans) and exhaust memory
_ORIENTATION = 0x0112  # the EXIF tag phones use instead of rotating the pixels
_CONVERTER = "v1"  # part of a converted copy's name: change it when the conversion changes


def _has_avif() -> bool:
    try:
        from PIL import features

        return bool(features.check("avif"))
    except Exception:  # noqa: BLE001 - an old Pillow without the feature table
        return False


if not _has_avif():
    UNREADABLE[".avif"] = ("AVIF, which this installation's Pillow cannot read (Pillow 11.3+ can: "
                           "`pip install -U pillow`). " + _CONVERT_HINT)

FORMATS = (
    "JPEG, PNG, GIF, BMP and WebP are read as they are; TIFF, JPEG 2000, PPM/PGM/PBM, TGA, ICO, QOI, PSD"
    + (", AVIF" if ".avif" not in UNREADABLE else "")
    + " and rotated phone photos are converted into a corrected copy; "
    + ", ".join(sorted({"HEIC/HEIF", "JPEG XL", "camera RAW", "SVG"} | ({"AVIF"} if ".avif" in UNREADABLE else set())))
    + " are not read (convert them to JPEG)"
)


class ImageFolderError(ValueError):
    """The folder cannot be used as it is; the message names the files and says what to do."""


def show(path) -> str:
    """A path as text that can always be printed: undecodable bytes (a Windows zip on Linux) as \\xNN."""
    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass
class ImageFolder:
    """The result of `scan_image_folder`: usable files with labels, and everything that was not used.

    `files` are the paths the pipeline reads (a converted copy where one was needed); `sources` are the
    user's own files, in the same order. Every list of problems holds `(path relative to root, why)`.
    """

    root: Path
    class_names: list[str]
    files: list[str]
    labels: list[int]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # bad or unreadable: left out
    converted: list[tuple[str, str]] = field(default_factory=list)  # used after a conversion (which one: why)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # not photos, hidden, outside class folders
    duplicates: list[tuple[str, ...]] = field(default_factory=list)  # the same photo (bytes) more than once
    sources: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: self.labels.count(i) for i, name in enumerate(self.class_names)}

    def dataframe(self):
        """The checked files as a pandas DataFrame (`filename`, `class`, `source`), for code that reads files itself.

        `ImageDataGenerator.flow_from_dataframe(folder.dataframe(), validate_filenames=False)` reads exactly
        what the scan kept (converted copies included), where `flow_from_directory` would read the folder
        again, bad files, unrotated phone photos and all. (`validate_filenames=True` would drop WebP and GIF.)
        """
        import pandas as pd

        return pd.DataFrame({"filename": self.files, "class": [self.class_names[i] for i in self.labels],
                             "source": self.sources})

    @property
    def cross_class_duplicates(self) -> list[tuple[str, ...]]:
        """Groups of identical photos filed under more than one class: their labels contradict each other."""
        return [group for group in self.duplicates if len({p.split("/", 1)[0] for p in group}) > 1]

    def report(self) -> str:
        """A plain-text summary: classes and counts, then each problem with its file."""
        lines = [f"{show(self.root)}: {len(self.files):,} usable images in {len(self.class_names)} classes"]
        lines += [f"  {show(name):<24} {n:>6,}" for name, n in self.counts().items()]
        cross = self.cross_class_duplicates
        for title, items in (
            ("Left out (bad files)", self.skipped),
            ("Converted", self.converted),
            ("Ignored (not photos, or outside the class folders)", self.ignored),
            ("WARNING: the same photo in several classes", [(" = ".join(g), "contradicting labels") for g in cross]),
            ("The same photo more than once in a class", [(" = ".join(g), "counted twice")
                                                          for g in self.duplicates if g not in cross]),
        ):
            if items:
                lines.append(f"{title}: {len(items)}")
                lines += [f"  {show(path)}: {why}" for path, why in items[:20]]
                if len(items) > 20:
                    lines.append(f"  ... and {len(items) - 20} more")
        if self.skipped or self.converted:
            lines.append(f"Formats: {FORMATS}.")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):  # IPython shows the report when the object ends a cell
        p.text(self.report())


# --- one file ----------------------------------------------------------------------------------


@dataclass
class ImageCheck:
    """What `inspect_image` found: "ok" (read as is), "convert" (read after a conversion), "bad" (left out)."""

    status: str
    reason: str = ""
    path: str = ""  # what the pipeline reads: the file itself, or its converted copy
    digest: str = ""  # sha256 of the file's bytes (finds duplicates)


def _tf_problem(data: bytes, fmt: str, pixels: int) -> str | None:
    """Why the pipeline's decoder (`tf.io.decode_image`, as the lessons read photos) refuses these bytes; None if it reads them."""
    import tensorflow as tf

    try:
        if fmt in ("JPEG", "MPO") and pixels > 4_000_000:  # the same decoder at 1/8 scale: every byte, 3x faster
            tf.io.decode_jpeg(data, channels=3, ratio=8)
        else:
            tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.OpError, ValueError) as err:
        message = getattr(err, "message", str(err))
        message = message.split("}}")[-1].split("[Op:")[0].strip()
        return message or type(err).__name__
    return None


def _sniff(data: bytes, ext: str) -> str:
    """What a file Pillow cannot identify holds, in words, with what to do."""
    head = data[:512].lstrip().lower()
    brand = data[8:12] if data[4:8] == b"ftyp" else b""
    if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return "HEIC/HEIF photo data" + (f" in a {ext} file" if ext not in (".heic", ".heif", ".hif") else "") + \
            ": " + UNREADABLE[".heic"]
    if brand in (b"avif", b"avis"):
        return "AVIF photo data: " + UNREADABLE.get(".avif", "this Pillow cannot read it. " + _CONVERT_HINT)
    if data[:2] == b"\xff\x0a" or data[4:8] == b"JXL ":
        return "JPEG XL data: " + UNREADABLE[".jxl"]
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]:
        return "an HTML page, not a photo (a failed or blocked download saved under an image name): download it again"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG drawing: " + UNREADABLE[".svg"]
    if data[:4] == b"%PDF":
        return "a PDF document, not a photo: export its pages as JPEG or PNG"
    if data[:4] == b"PK\x03\x04":
        return "a zip archive, not a photo: unpack it into the class folder"
    return f"not an image (the content is no format the course reads, whatever the name says; the course reads {FORMATS})"


def _cache_folder() -> Path:

    return paths.cache_dir() / "converted-images"


def _converted_copy(content, digest: str, suffix: str) -> str:
    """Write `content` (bytes, or a function that writes a given path) once into the cache, named by the
    source's content and `suffix`; atomic. Returns its path."""
    path = _cache_folder() / f"{digest[:24]}-{_CONVERTER}{suffix}"
    if path.is_file() and path.stat().st_size > 0:
        return str(path)
    storage.write_atomic(path, content)
    return str(path)


def _to_rgb(im):
    """A Pillow image as 8-bit RGB or L, for a copy TensorFlow reads the same way: 16-bit keeps its high byte."""
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(im).astype(np.int64)
        shift = 8 if array.max(initial=0) > 255 else 0
        return Image.fromarray((np.clip(array, 0, 65535) >> shift).astype(np.uint8), "L")
    if im.mode == "F":
        array = np.asarray(im, dtype=np.float64)
        scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        return Image.fromarray(np.clip(array * scale, 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGB", "L"):
        return im
    return im.convert("RGB")


def inspect_image(path) -> ImageCheck:
    """Check one file the way the pipeline will read it. Never raises: a problem is a "bad" result."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = os.fsdecode(path)
    ext = os.path.splitext(path)[1].lower()
    try:
        st = os.stat(path)
    except OSError as err:
        if os.path.islink(path):
            if err.errno == errno.ELOOP:
                return ImageCheck("bad", "a link that points to itself (a link loop)")
            return ImageCheck("bad", f"a broken link: it points to {show(os.readlink(path))}, which does not exist")
        return ImageCheck("bad", f"cannot be read ({err.strerror or err})")
    if not stat.S_ISREG(st.st_mode):
        return ImageCheck("bad", "not a regular file (a device, pipe or socket)")
    if st.st_size == 0:
        return ImageCheck("bad", "empty file (0 bytes)")
    if ext in UNREADABLE:
        return ImageCheck("bad", UNREADABLE[ext])
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        hint = ": check its permissions" if isinstance(err, PermissionError) else ""
        return ImageCheck("bad", f"cannot be read ({err.strerror or err}){hint}")
    digest = hashlib.sha256(data).hexdigest()
    try:  # (no warnings.catch_warnings here: it is not thread-safe; MAX_PIXELS is below Pillow's warning limit)
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            fmt, mode = im.format, im.mode
            frames = getattr(im, "n_frames", 1)
            orientation = im.getexif().get(_ORIENTATION, 1)
            transparent = "transparency" in im.info
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return ImageCheck("bad", "too large to decode safely (decompression-bomb limit)", digest=digest)
    except UnidentifiedImageError:
        return ImageCheck("bad", _sniff(data, ext), digest=digest)
    except Exception as err:  # noqa: BLE001 - any Pillow plugin error means "cannot be read"
        return ImageCheck("bad", f"corrupt or truncated image data ({err})", digest=digest)
    if width * height > MAX_PIXELS:
        return ImageCheck("bad", f"too large ({width}x{height} pixels); resize it below {MAX_PIXELS:,} pixels",
                          digest=digest)
    named = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".gif": "GIF",
             ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext)
    misnamed = f"{fmt} data in a {ext} file" if named and named != fmt and not {named, fmt} <= {"JPEG", "MPO"} else fmt

    why_copy = None
    if isinstance(orientation, int) and 2 <= orientation <= 8:
        why_copy = f"{misnamed} with EXIF orientation {orientation} (a phone photo): rotated upright into a copy"
    elif fmt not in TF_FORMATS:
        why_copy = f"{misnamed}, which TensorFlow cannot decode: converted into a copy"
    elif fmt == "BMP" and _bmp_bits(data) not in (24, 32):
        why_copy = f"{_bmp_bits(data)}-bit BMP, which TensorFlow misreads or cannot decode: converted into a copy"
    else:
        problem = _tf_problem(data, fmt, width * height)
        if problem and fmt in ("JPEG", "MPO", "PNG"):
            return ImageCheck("bad", f"damaged {misnamed}: TensorFlow cannot decode it ({problem}). Download or "
                                     f"export it again, or delete it", digest=digest)
        if problem:
            why_copy = f"{misnamed} variant TensorFlow cannot decode ({problem}): converted into a copy"
    if why_copy:
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                upright = _to_rgb(ImageOps.exif_transpose(im))
                lossy = fmt in ("JPEG", "MPO") or (fmt == "WEBP" and b"VP8L" not in data[:64])
                copy = _converted_copy(lambda tmp: upright.save(tmp, format="JPEG", quality=95) if lossy
                                       else upright.save(tmp, format="PNG"), digest, ".jpg" if lossy else ".png")
        except storage.StorageError as err:
            return ImageCheck("bad", f"needs a converted copy, which cannot be written: {err}", digest=digest)
        except OSError as err:
            if getattr(err, "filename", None) or isinstance(err, PermissionError):
                return ImageCheck("bad", f"needs a converted copy, which cannot be written to {show(_cache_folder())} "
                                         f"({err.strerror or err}): set COURSE_CACHE_DIR to a writable folder",
                                  digest=digest)
            return ImageCheck("bad", f"corrupt or truncated {misnamed} ({err})", digest=digest)
        except Exception as err:  # noqa: BLE001 - any Pillow plugin error while decoding
            return ImageCheck("bad", f"corrupt or truncated {misnamed} ({err})", digest=digest)
        with open(copy, "rb") as f:
            problem = _tf_problem(f.read(), "PNG", 0)
        if problem:  # never expected: the copy is a plain PNG/JPEG
            return ImageCheck("bad", f"its converted copy {copy} cannot be decoded ({problem})", digest=digest)
        return ImageCheck("convert", f"{why_copy} ({show(copy)})", copy, digest)
    notes = {
        "L": "greyscale: read as RGB (grey copied to three channels)",
        "LA": "greyscale with alpha: read as RGB (alpha dropped)",
        "1": "black-and-white: read as RGB",
        "P": f"{fmt} with a palette: read as RGB" + (" (transparency dropped)" if transparent else ""),
        "PA": f"{fmt} with a palette and alpha: read as RGB (alpha dropped)",
        "RGBA": f"{fmt} with alpha: read as RGB (alpha dropped)",
        "CMYK": "CMYK JPEG: read as RGB",
        "I;16": "16-bit: read as 8-bit",
        "I": "16-bit: read as 8-bit",
    }
    note = notes.get(mode) or (f"{fmt} in mode {mode}: read as RGB" if mode != "RGB" else "")
    if frames > 1:
        note = "; ".join(filter(None, [note, f"{'animated ' if fmt != 'MPO' else ''}{fmt} with {frames} "
                                              f"{'pictures' if fmt == 'MPO' else 'frames'}: the first is used"]))
    if not _is_utf8(path):  # bytes from an old zip or disk: tf.data cannot take the name as a string
        try:
            copy = _converted_copy(data, digest, f"-same{ext.lower() if _is_utf8(ext) else ''}")  # the bytes as they are
        except (storage.StorageError, OSError) as err:
            return ImageCheck("bad", f"its name is not UTF-8 text, which TensorFlow cannot take, and a copy under "
                                     f"another name cannot be written ({err}): rename the file", digest=digest)
        note = "; ".join(filter(None, [note, f"its name is not UTF-8 text, which TensorFlow cannot take: read from "
                                              f"a copy ({show(copy)})"]))
        return ImageCheck("convert", note, copy, digest)
    return ImageCheck("convert" if note else "ok", note, path, digest)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # a byte that is not UTF-8, kept by os.fsdecode as a lone surrogate
        return False


def _bmp_bits(data: bytes) -> int:
    header = int.from_bytes(data[14:18], "little")
    offset = 24 if header == 12 else 28
    return int.from_bytes(data[offset:offset + 2], "little")


def check_image_files(paths, *, skip_bad: bool = False, where: str = "", workers: int | None = None) -> ImageFolder:
    """Check a list of photos (e.g. a dataset's split file) the way `scan_image_folder` checks a folder.

    Returns an `ImageFolder` whose `files` are the paths to read, `sources` the given ones and `labels`
    their positions in `paths` (to select the matching rows). Bad files raise `ImageFolderError` naming
    each one, or with `skip_bad=True` are left out and listed in `.skipped`.
    """
    paths = [os.fsdecode(p) for p in paths]
    found = ImageFolder(root=Path(where or "."), class_names=[], files=[], labels=[])
    results = _inspect_all(paths, workers)
    by_digest: dict[str, list[str]] = {}
    for i, (path, result) in enumerate(zip(paths, results)):
        if result.status == "bad":
            found.skipped.append((path, result.reason))
            continue
        if result.status == "convert":
            found.converted.append((path, result.reason))
        found.files.append(result.path)
        found.sources.append(path)
        found.labels.append(i)
        by_digest.setdefault(result.digest, []).append(path)
    found.duplicates = [tuple(group) for group in by_digest.values() if len(group) > 1]
    if found.skipped and not skip_bad:
        raise ImageFolderError(_problem_list(found.skipped, where or "the listed files") + "\n" + _skip_hint())
    return found


def _inspect_all(paths: list[str], workers: int | None = None) -> list[ImageCheck]:
    if paths:
        import tensorflow  # noqa: F401 - once, here, not concurrently in the workers
    workers = workers or min(8, os.cpu_count() or 1)
    if workers == 1 or len(paths) < 8:
        return [inspect_image(p) for p in paths]
    with ThreadPoolExecutor(workers) as pool:  # Pillow, hashing and TensorFlow's decoders release the GIL
        return list(pool.map(inspect_image, paths))


def _skip_hint() -> str:
    """How to leave bad files out, naming the notebook parameter only where this run has one."""
    if "SKIP_BAD_IMAGES" in record.current().parameters:
        return ("Fix: repair or delete these files, or set SKIP_BAD_IMAGES = True (or `-p SKIP_BAD_IMAGES=True`) to "
                "leave them out.")
    return "Fix: repair or delete these files, or pass skip_bad=True to leave them out (they are listed, never used)."


def _problem_list(items: list[tuple[str, str]], where) -> str:
    listing = "\n".join(f"  {show(p)}: {why}" for p, why in items[:20])
    more = f"\n  ... and {len(items) - 20} more" if len(items) > 20 else ""
    return f"{len(items)} problem(s) in {show(where)}:\n{listing}{more}"


# --- a folder ----------------------------------------------------------------------------------


def _point(target: str) -> str:
    """"Point DATA_DIR at <target>" where this run has a DATA_DIR parameter, else "Use <target>"."""
    return f"Point DATA_DIR at {target}" if "DATA_DIR" in record.current().parameters else f"Use {target}"


def _list_dir(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as entries:
        return sorted(entries, key=lambda e: os.fsencode(e.name))


def _walk(folder: str, rel: str, found: ImageFolder, visited: set[str], files: list[tuple[str, str]],
          root_real: str) -> None:
    """Collect `(path, rel)` of candidate photo files under `folder`, listing everything left out and why."""
    try:
        entries = _list_dir(folder)
    except OSError as err:
        found.skipped.append((rel + "/", f"folder cannot be read ({err.strerror or err}): fix its permissions, "
                                         f"or move its photos into a readable folder"))
        return
    for entry in entries:
        name = entry.name
        child_rel = f"{rel}/{name}" if rel else name
        if name.startswith("."):
            found.ignored.append((child_rel, "hidden " + ("folder" if _is_dir(entry) else "file")))
            continue
        if name.lower() in IGNORED_FOLDERS and _is_dir(entry):
            found.ignored.append((child_rel + "/", IGNORED_FOLDERS[name.lower()]))
            continue
        try:
            st = os.stat(entry.path)
        except OSError as err:
            is_photo = os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
            if entry.is_symlink():
                target = show(os.readlink(entry.path))
                why = ("a link that points to itself (a link loop)" if err.errno == errno.ELOOP
                       else f"a broken link: it points to {target}, which does not exist")
            else:
                why = f"cannot be read ({err.strerror or err})"
            (found.skipped if is_photo or not os.path.splitext(name)[1] else found.ignored).append((child_rel, why))
            continue
        if stat.S_ISDIR(st.st_mode):
            real = os.path.realpath(entry.path)
            if real in visited or _contains(real, root_real):
                what = "already scanned" if real in visited else "that contains the scanned folder (a loop)"
                found.ignored.append((child_rel + "/", f"a link to a folder {what} ({show(real)}): not read again"))
                continue
            visited.add(real)
            _walk(entry.path, child_rel, found, visited, files, root_real)
        elif not stat.S_ISREG(st.st_mode):
            found.ignored.append((child_rel, "not a regular file (a device, pipe or socket)"))
        elif name.lower() in IGNORED_NAMES:
            found.ignored.append((child_rel, "not a photo (a system or licence file)"))
        else:
            ext = os.path.splitext(name)[1].lower()
            if ext in IMAGE_EXTENSIONS or ext in UNREADABLE:
                files.append((entry.path, child_rel))
            else:
                found.ignored.append((child_rel, f"not an image file type ({ext or 'no extension'})"))


def _contains(outer: str, inner: str) -> bool:
    try:
        return os.path.commonpath([outer, inner]) == outer
    except ValueError:  # different drives
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _resolve_root(root) -> Path:
    if isinstance(root, bytes):
        root = os.fsdecode(root)
    if not isinstance(root, (str, os.PathLike)):
        raise ImageFolderError(f"DATA_DIR must be a folder path (a string), got {root!r} ({type(root).__name__}).")
    if isinstance(root, str) and not root.strip():
        raise ImageFolderError("The folder path is empty (''). Give the folder that has one sub-folder per class, "
                               "e.g. 'flowers' holding flowers/roses/*.jpg and flowers/tulips/*.jpg.")
    root = Path(os.fsdecode(root)).expanduser()
    example = "e.g. flowers/roses/*.jpg and flowers/tulips/*.jpg"
    where = "" if root.is_absolute() else f" (relative to the current folder {show(Path.cwd())})"
    try:
        st = os.stat(root)
    except OSError as err:
        if os.path.islink(root):
            what = ("is a link that points to itself (a link loop)" if err.errno == errno.ELOOP
                    else f"is a broken link to {show(os.readlink(root))}, which does not exist")
        elif err.errno == errno.ENOENT:
            what = "does not exist"
        else:
            what = f"cannot be reached ({err.strerror or err})"
        raise ImageFolderError(f"{show(root)}{where} {what}. {_point('a folder that has one sub-folder per class')}, "
                               f"{example}.") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ImageFolderError(f"{show(root)}{where} is a file, not a folder. "
                               f"{_point('a folder that has one sub-folder per class')}, {example}.")
    return root


def _split_folders(class_dirs: list[os.DirEntry]) -> list[os.DirEntry]:
    """Top-level folders that are a dataset's splits (train/, test/, ...) rather than classes.

    Two or more split names; or one, alone, holding folders; or one whose folders repeat its siblings'
    names (cats/, dogs/, test/cats/, test/dogs/). A class of trains (train/2019/*.jpg beside car/) is a class.
    """
    splits = [d for d in class_dirs if d.name.lower() in SPLIT_NAMES]
    if len(splits) != 1:
        return splits if len(splits) >= 2 else []
    try:
        inner = {e.name for e in _list_dir(splits[0].path) if _is_dir(e) and not e.name.startswith(".")}
    except OSError:
        return []
    siblings = {d.name for d in class_dirs} - {splits[0].name}
    return splits if inner and (not siblings or inner & siblings) else []


def scan_image_folder(root, *, skip_bad: bool = False, min_classes: int = 2, workers: int | None = None) -> ImageFolder:
    """Check a folder with one sub-folder per class before any training.

    Every photo is decoded with the pipeline's own decoder; what needs converting (rotated phone photos,
    TIFF, ...) is converted once into a cached copy, used instead, and listed in `.converted` (see
    `FORMATS`). Hidden files, non-photos, files outside the class folders and links to folders already
    scanned are listed in `.ignored`. Unreadable, truncated, empty or oversized files, photo formats the
    course cannot read (HEIC), broken links, unreadable folders and empty class folders are problems:
    with `skip_bad=False` (the default) they raise `ImageFolderError` naming each one; with
    `skip_bad=True` they are left out and listed in `.skipped`. The same photo filed under two classes
    is warned about (`.duplicates`). A folder holding `train/` and `test/` (a whole dataset) is refused
    with the path to use. Images in nested sub-folders count for their top-level class, as in
    `keras.utils.image_dataset_from_directory`; links are followed, each folder read once.
    """
    root = _resolve_root(root)
    found = ImageFolder(root=root, class_names=[], files=[], labels=[])
    try:
        top = _list_dir(str(root))
    except OSError as err:
        fix = _point("a readable copy of your photos")
        raise ImageFolderError(f"{show(root)} cannot be read ({err.strerror or err}). Fix its permissions, or "
                               f"{fix[0].lower()}{fix[1:]}.") from None
    class_dirs, loose = [], []
    for entry in top:
        if entry.name.startswith("."):
            found.ignored.append((entry.name + ("/" if _is_dir(entry) else ""), "hidden"))
        elif entry.name.lower() in IGNORED_FOLDERS and _is_dir(entry):
            found.ignored.append((entry.name + "/", IGNORED_FOLDERS[entry.name.lower()]))
        elif _is_dir(entry):
            class_dirs.append(entry)
        else:
            loose.append(entry)
    splits = _split_folders(class_dirs)
    if splits:
        names = ", ".join(show(d.name) + "/" for d in splits)
        first = next((d for d in splits if d.name.lower() in ("train", "training")), splits[0])
        others = [d for d in splits if d is not first]
        test = next((d for d in others if d.name.lower() in ("test", "testing")), others[0] if others else None)
        raise ImageFolderError(
            f"{show(root)} holds {names}: a dataset already split into train/test, not one folder per class "
            f"(training on it would learn '{show(splits[0].name)}' versus '{show(splits[-1].name)}'). "
            f"{_point('one split')}, e.g. {show(Path(first.path))} (its sub-folders are the classes)"
            + (f", and use {show(Path(test.path))} for testing." if test else "."))
    root_real = os.path.realpath(root)
    visited = {root_real}
    per_class: list[tuple[str, list[tuple[str, str]]]] = []
    for class_dir in class_dirs:
        real = os.path.realpath(class_dir.path)
        if real in visited or _contains(real, root_real):
            what = "already scanned" if real in visited else "that contains the scanned folder (a loop)"
            found.ignored.append((class_dir.name + "/", f"a link to a folder {what} ({show(real)}): not read again"))
            continue
        visited.add(real)
        files: list[tuple[str, str]] = []
        _walk(class_dir.path, class_dir.name, found, visited, files, root_real)
        per_class.append((class_dir.name, files))
    for entry in loose:
        ext = os.path.splitext(entry.name)[1].lower()
        if entry.is_symlink() and not os.path.exists(entry.path):
            try:
                os.stat(entry.path)
                why = "a broken link"
            except OSError as err:
                why = ("a link that points to itself (a link loop)" if err.errno == errno.ELOOP else
                       f"a broken link: it points to {show(os.readlink(entry.path))}, which does not exist")
            found.skipped.append((entry.name, why))
        else:
            kind = "a photo" if ext in IMAGE_EXTENSIONS else "a file"
            found.ignored.append((entry.name, f"{kind} directly in the folder, not in a class folder: "
                                              f"move it into its class's sub-folder to use it"))

    results = iter(_inspect_all([p for _, files in per_class for p, _ in files], workers))
    by_digest: dict[str, list[str]] = {}
    empty = {}  # class folder -> how many of its files were left out
    for name, files in per_class:
        members, sources = [], []
        for path, rel in files:
            result = next(results)
            if result.status == "bad":
                found.skipped.append((rel, result.reason))
                continue
            if result.status == "convert":
                found.converted.append((rel, result.reason))
            members.append(result.path)
            sources.append(path)
            by_digest.setdefault(result.digest, []).append(rel)
        if not members:
            empty[name] = len(files)
            continue
        found.labels += [len(found.class_names)] * len(members)
        found.class_names.append(show(name))
        found.files += members
        found.sources += sources
    found.skipped += [(name + "/", f"every one of its {n} file(s) was left out (listed above): no usable image is "
                                   f"left in this class" if n else "empty class folder (no files in it)")
                      for name, n in empty.items()]
    found.duplicates = [tuple(group) for group in by_digest.values() if len(group) > 1]
    if found.skipped and not skip_bad:
        raise ImageFolderError(_problem_list(found.skipped, root) + "\n" + _skip_hint())
    if len(found.class_names) < min_classes:
        photos = [e.name for e in loose if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS]
        hint = (f" It holds {len(photos)} image(s) directly: is it one class's folder? "
                f"{_point('its parent')}." if photos else "")
        raise ImageFolderError(
            f"{show(root)} has {len(found.class_names)} class folder(s) with images "
            f"({', '.join(show(n) for n in found.class_names) or 'none'}); a classifier needs at least "
            f"{min_classes}.{hint} Put each class's images in its own sub-folder of {show(root)}."
        )
    cross = found.cross_class_duplicates
    if cross:
        listed = "; ".join(" = ".join(show(p) for p in group) for group in cross[:5])
        warnings.warn(f"{len(cross)} photo(s) are filed under more than one class in {show(root)}, with "
                      f"contradicting labels: {listed}. Keep each photo in its one right class folder.",
                      UserWarning, stacklevel=2)
    return found


#: The extensions `keras.utils.image_dataset_from_directory` lists (`ALLOWLIST_FORMATS`); it skips others.
KERAS_FOLDER_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def link_folder(target, files, labels, class_names) -> Path:
    """A fresh folder `target/<class>/<photo>` of links to `files`, for code that reads a folder itself.

    `keras.utils.image_dataset_from_directory(folder.root)` would read the folder as it is: the files the
    check left out, phone photos without their rotation, a `__MACOSX` folder as a class. Given the
    checked `files` (converted copies in place of the originals), this folder holds exactly those.
    A file whose extension Keras does not list (`.webp`) gets `.png` appended: TensorFlow's decoder
    reads the content, not the name. Where links are not allowed (Windows without developer mode) the
    files are copied.
    """
    import shutil

    target = Path(target)
    labels = [int(label) for label in labels]
    if len(files) != len(labels):
        raise ValueError(f"link_folder got {len(files):,} files but {len(labels):,} labels")
    if target.exists():
        shutil.rmtree(target)
    used: dict[int, set[str]] = {}
    for path, label in zip(files, labels):
        name = os.path.basename(os.fspath(path))
        if os.path.splitext(name)[1].lower() not in KERAS_FOLDER_FORMATS:
            name += ".png"
        taken = used.setdefault(label, set())
        if name.lower() in taken:  # the same name in two sub-folders of one class
            name = f"{len(taken):05d}_{name}"
        taken.add(name.lower())
        link = target / class_names[label] / name
        link.parent.mkdir(parents=True, exist_ok=True)
        source = os.path.abspath(os.fspath(path))
        try:
            os.symlink(source, link)
        except OSError:
            shutil.copy2(source, link)
    return target
