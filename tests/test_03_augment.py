"""utils.augment: the grid of random draws shows what it is given, and the throughput timer counts right."""

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import augment  # noqa: E402


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


def _batches(n_batches, batch_size=4, with_labels=True):
    for _ in range(n_batches):
        images = np.zeros((batch_size, 2, 2, 3))
        yield (images, np.zeros(batch_size)) if with_labels else images


def test_time_pass_counts_images_and_stops_at_n(monkeypatch):
    clock = iter([10.0, 12.0])  # 2 seconds for the pass
    monkeypatch.setattr(augment.time, "perf_counter", lambda: next(clock))
    pulled = []

    def factory():
        for batch in _batches(100):
            pulled.append(1)
            yield batch

    assert augment.time_pass(factory, n_images=10) == pytest.approx(12 / 2)  # 3 batches of 4 reach 10
    assert len(pulled) == 3, "an endless iterator is not drained"


def test_time_pass_accepts_bare_batches_and_dict_features():
    assert augment.time_pass(lambda: _batches(2, with_labels=False), 8) > 0
    assert augment.time_pass(lambda: iter([({"image": np.zeros((5, 1))}, np.zeros(5))]), 5) > 0


def test_time_pass_refuses_a_pipeline_that_runs_dry():
    with pytest.raises(ValueError, match="ran out after 8 images"):
        augment.time_pass(lambda: _batches(2), n_images=9)
    with pytest.raises(ValueError):
        augment.time_pass(lambda: _batches(2), n_images=0)


def test_images_per_second_warms_up_then_reports_the_median_of_repeats(monkeypatch):
    rates = iter([1.0, 5.0, 3.0, 100.0])
    calls = []
    monkeypatch.setattr(augment, "time_pass", lambda factory, n: calls.append(n) or next(rates))
    result = augment.images_per_second(lambda: [], n_images=7, repeats=3, warmup=1)
    assert result.runs == [5.0, 3.0, 100.0], "the warm-up pass (1.0) is not reported"
    assert result.median == 5.0 and result.n_images == 7 and calls == [7, 7, 7, 7]
    assert "5.0 images/s" in str(result)
    with pytest.raises(ValueError):
        augment.images_per_second(lambda: [], n_images=7, repeats=0)


def test_compare_throughput_interleaves_the_pipelines(monkeypatch):
    order = []

    def fake_pass(factory, n):
        order.append(factory())
        return {"a": 10.0, "b": 30.0}[order[-1]]

    monkeypatch.setattr(augment, "time_pass", fake_pass)
    results = augment.compare_throughput({"a": lambda: "a", "b": lambda: "b"}, n_images=4, repeats=2, warmup=1)
    assert order == ["a", "b", "a", "b", "a", "b"], "warm-up, then round-robin"
    assert results["a"].runs == [10.0, 10.0] and results["b"].median == 30.0


def test_throughput_table_shows_the_speedup_over_the_baseline():
    results = {"slow": augment.Throughput([10.0, 12.0, 11.0], 50), "fast": augment.Throughput([40.0, 44.0, 50.0], 50)}
    table = augment.throughput_table(results, baseline="slow")
    assert table.loc["fast", "images/s (median)"] == 44.0
    assert table.loc["fast", "x slow"] == 4.0 and table.loc["slow", "x slow"] == 1.0
    assert table.loc["slow", "slowest pass"] == 10.0 and table.loc["slow", "fastest pass"] == 12.0
    with pytest.raises(KeyError):
        augment.throughput_table(results, baseline="missing")


def test_timing_a_real_tf_data_pipeline():
    tf = pytest.importorskip("tensorflow")
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((20, 4, 4, 3), np.float32)).batch(8)
    result = augment.images_per_second(lambda: ds, n_images=16, repeats=2)
    assert len(result.runs) == 2 and result.median > 0
