"""Weights files for the tests: small HDF5 files in Keras' weights layout, and real Keras ones.

`fake_weights` is enough where only the file is judged (found, sound, damaged, downloaded); `real_weights`
writes a network's actual weights in the legacy HDF5 layout that Keras' application files use, for tests
that build the network from the file.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np


def _shapes_for(file: str | None):
    """`course.networks.SHAPES` of the network whose Keras weights file is called `file`, or None."""
    from course.networks import BACKBONES

    for spec in BACKBONES.values():
        for top in (False, True):
            if file == (spec.top_file if top else spec.weights_file):
                return spec.shapes[top]
    return None


def fake_weights(path: Path | None = None, value: float = 0.5, n: int = 4096, file: str | None = None) -> bytes:
    """A sound weights file (the `layer_names` layout of Keras' downloads) of about 16 KB * n/4096.

    Named like a network's weights file (`path`'s name, or `file`), it holds that network's structure (as many
    layers with weights, the first and last arrays of its shapes: what the course checks a file against),
    with small arrays in between; otherwise one layer."""
    shapes = _shapes_for(file or (path.name if path is not None else None))
    layers = [[(n,)]] if shapes is None else [[shapes[1]], *[[(1,)]] * (shapes[0] - 2), [(n,), shapes[2]]]
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        names = [f"layer_{i}" for i in range(len(layers))]
        f.attrs["layer_names"] = np.array([name.encode() for name in names])
        for name, arrays in zip(names, layers):
            group = f.create_group(name)
            weight_names = [f"{name}/w{j}:0" for j in range(len(arrays))]
            group.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
            for weight, shape in zip(weight_names, arrays):
                group.create_dataset(weight, data=np.full(shape, value, np.float32))
    payload = buffer.getvalue()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    return payload


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file short, like a download killed half-way (Keras writes straight to the final name)."""
    payload = path.read_bytes()
    path.write_bytes(payload[: int(len(payload) * keep)])


def real_weights(model, path: Path) -> Path:
    """`model`'s weights in the legacy HDF5 layout Keras' application weight files use."""
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path
