"""Plumbing for the augmentation lesson (notebook 03): a grid of random draws, and a throughput timer.

    fig = augmentation_grid(cat, {"flip": [tf.image.random_flip_left_right(cat) for _ in range(6)]})
    speed = images_per_second(lambda: dataset, n_images=500, repeats=5)
    print(speed.median, speed.runs)
    table = throughput_table(compare_throughput({"old": make_old, "new": make_new}, 500), baseline="old")

The augmentations themselves stay in the notebook, where they are the lesson; this module only draws
them and times input pipelines. Nothing here imports TensorFlow: anything that yields batches of NumPy
arrays or tensors (a `tf.data.Dataset`, a Keras `ImageDataGenerator` iterator, a Python generator) can
be timed, so `benchmarks/` can reuse the timer for any input pipeline.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# --- grids of random draws ---------------------------------------------------------------------


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


# --- input-pipeline throughput -----------------------------------------------------------------


@dataclass
class Throughput:
    """Images per second of one input pipeline: one number per timed pass, and their median."""

    runs: list[float]
    n_images: int

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def __str__(self) -> str:
        runs = ", ".join(f"{r:.0f}" for r in self.runs)
        return f"{self.median:.1f} images/s (median of {len(self.runs)} passes of {self.n_images} images: {runs})"


def _batch_size(batch) -> int:
    """How many images a batch holds: the length of its first element for (images, labels) pairs."""
    images = batch[0] if isinstance(batch, (tuple, list)) else batch
    if isinstance(images, Mapping):  # a dict of features: any one of them
        images = next(iter(images.values()))
    return int(images.shape[0])


def time_pass(iterable_factory: Callable[[], Iterable], n_images: int) -> float:
    """Images per second of one pass: make a fresh iterable, pull batches until `n_images` images.

    The clock includes creating the iterable (a pipeline's start-up cost is real) and stops at the
    batch that reaches `n_images`, so an endless iterator (`ImageDataGenerator.flow_from_directory`,
    `dataset.repeat()`) can be timed too. A pipeline that runs dry first raises `ValueError`.
    """
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    count = 0
    start = time.perf_counter()
    for batch in iterable_factory():
        count += _batch_size(batch)
        if count >= n_images:
            break
    seconds = time.perf_counter() - start
    if count < n_images:
        raise ValueError(f"the pipeline ran out after {count} images; asked to time {n_images}")
    return count / seconds


def images_per_second(
    iterable_factory: Callable[[], Iterable],
    n_images: int,
    repeats: int = 3,
    warmup: int = 1,
) -> Throughput:
    """Time an input pipeline: `warmup` untimed passes, then `repeats` timed ones; report the median.

    `iterable_factory` returns a fresh iterable of batches each time it is called (for example
    `lambda: dataset` or `lambda: datagen.flow_from_directory(...)`). Warm-up passes fill the
    operating system's file cache and let TensorFlow trace its functions, which would otherwise be
    charged to the first contender only. The median of several passes resists the odd slow pass
    caused by other programs on a shared machine.
    """
    return compare_throughput({"pipeline": iterable_factory}, n_images, repeats, warmup)["pipeline"]


def compare_throughput(
    pipelines: Mapping[str, Callable[[], Iterable]],
    n_images: int,
    repeats: int = 3,
    warmup: int = 1,
) -> dict[str, Throughput]:
    """`images_per_second` for several pipelines, with their passes interleaved.

    Round-robin order (A, B, A, B, ...) means that a burst of load from another program slows every
    contender a little rather than one of them a lot, which makes the ratio between them fair.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        for factory in pipelines.values():
            time_pass(factory, n_images)
    runs: dict[str, list[float]] = {name: [] for name in pipelines}
    for _ in range(repeats):
        for name, factory in pipelines.items():
            runs[name].append(time_pass(factory, n_images))
    return {name: Throughput(r, n_images) for name, r in runs.items()}


def throughput_table(results: Mapping[str, Throughput], baseline: str):
    """A pandas table: median images/s, the slowest and fastest pass, and the speed-up over `baseline`."""
    import pandas as pd

    if baseline not in results:
        raise KeyError(f"baseline {baseline!r} is not one of {', '.join(results)}")
    base = results[baseline].median
    rows = [
        {
            "pipeline": name,
            "images/s (median)": round(t.median, 1),
            "slowest pass": round(min(t.runs), 1),
            "fastest pass": round(max(t.runs), 1),
            f"x {baseline}": round(t.median / base, 2),
        }
        for name, t in results.items()
    ]
    return pd.DataFrame(rows).set_index("pipeline")
