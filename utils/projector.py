"""TensorBoard's Embedding Projector in TF2: write a folder it opens, and check that folder.

The projector needs four files side by side: a checkpoint holding one 2-D tensor (a row per point),
`metadata.tsv` (a row per point: labels to colour and search by), an optional `sprite.png` (every
point's thumbnail in one square grid, row by row) and `projector_config.pbtxt`, which ties them
together. TensorBoard only looks for that config in its log folder itself and in *runs* (folders with an
event file), so the folder also gets a one-line text summary that makes it a run. The TF1 code of older tutorials (`tf.contrib`, `tf.Session`, `Saver`) no longer exists;
this is the TF2 way: `tf.train.Checkpoint` plus `tensorboard.plugins.projector`.

    projector.write_projector(log_dir, embeddings, {"label": names}, images=x_test)
    projector.check_projector(log_dir)        # raises if the files do not belong together
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

#: Where `tf.train.Checkpoint(embedding=...)` stores the variable, as the projector must name it.
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
METADATA_FILE = "metadata.tsv"
SPRITE_FILE = "sprite.png"
CONFIG_FILE = "projector_config.pbtxt"
#: The projector refuses sprites larger than this on either side (WebGL texture limit).
MAX_SPRITE_SIDE = 8192


def make_sprite(images, invert: bool = False) -> np.ndarray:
    """Tile `images` (N, H, W), (N, H, W, 1) or (N, H, W, 3) into one square grid, row by row, as uint8.

    The grid is `ceil(sqrt(N))` tiles on a side (the layout the projector expects); unused cells at the
    end stay white. Values in [0, 1] are scaled to [0, 255]. `invert=True` turns light-on-dark images
    (MNIST, Fashion-MNIST) into dark-on-light thumbnails, which are easier to see on the projector's
    white background.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"expected a non-empty batch (N, H, W) or (N, H, W, C) of images, got shape {images.shape}")
    n, h, w = images.shape[:3]
    side = math.ceil(math.sqrt(n))
    if side * max(h, w) > MAX_SPRITE_SIDE:
        raise ValueError(f"{n} thumbnails of {h}x{w} make a sprite wider than {MAX_SPRITE_SIDE} px; use fewer points")
    images = images.astype(np.float32)
    if images.max(initial=0) <= 1.0:
        images = images * 255.0
    images = np.clip(images, 0, 255)
    if invert:
        images = 255.0 - images
    sprite = np.full((side * h, side * w, *images.shape[3:]), 255.0, np.float32)
    for i, image in enumerate(images):
        row, col = divmod(i, side)
        sprite[row * h : (row + 1) * h, col * w : (col + 1) * w] = image
    return sprite.round().astype(np.uint8)


def _clean(value) -> str:
    return str(value).replace("\t", " ").replace("\n", " ")


