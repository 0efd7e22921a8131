"""The shared plotting helpers draw what they say they draw."""

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import plots  # noqa: E402

HISTORY = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.8, 0.9],
           "val_accuracy": [0.4, 0.7, 0.8]}


def test_plot_history_one_panel_per_metric_with_train_and_validation():
    fig = plots.plot_history(HISTORY)
    assert len(fig.axes) == 2
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
    assert list(loss_ax.lines[1].get_ydata()) == HISTORY["val_loss"]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3], "epochs count from 1"


def test_plot_history_compares_runs_with_one_colour_each():
    fig = plots.plot_history({"a": HISTORY, "b": {"loss": [2, 1]}}, metrics=["loss"])
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["a train", "a validation", "b train"]
    assert fig.axes[0].lines[0].get_color() == fig.axes[0].lines[1].get_color() != fig.axes[0].lines[2].get_color()


def test_plot_history_accepts_a_keras_history_object():
    class History:
        history = HISTORY

    assert len(plots.plot_history(History(), metrics=["accuracy"]).axes[0].lines) == 2


def test_show_images_titles_and_marks_wrong_predictions_red():
    images = np.random.default_rng(0).integers(0, 255, (5, 8, 8), dtype=np.uint8)
    fig = plots.show_images(images, labels=[0, 1, 2, 0, 1], predictions=[0, 1, 0, 0, 1],
                            class_names=["cat", "dog", "owl"], ncols=3)
    axes = fig.axes
    assert len(axes) == 6, "2 rows x 3 columns"
    assert axes[0].get_title() == "cat"
    assert axes[2].get_title() == "cat\n(true: owl)"
    assert matplotlib.colors.to_hex(axes[2].title.get_color()) == "#ff0000"
    assert not axes[5].images, "the spare cell stays empty"


@pytest.mark.parametrize("shape", [(3, 10, 10), (3, 10, 10, 3), (3, 10, 10, 1)])
def test_show_images_takes_grey_and_colour(shape):
    fig = plots.show_images(np.ones(shape, np.float32) * 200, ncols=3)
    assert all(ax.images for ax in fig.axes)


def test_confusion_matrix_rows_are_normalised():
    ax = plots.plot_confusion_matrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], ["a", "b", "c"])
    values = ax.collections[0].get_array().reshape(3, 3)
    np.testing.assert_allclose(values.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(values), [0.5, 1.0, 0.5])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
