"""Adversarial photos, as learners bring them: each file gets one exact outcome, and what is used decodes right.

One folder holds every case; it is scanned once (`skip_bad=True`), then each case checks its outcome:

- "ok": read as it is, listed nowhere;
- "tf": read as it is, listed in `.converted` because TensorFlow converts it on the fly (grey, alpha, ...);
- "copy": converted into a corrected copy in the cache, which the pipeline reads instead, listed;
- "bad": left out and listed in `.skipped` with the words given (a problem: raised without `skip_bad`);
- "ignore": not a photo, listed in `.ignored`.

Every used file is then decoded with the pipeline's decoder and compared with the picture the user sees
(EXIF rotation applied, first frame of an animation, high byte of 16-bit data).
"""

import io
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, features

from conftest import read_like_the_lessons
from course.images import ImageFolderError, scan_image_folder

tf = pytest.importorskip("tensorflow")

H, W = 24, 32  # not square, so a missed rotation changes the shape


def picture(h=H, w=W):
    """A smooth picture (JPEG keeps it): red grows to the right, green downwards."""
    y, x = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w, 3), np.uint8)
    out[..., 0] = x * 255 // (w - 1)
    out[..., 1] = y * 255 // (h - 1)
    out[..., 2] = 100
    return out


PIC = picture()
GREY = PIC[..., 0]
ORIENTED = {  # EXIF orientation -> what the viewer shows, computed without Pillow
    2: PIC[:, ::-1], 3: PIC[::-1, ::-1], 4: PIC[::-1], 5: PIC.transpose(1, 0, 2),
    6: np.rot90(PIC, -1), 7: PIC[::-1, ::-1].transpose(1, 0, 2), 8: np.rot90(PIC, 1),
}


def _save(path, image, fmt=None, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **kw)