def write_metadata(path: Path, columns: Mapping[str, Sequence]) -> None:
    """A TSV with one row per point. With one column the projector wants no header; with several, one."""
    names = list(columns)
    lengths = {len(columns[name]) for name in names}
    if len(lengths) != 1:
        raise ValueError(f"metadata columns differ in length: { {n: len(columns[n]) for n in names} }")
    rows = zip(*(columns[name] for name in names))
    lines = ([] if len(names) == 1 else ["\t".join(map(_clean, names))]) + ["\t".join(map(_clean, r)) for r in rows]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_projector(
    log_dir,
    embeddings,
    metadata: Mapping[str, Sequence],
    images=None,
    *,
    invert_sprite: bool = False,
) -> Path:
    """Write an Embedding Projector folder into `log_dir` (created if needed); return its path.

    `embeddings` is (N, D): one row per point. `metadata` maps column names to N values each (for
    example `{"label": ..., "prediction": ...}`). `images`, if given, are N thumbnails for the sprite.
    Point TensorBoard at `log_dir` or a parent of it and open the PROJECTOR tab.
    """
    import tensorflow as tf
    from PIL import Image
    from tensorboard.plugins import projector

    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (points, dimensions), got shape {embeddings.shape}")
    n = len(embeddings)
    for name, values in metadata.items():
        if len(values) != n:
            raise ValueError(f"metadata column {name!r} has {len(values)} rows for {n} embeddings")

    write_metadata(log_dir / METADATA_FILE, metadata)
    tf.train.Checkpoint(embedding=tf.Variable(embeddings)).save(str(log_dir / "embedding.ckpt"))

    config = projector.ProjectorConfig()
    info = config.embeddings.add()
    info.tensor_name = TENSOR_NAME
    info.metadata_path = METADATA_FILE  # relative paths are read relative to this folder
    if images is not None:
        images = np.asarray(images)
        if len(images) != n:
            raise ValueError(f"{len(images)} sprite images for {n} embeddings")
        sprite = make_sprite(images, invert=invert_sprite)
        Image.fromarray(sprite).save(log_dir / SPRITE_FILE)
        info.sprite.image_path = SPRITE_FILE
        info.sprite.single_image_dim.extend([images.shape[2], images.shape[1]])  # width, height
    projector.visualize_embeddings(str(log_dir), config)
    with tf.summary.create_file_writer(str(log_dir)).as_default():  # an event file: TensorBoard lists the run
        tf.summary.text("embedding", f"{n} points, {embeddings.shape[1]} dimensions: see the PROJECTOR tab", step=0)
    return log_dir


def check_projector(log_dir) -> dict:
    """Check that a projector folder is consistent; return what it holds, or raise `ValueError`.

    Checks: the config parses; an event file makes the folder a TensorBoard run; the checkpoint loads and
    holds the named 2-D tensor; the metadata has one row per embedding row (plus a header when it has
    several columns); the sprite is exactly a square grid of `ceil(sqrt(N))` thumbnails of the declared size.
    """
    import tensorflow as tf
    from google.protobuf import text_format
    from PIL import Image
    from tensorboard.plugins import projector

    log_dir = Path(log_dir)
    config_path = log_dir / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"{log_dir} has no {CONFIG_FILE}: write it with write_projector()")
    config = text_format.Parse(config_path.read_text(), projector.ProjectorConfig())
    if len(config.embeddings) != 1:
        raise ValueError(f"expected one embedding in {config_path}, found {len(config.embeddings)}")
    info = config.embeddings[0]
    if not list(log_dir.glob("events.out.tfevents.*")):
        raise ValueError(f"{log_dir} has no event file, so TensorBoard will not list it as a run")

    checkpoint = tf.train.latest_checkpoint(str(log_dir))
    if checkpoint is None:
        raise ValueError(f"no checkpoint in {log_dir}")
    reader = tf.train.load_checkpoint(checkpoint)
    if not reader.has_tensor(info.tensor_name):
        raise ValueError(f"checkpoint {checkpoint} has no tensor {info.tensor_name!r}")
    embedding = reader.get_tensor(info.tensor_name)
    if embedding.ndim != 2:
        raise ValueError(f"the embedding tensor must be 2-D, got shape {embedding.shape}")
    n, dims = embedding.shape

    lines = (log_dir / info.metadata_path).read_text(encoding="utf-8").rstrip("\n").split("\n")
    has_header = "\t" in lines[0]
    rows = len(lines) - has_header
    if rows != n:
        raise ValueError(f"{info.metadata_path} has {rows} rows for {n} embedding rows")
    summary = {"points": int(n), "dimensions": int(dims), "metadata_rows": rows,
               "metadata_columns": lines[0].split("\t") if has_header else ["(one unnamed column)"]}

    if info.sprite.image_path:
        width, height = info.sprite.single_image_dim
        with Image.open(log_dir / info.sprite.image_path) as sprite:
            size = sprite.size  # (width, height)
        side = math.ceil(math.sqrt(n))
        if size != (side * width, side * height):
            raise ValueError(f"sprite is {size[0]}x{size[1]} px, but {n} thumbnails of {width}x{height} "
                             f"in a {side}x{side} grid need {side * width}x{side * height}")
        summary.update(sprite_px=size, grid=side)
    return summary
