"""TensorBoard's Embedding Projector in TF2: check that a folder written for it is consistent.

Notebook 02 writes the folder itself, because writing it is the lesson (the TF docs tutorial
`tensorboard_projector` shows the same steps): a `tf.train.Checkpoint` holding one 2-D tensor (a row per
point), `metadata.tsv` (a row per point), an optional `sprite.png` (every point's thumbnail in one square
grid, row by row), `projector_config.pbtxt` (from `projector.visualize_embeddings`) that ties them together,
and an event file, without which TensorBoard does not list the folder as a run. What can go wrong is
silent in TensorBoard (an empty tab, unlabelled points, thumbnails shifted by one), so the notebook calls
`check_projector(folder)`, which reads the files back and raises a `ValueError` saying what does not agree.
"""

from __future__ import annotations

import math
from pathlib import Path

#: Where `tf.train.Checkpoint(embedding=...)` stores the variable, as the projector config must name it.
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
CONFIG_FILE = "projector_config.pbtxt"
#: The projector cannot show a sprite larger than this on either side (WebGL texture limit).
MAX_SPRITE_SIDE = 8192


def check_projector(log_dir) -> dict:
    """Check that a projector folder is consistent; return what it holds, or raise `ValueError`.

    Checks: the config parses; an event file makes the folder a TensorBoard run; the checkpoint loads and
    holds the tensor the config names, 2-D; the metadata has one row per embedding row (plus a header when
    it has several columns); the sprite is exactly a square grid of `ceil(sqrt(N))` thumbnails of the
    declared size, and small enough for the projector to show.
    """
    import tensorflow as tf
    from google.protobuf import text_format
    from PIL import Image
    from tensorboard.plugins import projector

    log_dir = Path(log_dir)
    config_path = log_dir / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"{log_dir} has no {CONFIG_FILE}: write it with projector.visualize_embeddings(folder, config)")
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
        held = sorted(name for name in reader.get_variable_to_shape_map() if "/.ATTRIBUTES/" in name)
        raise ValueError(f"checkpoint {checkpoint} has no tensor {info.tensor_name!r}; it holds {held}. "
                         f"tf.train.Checkpoint(embedding=variable) stores the variable as {TENSOR_NAME!r}: "
                         "name the tensor after the attribute it was saved as.")
    embedding = reader.get_tensor(info.tensor_name)
    if embedding.ndim != 2:
        raise ValueError(f"the embedding tensor must be 2-D, got shape {embedding.shape}")
    n, dims = embedding.shape

    metadata = log_dir / info.metadata_path
    if not info.metadata_path or not metadata.is_file():
        raise ValueError(f"the config names metadata {info.metadata_path!r}, which is not a file in {log_dir}")
    lines = metadata.read_text(encoding="utf-8").rstrip("\n").split("\n")
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
        if max(size) > MAX_SPRITE_SIDE:
            raise ValueError(f"sprite is {size[0]}x{size[1]} px; the projector shows at most "
                             f"{MAX_SPRITE_SIDE}x{MAX_SPRITE_SIDE}: use fewer points or smaller thumbnails")
        if size != (side * width, side * height):
            raise ValueError(f"sprite is {size[0]}x{size[1]} px, but {n} thumbnails of {width}x{height} "
                             f"in a {side}x{side} grid need {side * width}x{side * height}")
        summary.update(sprite_px=size, grid=side)
    return summary
