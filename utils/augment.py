"""Plotting plumbing for the augmentation lesson (notebook 03): a grid of random draws.

    fig = augmentation_grid(cat, {"flip": [tf.image.random_flip_left_right(cat) for _ in range(6)]})

The augmentations themselves, and the timing of input pipelines, stay in the notebook, where they are the
lesson; this module only draws images. It does not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _fit_in_cell(image, scale: float, cell: tuple[int, int], max_factor: float = np.inf) -> np.ndarray:
    """An image as RGB float in [0, 1], resized by at most `max_factor` to fit `cell` (height, width), on white."""
    from PIL import Image

    img = np.clip(np.asarray(image, dtype="float32") / scale, 0.0, 1.0)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    height, width = img.shape[:2]
    factor = min(cell[0] / height, cell[1] / width, max_factor)
    new_h, new_w = max(1, round(height * factor)), max(1, round(width * factor))
    if (new_h, new_w) != (height, width):
        resample = Image.BOX if factor < 1 else Image.NEAREST  # average when shrinking; keep pixels crisp when enlarging
        pil = Image.fromarray((img * 255).round().astype(np.uint8)).resize((new_w, new_h), resample)
        img = np.asarray(pil, dtype="float32") / 255.0
    out = np.ones((*cell, 3), dtype="float32")
    top, left = (cell[0] - new_h) // 2, (cell[1] - new_w) // 2
    out[top : top + new_h, left : left + new_w] = img
    return out


def augmentation_grid(
    original,
    rows: Mapping[str, Sequence],
    *,
    value_range: float | None = None,
    size: float = 1.2,
    title: str | None = None,
    dpi: int = 100,
):
    """One row per augmentation: the original image first, then that augmentation's random draws.

    `rows` maps a row label (e.g. "random_flip_left_right") to a list of augmented images (arrays or
    tensors, any size). Every image is drawn at the original's scale, so a crop looks as small as it
    is; only an image too large for its cell (a rotated one) is shrunk further. Seeing several draws side by
    side shows the *distribution* an augmentation samples from, which a single draw cannot.
    All images are drawn on the same scale: `value_range` is the value of white (255 or 1.0); by
    default it is inferred from `original` (uint8 or any value above 1: 255, else 1.0). Values outside
    the range (a brightness shift can push them there) are clipped for display only.

    The grid is assembled into one picture (cells `size` inches high at `dpi`) and drawn with a single
    `imshow`, which renders far faster than one matplotlib axes per image. Returns the figure.
    """
    import matplotlib.pyplot as plt

    original = np.asarray(original)
    if value_range is None:
        value_range = 255.0 if original.dtype == np.uint8 or float(original.max()) > 1.0 else 1.0
    draws = list(rows.values())
    ncols = 1 + max((len(d) for d in draws), default=0)
    nrows = max(1, len(rows))
    aspect = original.shape[1] / original.shape[0] if original.ndim >= 2 and original.shape[0] else 1.0
    cell = (round(size * dpi), round(size * dpi * min(max(aspect, 0.5), 2.0)))
    same_scale = min(cell[0] / original.shape[0], cell[1] / original.shape[1])  # a crop looks smaller than the original
    gap = 4
    mosaic = np.ones((nrows * (cell[0] + gap) - gap, ncols * (cell[1] + gap) - gap, 3), dtype="float32")
    for r, row in enumerate(draws or [[]]):
        for c, image in enumerate([original, *row]):
            y, x = r * (cell[0] + gap), c * (cell[1] + gap)
            mosaic[y : y + cell[0], x : x + cell[1]] = _fit_in_cell(image, value_range, cell, same_scale)
    label_in, title_in = 1.7, 0.3 + (0.3 if title else 0.0)  # inches for row labels and column titles
    width_in, height_in = mosaic.shape[1] / dpi + label_in, mosaic.shape[0] / dpi + title_in
    fig = plt.figure(figsize=(width_in, height_in), dpi=dpi)
    ax = fig.add_axes((label_in / width_in, 0.0, mosaic.shape[1] / dpi / width_in, mosaic.shape[0] / dpi / height_in))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    for c in range(ncols):
        ax.text(c * (cell[1] + gap) + cell[1] / 2, -6, "original" if c == 0 else f"draw {c}",
                ha="center", va="bottom", fontsize=9)
    for r, label in enumerate(rows):
        ax.text(-10, r * (cell[0] + gap) + cell[0] / 2, label, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, y=1 - 0.08 / height_in, va="top")
    return fig