def _bytes(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _encoded(image, fmt, **kw):
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb(fmt="JPEG", **kw):
    return lambda p: _save(p, Image.fromarray(PIC), fmt, **({"quality": 95} if fmt == "JPEG" else {}) | kw)


def mode(m, fmt="PNG"):
    return lambda p: _save(p, Image.fromarray(PIC).convert(m), fmt)


def see_through(fmt, **kw):
    """RGB with real transparency (a fully opaque alpha channel is dropped by some encoders)."""
    alpha = np.full((H, W, 1), 255, np.uint8)
    alpha[:, W // 2:] = 60
    return lambda p: _save(p, Image.fromarray(np.concatenate([PIC, alpha], axis=2), "RGBA"), fmt, **kw)


def exif(orientation, fmt="JPEG", **kw):
    tags = Image.Exif()
    tags[0x0112] = orientation
    extra = {"quality": 95} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    return lambda p: _save(p, Image.fromarray(PIC), fmt, exif=tags.tobytes(), **extra, **kw)


def sixteen(fmt="PNG"):
    return lambda p: _save(p, Image.fromarray(GREY.astype(np.uint16) * 257 + 3), fmt)


def animated(fmt, **kw):
    frames = [Image.fromarray(PIC), Image.fromarray(255 - PIC)]
    if fmt == "GIF":
        frames = [f.convert("P") for f in frames]
    return lambda p: _save(p, frames[0], fmt, save_all=True, append_images=frames[1:], **kw)


def damaged(fmt, how):
    def write(p):
        data = bytearray(_encoded(Image.fromarray(picture(64, 64)), fmt))
        if how == "cut":
            data = data[: len(data) * 2 // 3]
        elif how == "end":
            data = data[:-12] if fmt == "PNG" else data[:-2]
        elif how == "idat":  # a flipped byte inside the compressed pixels (their CRC no longer matches)
            data[data.index(b"IDAT") + 20] ^= 0xFF
        elif how == "sof":  # the frame header of a JPEG: width becomes 0
            i = data.index(b"\xff\xc0") + 7
            data[i:i + 2] = b"\x00\x00"
        elif how == "scan":  # a flipped byte inside a JPEG's entropy-coded data: libjpeg decodes it, with a warning
            data[int(len(data) * 0.6)] ^= 0x10
        _bytes(p, bytes(data))
    return write


def bmp(bits, rle=False):
    """BMPs Pillow cannot write: 4-bit, 16-bit (5-6-5 bit fields), RLE8; written by hand from PIC."""
    def write(p):
        h, w = H, W
        if bits == 16:
            r, g, b = (PIC[..., 0] >> 3).astype(np.uint16), (PIC[..., 1] >> 2).astype(np.uint16), PIC[..., 2] >> 3
            px = (r << 11) | (g << 5) | b.astype(np.uint16)
            rows = b"".join(px[y].astype("<u2").tobytes() for y in range(h - 1, -1, -1))
            extra, compression, palette = struct.pack("<III", 0xF800, 0x07E0, 0x001F), 3, b""
        else:
            grey = GREY
            step = 1 if bits == 8 else 17
            palette = b"".join(bytes([i * step] * 3 + [0]) for i in range(256 if bits == 8 else 16))
            idx = grey if bits == 8 else grey >> 4
            extra, compression = b"", 1 if rle else 0
            if rle:
                rows = b"".join(b"".join(bytes([1, int(v)]) for v in idx[y]) + b"\x00\x00" for y in range(h - 1, -1, -1))
                rows += b"\x00\x01"
            else:
                packed = []
                for y in range(h - 1, -1, -1):
                    row = bytes(idx[y]) if bits == 8 else bytes((int(a) << 4) | int(b) for a, b in zip(idx[y][::2], idx[y][1::2]))
                    packed.append(row.ljust((len(row) + 3) // 4 * 4, b"\x00"))
                rows = b"".join(packed)
        colours = len(palette) // 4
        offset = 14 + 40 + len(extra) + len(palette)
        dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, bits, compression, len(rows), 2835, 2835, colours, 0)
        _bytes(p, b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + dib + extra + palette + rows)
    return write


def topdown_bmp(p):
    data = bytearray(_encoded(Image.fromarray(PIC), "BMP"))
    data[22:26] = struct.pack("<i", -H)
    rows = [data[54 + i * W * 3: 54 + (i + 1) * W * 3] for i in range(H)]
    data[54:] = b"".join(reversed(rows))  # the same picture, stored top row first
    _bytes(p, bytes(data))


def mpo(p):
    _save(p, Image.fromarray(PIC), "MPO", save_all=True, append_images=[Image.fromarray(255 - PIC)], quality=95)


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200


def zipped(p):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.jpg", b"x")
    _bytes(p, buf.getvalue())


def huge(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.new("1", (9000, 6000)).save(p, format="PNG")


def bomb(p):
    """A PNG whose header claims 20000x20000 pixels (400 M): Pillow refuses it before allocating anything."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    _bytes(p, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def dangling(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(p.parent / "gone.jpg", p)


def self_loop(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(p.name, p)


def link_to_outside(p):
    target = p.parent.parent.parent / "elsewhere" / "real.jpg"
    _save(target, Image.fromarray(PIC), "JPEG", quality=95)
    os.symlink(target, p)


def fifo(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(p)


def frame0(p):  # what the first frame of an animation holds once Pillow has quantised it
    return np.asarray(Image.fromarray(PIC).convert("P").convert("RGB"))


HIGH_BYTE = np.repeat(((GREY.astype(np.uint16) * 257 + 3) >> 8).astype(np.uint8)[..., None], 3, axis=2)
GREY3 = np.repeat(GREY[..., None], 3, axis=2)
LUMA3 = np.repeat(np.asarray(Image.fromarray(PIC).convert("L"))[..., None], 3, axis=2)  # what PIC converted to "L" holds
PAL = np.asarray(Image.fromarray(PIC).convert("P").convert("RGB"))
AVIF = "copy" if features.check("avif") else "bad"

# (name in the "photos" class, writer, outcome, words in the listing, picture the pipeline must decode)
CASES = [
    # read as they are
    ("plain.jpg", rgb(), "ok", "", PIC),
    ("progressive.jpg", rgb(progressive=True), "ok", "", PIC),
    ("upper_case.JPG", rgb(), "ok", "", PIC),
    ("extension.jpeg", rgb(), "ok", "", PIC),
    ("extension.jpe", rgb(), "ok", "", PIC),
    ("extension.jfif", rgb(), "ok", "", PIC),
    ("plain.png", rgb("PNG"), "ok", "", PIC),
    ("png_named.jpg", rgb("PNG"), "ok", "", PIC),
    ("jpeg_named.png", rgb(), "ok", "", PIC),
    ("bmp24.bmp", rgb("BMP"), "ok", "", PIC),
    ("topdown.bmp", topdown_bmp, "ok", "", PIC),
    ("lossy.webp", rgb("WEBP", quality=95), "ok", "", PIC),
    ("lossless.webp", rgb("WEBP", lossless=True), "ok", "", PIC),
    ("orientation_1.jpg", exif(1), "ok", "", PIC),
    ("fleur d'été 🌸.jpg", rgb(), "ok", "", PIC),
    ("nested/deeper/inner.jpg", rgb(), "ok", "", PIC),
    ("one_pixel.png", lambda p: _save(p, Image.new("RGB", (1, 1), (9, 8, 7)), "PNG"), "ok", "",
     np.array([[[9, 8, 7]]], np.uint8)),
    ("panorama.png", lambda p: _save(p, Image.fromarray(picture(2, 3000)), "PNG"), "ok", "", picture(2, 3000)),
    ("link_to_outside.jpg", link_to_outside, "ok", "", PIC),
    ("scan_bit_flipped.jpg", damaged("JPEG", "scan"), "ok", "", None),  # libjpeg reads it: so does the check
    # read as they are, converted by TensorFlow while decoding: listed
    ("grey.png", mode("L"), "tf", "greyscale", LUMA3),
    ("grey.jpg", mode("L", "JPEG"), "tf", "greyscale", LUMA3),
    ("grey_alpha.png", mode("LA"), "tf", "alpha dropped", LUMA3),
    ("alpha.png", see_through("PNG"), "tf", "alpha dropped", PIC),
    ("palette.png", mode("P"), "tf", "palette", PAL),
    ("palette.gif", mode("P", "GIF"), "tf", "palette", PAL),
    ("palette_transparent.png", lambda p: _save(p, Image.fromarray(PIC).convert("P"), "PNG", transparency=0), "tf",
     "palette: read as RGB (transparency dropped)", PAL),
    ("black_white.png", mode("1"), "tf", "black-and-white", None),
    ("sixteen_bit.png", sixteen(), "tf", "16-bit", HIGH_BYTE),
    ("cmyk.jpg", mode("CMYK", "JPEG"), "tf", "CMYK", PIC),
    ("animated.gif", animated("GIF"), "tf", "2 frames: the first is used", frame0),
    ("animated.png", animated("PNG"), "tf", "2 frames: the first is used", PIC),
    ("alpha.webp", see_through("WEBP", lossless=True, exact=True), "copy", "WEBP variant TensorFlow cannot decode", PIC),
    ("alpha_lossy.webp", see_through("WEBP", quality=95), "copy", "WEBP variant TensorFlow cannot decode", PIC),
    ("two_pictures.jpg", mpo, "tf", "2 pictures: the first is used", PIC),
    # converted into a corrected copy, which the pipeline reads instead: listed
    *[(f"orientation_{o}.jpg", exif(o), "copy", f"EXIF orientation {o} (a phone photo): rotated upright", ORIENTED[o])
      for o in range(2, 9)],
    ("orientation_6.png", exif(6, "PNG"), "copy", "EXIF orientation 6", ORIENTED[6]),
    ("orientation_8.webp", exif(8, "WEBP"), "copy", "EXIF orientation 8", ORIENTED[8]),
    ("scan.tif", rgb("TIFF"), "copy", "TIFF, which TensorFlow cannot decode", PIC),
    ("tiff_named.jpg", rgb("TIFF"), "copy", "TIFF data in a .jpg file", PIC),
    ("sixteen_bit.tiff", sixteen("TIFF"), "copy", "TIFF", HIGH_BYTE),
    ("cmyk.tiff", mode("CMYK", "TIFF"), "copy", "TIFF", PIC),
    ("jpeg2000_named.jpg", rgb("JPEG2000"), "copy", "JPEG2000 data in a .jpg file", PIC),
    ("photo.jp2", rgb("JPEG2000"), "copy", "JPEG2000", PIC),
    ("ppm_named.jpg", rgb("PPM"), "copy", "PPM data in a .jpg file", PIC),
    ("scan.pgm", mode("L", "PPM"), "copy", "PPM", LUMA3),
    ("photo.tga", rgb("TGA"), "copy", "TGA", PIC),
    ("photo.qoi", rgb("QOI"), "copy", "QOI", PIC),
    ("icon.ico", lambda p: _save(p, Image.fromarray(PIC), "ICO", sizes=[(W, H)]), "copy", "ICO", None),
    ("photo.avif", rgb("AVIF", quality=95) if AVIF == "copy" else lambda p: _bytes(p, b"\0\0\0\x1cftypavif" + b"\0" * 99),
     AVIF, "AVIF", PIC if AVIF == "copy" else None),
    ("one_bit.bmp", mode("1", "BMP"), "copy", "1-bit BMP", None),
    ("four_bit.bmp", bmp(4), "copy", "4-bit BMP", np.repeat(((GREY >> 4) * 17)[..., None], 3, 2)),
    ("palette.bmp", mode("P", "BMP"), "copy", "8-bit BMP, which TensorFlow misreads", PAL),
    ("rle8.bmp", bmp(8, rle=True), "copy", "8-bit BMP", GREY3),
    ("sixteen_bit.bmp", bmp(16), "copy", "16-bit BMP", None),
    ("animated.webp", animated("WEBP", lossless=True), "copy", "TensorFlow cannot decode", PIC),
    # left out, and listed: a problem the learner has to fix (or skip)
    ("cut_short.jpg", damaged("JPEG", "cut"), "bad", "damaged JPEG", None),
    ("no_end_marker.jpg", damaged("JPEG", "end"), "bad", "damaged JPEG", None),
    ("zero_width.jpg", damaged("JPEG", "sof"), "bad", "", None),
    ("cut_short.png", damaged("PNG", "cut"), "bad", "", None),
    ("bit_rot.png", damaged("PNG", "idat"), "bad", "", None),
    ("no_iend.png", damaged("PNG", "end"), "bad", "damaged PNG: TensorFlow cannot decode it", None),
    ("cut_short.gif", damaged("GIF", "cut"), "bad", "", None),
    ("zero_bytes.jpg", lambda p: _bytes(p, b""), "bad", "empty file (0 bytes)", None),
    ("text.jpg", lambda p: _bytes(p, b"this is not a photo"), "bad", "not an image", None),
    ("error_page.jpg", lambda p: _bytes(p, b"<!DOCTYPE html><html><body>403 Forbidden</body></html>"), "bad",
     "an HTML page", None),
    ("iphone.heic", lambda p: _bytes(p, HEIC), "bad", "HEIC (Apple's iPhone photo format)", None),
    ("IPHONE.HEIC", lambda p: _bytes(p, HEIC), "bad", "Most Compatible", None),
    ("heic_named.jpg", lambda p: _bytes(p, HEIC), "bad", "HEIC/HEIF photo data in a .jpg file", None),
    ("photo.heif", lambda p: _bytes(p, HEIC), "bad", "HEIF", None),
    ("photo.jxl", lambda p: _bytes(p, b"\xff\x0a" + b"\0" * 50), "bad", "JPEG XL", None),
    ("drawing.svg", lambda p: _bytes(p, b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "bad", "Export it as PNG", None),
    ("camera.dng", rgb("TIFF"), "bad", "camera RAW", None),
    ("camera.CR2", lambda p: _bytes(p, b"II*\x00" + b"\0" * 64), "bad", "camera RAW", None),
    ("archive.jpg", zipped, "bad", "a zip archive", None),
    ("document.jpg", lambda p: _bytes(p, b"%PDF-1.4\n" + b"\0" * 64), "bad", "a PDF document", None),
    ("huge.png", huge, "bad", "too large (9000x6000 pixels)", None),
    ("bomb.png", bomb, "bad", "too large to decode safely", None),
    ("broken_link.jpg", dangling, "bad", "a broken link: it points to", None),
    ("link_loop.jpg", self_loop, "bad", "link loop", None),
    # not photos: ignored, and listed
    (".DS_Store", lambda p: _bytes(p, b"\0\0\0\1Bud1"), "ignore", "hidden", None),
    ("._resource_fork.jpg", lambda p: _bytes(p, b"\0\5\26\7"), "ignore", "hidden", None),
    ("notes.txt", lambda p: _bytes(p, b"notes"), "ignore", "not an image file type (.txt)", None),
    ("Thumbs.db", lambda p: _bytes(p, b"\0"), "ignore", "system", None),
    ("no_extension", rgb(), "ignore", "no extension", None),
    ("album.pdf", lambda p: _bytes(p, b"%PDF-1.4"), "ignore", "(.pdf)", None),
    ("pipe.jpg", fifo, "ignore", "not a regular file", None),
]
NAMES = [c[0] for c in CASES]
assert len(set(NAMES)) == len(NAMES)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """Every case in one class folder, beside a clean second class; scanned once, with a private cache."""
    base = tmp_path_factory.mktemp("adversarial")
    root = base / "data" / "mine"
    for name, writer, *_ in CASES:
        writer(root / "photos" / name)
    _save(root / "other" / "a.jpg", Image.fromarray(255 - PIC), "JPEG")
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_CACHE_DIR", str(base / "cache"))
    try:
        found = scan_image_folder(root, skip_bad=True)
        with pytest.raises(ImageFolderError) as refused:
            scan_image_folder(root)
    finally:
        mp.undo()
    return found, str(refused.value), base / "cache"


def _where(found, rel):
    listings = {"skipped": dict(found.skipped), "converted": dict(found.converted), "ignored": dict(found.ignored)}
    used = [f for f, s in zip(found.files, found.sources) if s.endswith(os.sep + rel) or s.endswith("/" + rel)]
    return used, {k: v.get(rel) for k, v in listings.items()}


def decode(path):
    """The pipeline's decoder, as the lessons call it."""
    return tf.io.decode_image(tf.io.read_file(os.fsencode(path)), channels=3, expand_animations=False).numpy()


@pytest.mark.parametrize("name, writer, outcome, words, truth", CASES, ids=NAMES)
def test_each_photo_gets_its_exact_outcome(scanned, name, writer, outcome, words, truth):
    found, _, cache = scanned
    rel = f"photos/{name}"
    used, listed = _where(found, rel)
    assert (len(used) == 1) == (outcome in ("ok", "tf", "copy")), (used, listed)
    assert (listed["skipped"] is not None) == (outcome == "bad"), listed
    assert (listed["converted"] is not None) == (outcome in ("tf", "copy")), listed
    assert (listed["ignored"] is not None) == (outcome == "ignore"), listed
    why = next((v for v in listed.values() if v is not None), "")
    assert words in why, (words, why)
    if outcome == "copy":
        assert used[0].startswith(str(cache / "converted-images")), used[0]
        assert os.path.basename(used[0]) in why, "the listing names the copy"
    elif used:
        assert not used[0].startswith(str(cache)), "read as it is"
    if used and truth is not None:
        expected = truth(None) if callable(truth) else truth
        got = decode(used[0])
        assert got.shape == expected.shape, (got.shape, expected.shape)
        assert np.abs(got.astype(int) - expected).mean() < 6, np.abs(got.astype(int) - expected).mean()


def test_without_skip_bad_every_problem_is_named_in_one_error(scanned):
    found, message, _ = scanned
    bad = {f"photos/{name}" for name, _, outcome, *_ in CASES if outcome == "bad"}
    assert {p for p, _ in found.skipped} == bad
    assert message.startswith(f"{len(bad)} problem(s) in ")
    listed = {line.strip().split(": ")[0] for line in message.splitlines()[1:] if line.startswith("  photos/")}
    assert listed <= bad and len(listed) == 20 and f"... and {len(bad) - 20} more" in message
    assert "pass skip_bad=True" in message, "no notebook parameter is named where the run has none"
    assert "SKIP_BAD_IMAGES" not in message


def test_the_whole_accepted_folder_goes_through_the_lessons_pipeline(scanned):
    """What the check accepts, the pipeline reads: one pass over every used file, nothing fails in `fit`."""
    found, _, _ = scanned
    (x, y), = read_like_the_lessons(found.files, found.labels, (8, 8), batch_size=256)
    assert x.shape == (len(found.files), 8, 8, 3)
    assert sorted(np.asarray(y).tolist()) == sorted(found.labels)


def test_the_report_lists_everything_and_states_the_formats(scanned):
    found, _, _ = scanned
    report = found.report()
    for title in ("Left out (bad files)", "Converted", "Ignored"):
        assert title in report
    assert "JPEG, PNG, GIF, BMP and WebP are read as they are" in report and "HEIC" in report


def test_copies_are_keyed_by_content_and_reused(scanned, tmp_path, monkeypatch):
    found, _, cache = scanned
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    copies = sorted((cache / "converted-images").iterdir())
    assert copies and not [p for p in copies if p.name.startswith(".")], "no half-written temporary file is left"
    before = {p: p.stat().st_mtime_ns for p in copies}
    _save(tmp_path / "a" / "x.tif", Image.fromarray(PIC), "TIFF")
    _save(tmp_path / "b" / "same_photo_renamed.tif", Image.fromarray(PIC), "TIFF")
    with pytest.warns(UserWarning, match="filed under more than one class"):
        again = scan_image_folder(tmp_path)
    assert again.files[0] == again.files[1], "same content, same copy"
    assert {p: p.stat().st_mtime_ns for p in copies} == before, "existing copies are reused, not rewritten"


def test_a_damaged_copy_in_the_cache_is_written_again(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    for cls in ("a", "b"):
        _save(tmp_path / "photos" / cls / "x.tif", Image.fromarray(PIC if cls == "a" else 255 - PIC), "TIFF")
    first = scan_image_folder(tmp_path / "photos")
    copy = first.files[0]
    with open(copy, "r+b") as f:
        f.truncate(0)
    second = scan_image_folder(tmp_path / "photos")
    assert second.files[0] == copy and np.abs(decode(copy).astype(int) - PIC).mean() < 6


def test_an_unwritable_cache_refuses_the_file_by_name(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocker))
    _save(tmp_path / "photos" / "a" / "x.tif", Image.fromarray(PIC), "TIFF")
    _save(tmp_path / "photos" / "b" / "y.jpg", Image.fromarray(PIC), "JPEG")
    with pytest.raises(ImageFolderError) as err:
        scan_image_folder(tmp_path / "photos")
    assert "a/x.tif: needs a converted copy" in str(err.value) and "COURSE_CACHE_DIR" in str(err.value)


def _unreadable(monkeypatch, path):
    """Make `path` unreadable: chmod where that stops reads, else (root reads anything) the OS's own error."""
    if os.geteuid() != 0:
        os.chmod(path, 0)
        return
    real_open, real_scandir = open, os.scandir

    def deny_open(file, *args, **kwargs):
        if os.fsdecode(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    def deny_scandir(folder="."):
        if os.fsdecode(folder) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(folder)

    monkeypatch.setattr("builtins.open", deny_open)
    monkeypatch.setattr(os, "scandir", deny_scandir)


def test_an_unreadable_photo_is_named(tmp_path, monkeypatch):
    for cls in ("a", "b"):
        _save(tmp_path / cls / "x.jpg", Image.fromarray(PIC), "JPEG")
    _save(tmp_path / "a" / "y.png", Image.fromarray(PIC), "PNG")
    _unreadable(monkeypatch, tmp_path / "a" / "x.jpg")
    found = scan_image_folder(tmp_path, skip_bad=True)
    assert dict(found.skipped)["a/x.jpg"].startswith("cannot be read (Permission denied)")
