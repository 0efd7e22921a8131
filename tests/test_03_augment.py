"""Notebook 03: utils.augment's grid shows what it is given; the lesson's timer and policy do what the text says."""

import matplotlib

matplotlib.use("Agg")
import notebook_code  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from utils import augment  # noqa: E402


def notebook_functions(marker: str, namespace: dict) -> dict:
    """Run the imports, functions, classes and constants of the lesson's code cell containing `marker`."""
    return notebook_code.notebook_functions("03_image_augmentation", marker, namespace)


def _mosaic(fig):
    (ax,) = fig.axes
    return ax.images[0].get_array()


def test_grid_has_one_row_per_augmentation_and_the_original_first():
    original = np.zeros((20, 30, 3), np.uint8)
    draws = {"bright": [np.full((20, 30, 3), 255, np.uint8)] * 3, "dark": [np.zeros((20, 30, 3), np.uint8)] * 2}
    fig = augment.augmentation_grid(original, draws, size=0.2, dpi=100, title="t")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[:4] == ["original", "draw 1", "draw 2", "draw 3"]
    assert texts[4:] == ["bright", "dark"]
    mosaic = _mosaic(fig)
    cell_h, cell_w, gap = 20, 30, 4  # 0.2 in x 100 dpi = 20 px high; width follows the 3:2 aspect
    assert mosaic.shape == (2 * cell_h + gap, 4 * cell_w + 3 * gap, 3)
    assert mosaic[:cell_h, :cell_w].max() == 0, "the original comes first"
    assert mosaic[:cell_h, cell_w + gap : 2 * cell_w + gap].min() == 1, "then the draws of that row"
    assert mosaic[cell_h + gap :, 3 * (cell_w + gap) :].min() == 1, "a row with fewer draws leaves white cells"


def test_grid_infers_the_value_range_and_clips_for_display():
    float_255 = np.full((10, 10, 3), 127.5, np.float32)
    mosaic = _mosaic(augment.augmentation_grid(float_255, {"x": [float_255 + 500]}, size=0.1))
    assert np.allclose(mosaic[:10, :10], 0.5, atol=0.01), "floats above 1 are on the 0-255 scale"
    assert mosaic[:10, 14:24].max() == 1.0, "values beyond white are clipped"
    unit = np.full((10, 10), 0.25, np.float32)  # greyscale in [0, 1]
    mosaic = _mosaic(augment.augmentation_grid(unit, {"x": [unit[..., None]]}, size=0.1))
    assert np.allclose(mosaic[:10, :10], 0.25, atol=0.01) and np.allclose(mosaic[:10, 14:24], 0.25, atol=0.01)


def test_grid_draws_crops_at_the_scale_of_the_original():
    original = np.zeros((40, 40, 3), np.uint8)
    crop = np.zeros((20, 20, 3), np.uint8)
    mosaic = _mosaic(augment.augmentation_grid(original, {"crop": [crop]}, size=0.2))  # 20 px cells: scale 1/2
    cell = mosaic[:20, 24:44]
    dark = np.argwhere(cell.max(axis=-1) < 0.5)
    assert dark.min(0).tolist() == [5, 5] and dark.max(0).tolist() == [14, 14], "a half-size crop fills half the cell"


def test_grid_accepts_tensor_like_images():
    class Tensor:  # anything np.asarray understands, as TensorFlow tensors are
        def __array__(self, dtype=None, copy=None):
            return np.ones((8, 8, 3), dtype or np.float32)

    fig = augment.augmentation_grid(np.ones((8, 8, 3), np.float32), {"t": [Tensor()]}, size=0.1)
    assert _mosaic(fig).shape[1] == 2 * 10 + 4


class _Clock:
    """A stand-in for the `time` module: every perf_counter() call advances one second."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1.0
        return self.now


def _pipeline(name, log, n_batches=100, batch_size=4):
    """A factory like the notebook's: each call starts a fresh pass over (images, labels) batches, logged."""
    def make():
        log.append(name)
        for _ in range(n_batches):
            log.append(f"{name} batch")
            yield np.zeros((batch_size, 2, 2, 3)), np.zeros(batch_size)
    return make


def test_lesson_timer_warms_up_then_takes_turns_and_counts_images():
    timer = notebook_functions("def time_pipelines(", {"time": _Clock(), "pd": pd})["time_pipelines"]
    log = []
    passes = timer({"a": _pipeline("a", log), "b": _pipeline("b", log)}, n_images=10, repeats=2, warmup=1)
    starts = [entry for entry in log if not entry.endswith("batch")]
    assert starts == ["a", "b", "a", "b", "a", "b"], "one warm-up round, then the pipelines take turns"
    assert log.count("a batch") == 3 * 3, "each pass stops at the batch that reaches n_images (3 batches of 4)"
    assert list(passes.columns) == ["a", "b"] and len(passes) == 2, "one row per timed round, warm-up left out"
    assert passes.to_numpy().tolist() == [[12.0, 12.0]] * 2, "12 images in the 1 s between the two clock reads"


def test_lesson_timer_refuses_a_pipeline_that_runs_dry():
    timer = notebook_functions("def time_pipelines(", {"time": _Clock(), "pd": pd})["time_pipelines"]
    with pytest.raises(ValueError, match="ran out after 8 images"):
        timer({"short": _pipeline("short", [], n_batches=2)}, n_images=9, repeats=1, warmup=0)


def test_lesson_policy_is_stateless_and_keeps_size_and_range():
    tf = pytest.importorskip("tensorflow")
    namespace = notebook_functions("def augment_image(", {"tf": tf, "IMAGE_SIZE": 16, "ZOOM": 0.2, "BRIGHTNESS": 0.2})
    augment_image = namespace["augment_image"]
    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (16, 16, 3)), tf.float32)
    draws = [augment_image(image, tf.constant([i, 42])) for i in range(8)]
    assert all(d.shape == (16, 16, 3) for d in draws)
    assert all(float(tf.reduce_min(d)) >= 0 and float(tf.reduce_max(d)) <= 255 for d in draws)
    assert np.array_equal(draws[3], augment_image(image, tf.constant([3, 42]))), "the same seed, the same image"
    assert len({d.numpy().tobytes() for d in draws}) == 8, "other seeds, other images"
