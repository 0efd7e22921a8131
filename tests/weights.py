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


def fake_weights(path: Path | None = None, value: float = 0.5, n: int = 4096) -> bytes:
    """A sound weights file (the `layer_names` layout of Keras' downloads) of about 16 KB * n/4096."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"])
        group = f.create_group("dense")
        group.attrs["weight_names"] = np.array([b"dense/kernel:0"])
        group.create_dataset("dense/kernel:0", data=np.full((n,), value, np.float32))
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
