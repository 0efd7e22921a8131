"""`python -m utils download` and `python -m utils datasets`: fill a cache or a workshop mirror."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import data
from .backbones import BACKBONES


def _download_weights(name: str, mirror: Path | None) -> None:
    """Let Keras fetch (and md5-check) a backbone's weights, into the mirror's keras_home if given."""
    env = dict(os.environ)
    if mirror is not None:
        env["KERAS_HOME"] = str(mirror / "keras_home")
    spec = BACKBONES[name]
    size = spec.image_size
    code = (
        f"import keras; getattr(keras.applications, {spec.constructor!r})(include_top=False, weights='imagenet', "
        f"input_shape=({size}, {size}, 3), **dict({spec.kwargs!r}))"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def download_command(names: list[str], everything: bool, to: str | None) -> int:
    if data.env.is_offline():
        print("COURSE_OFFLINE=1 is set: unset it to download.", file=sys.stderr)
        return 2
    wanted = list(data.DATASETS) + [f"imagenet:{b}" for b in BACKBONES] if everything else names
    if not wanted:
        print("Name datasets to download, or --all. Known:", ", ".join(data.DATASETS), file=sys.stderr)
        return 2
    mirror = Path(to).expanduser() if to else None
    failed = []
    for name in wanted:
        try:
            if name.startswith("imagenet:"):
                backbone = name.split(":", 1)[1]
                if backbone not in BACKBONES:
                    raise KeyError(f"unknown backbone {backbone!r}; known: {', '.join(BACKBONES)}")
                _download_weights(backbone, mirror)
                print(f"ok  {name}")
            else:
                if name not in data.DATASETS:
                    raise KeyError(f"unknown dataset {name!r}; known: {', '.join(data.DATASETS)}")
                print(f"ok  {name} -> {data.download(name, mirror)}")
        except (OSError, KeyError, data.ChecksumError, data.UnsafeArchiveError, subprocess.CalledProcessError) as err:
            failed.append(name)
            print(f"FAILED  {name}: {err}", file=sys.stderr)
    if mirror is not None and not failed:
        print(f"\nMirror ready. Use it with: export COURSE_DATA_DIR={mirror}")
    return 1 if failed else 0


def list_command() -> int:
    mirror = data.mirror_dir()
    print(f"mirror (COURSE_DATA_DIR): {mirror or 'not set'}\ncache: {data.cache_dir()}\n")
    for ds in data.DATASETS.values():
        places = [p for p in ([mirror / ds.folder] if mirror else []) + [data.cache_dir() / ds.folder] if p.exists()]
        print(f"{ds.name:<14} {ds.title}\n{'':<14} licence: {ds.licence}; {ds.size}")
        print(f"{'':<14} {'found at ' + str(places[0]) if places else 'not present (download or mirror needed)'}\n")
    return 0
