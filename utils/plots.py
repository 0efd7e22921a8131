"""The plots every notebook shares: training curves, image grids with labels, confusion matrices.

Each function draws on a new figure (or the axes you pass) and returns it, so a notebook can keep
adjusting titles and limits, and tests can check what was drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def _as_dict(history) -> dict[str, list[float]]:
    return dict(getattr(history, "history", history))


def plot_history(histories, metrics: Sequence[str] = ("loss", "accuracy"), title: str | None = None):
    """Training (solid) and validation (dashed) curves, one panel per metric.

    `histories` is a Keras `History`, its `.history` dict, or a mapping `{"run label": history}` to
    compare several runs on the same axes.
    """
    if not (isinstance(histories, Mapping) and all(not isinstance(v, list) for v in histories.values())):
        histories = {"": histories}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, (label, history) in enumerate(histories.items()):
            h = _as_dict(history)
            color = f"C{i}"
            epochs = np.arange(1, len(h.get(metric, [])) + 1)
            if metric in h:
                ax.plot(epochs, h[metric], color=color, label=f"{label} train".strip())
            if f"val_{metric}" in h:
                ax.plot(epochs, h[f"val_{metric}"], "--", color=color, label=f"{label} validation".strip())
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(
    images,
    labels=None,
    class_names: Sequence[str] | None = None,
    predictions=None,
    ncols: int = 8,
    size: float = 1.6,
    title: str | None = None,
    cmap: str = "gray",
):
    """A grid of images with their labels; with `predictions`, wrong ones are titled in red.

    Images may be uint8 or float in [0, 1] or [0, 255], greyscale (H, W) or colour (H, W, 3).
    """
    images = np.asarray(images)
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    ncols = min(ncols, n) or 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    name = (lambda i: class_names[int(i)]) if class_names is not None else (lambda i: str(i))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k].astype("float32")
        if img.max() > 1.0:
            img = img / 255.0
        ax.imshow(np.clip(img.squeeze(), 0, 1), cmap=cmap if img.squeeze().ndim == 2 else None)
        if labels is not None and predictions is not None:
            ok = int(labels[k]) == int(predictions[k])
            ax.set_title(f"{name(predictions[k])}" + ("" if ok else f"\n(true: {name(labels[k])})"),
                         color="green" if ok else "red", fontsize=8)
        elif labels is not None:
            ax.set_title(name(labels[k]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(y_true, y_pred, class_names: Sequence[str], normalize: bool = True, ax=None):
    """A seaborn heat map of the confusion matrix; rows are true classes, columns predictions.

    With `normalize=True` each row sums to 1, so the diagonal reads as per-class recall.
    """
    import seaborn as sns
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=range(len(class_names)), normalize="true" if normalize else None)
    if ax is None:
        side = max(4.0, 0.45 * len(class_names) + 2)
        _, ax = plt.subplots(figsize=(side + 1, side))
    annotate = len(class_names) <= 15
    sns.heatmap(cm, annot=annotate, fmt=".2f" if normalize else "d", cmap="Blues", square=True,
                xticklabels=class_names, yticklabels=class_names, cbar=True, ax=ax,
                vmin=0, vmax=1 if normalize else None)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix" + (" (row-normalised)" if normalize else ""))
    ax.figure.tight_layout()
    return ax
