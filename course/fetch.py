"""`python -m course download` and `python -m course datasets`: fill a cache or a workshop mirror."""

from __future__ import annotations

import sys
from pathlib import Path

from . import backbones, data, downloads, networks, paths, storage

#: What `--all` fetches besides every dataset: each backbone without its top, the tops notebook 04 puts
#: on (ResNet50, the original's; MobileNet 1.0, its offline stand-in) and ImageNet's class names.
ALL_WEIGHTS = [f"imagenet:{b}" for b in networks.BACKBONES] + [
    "imagenet_top:resnet50", "imagenet_top:mobilenet_100", "imagenet:class_index"]


def download_command(names: list[str], everything: bool, to: str | None) -> int:
    """Fetch each named dataset or weights file; one that fails is reported and the others still run."""
    if data.paths.is_offline():
        print("COURSE_OFFLINE=1 is set: unset it to download.", file=sys.stderr)
        return 2
    wanted = list(data.DATASETS) + ALL_WEIGHTS if everything else names
    weights = backbones.downloadable()
    if not wanted:
        print("Name datasets or weights to download, or --all. Known:", ", ".join([*data.DATASETS, *weights]),
              file=sys.stderr)
        return 2
    mirror = Path(to).expanduser().absolute() if to else None
    target = mirror or paths.cache_dir()
    try:
        storage.check_writable(target)
        if any(name in weights for name in wanted):
            storage.check_writable(mirror / "keras_home" / "models" if mirror else paths.keras_home() / "models")
    except storage.StorageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = []
    for name in wanted:
        try:
            if name in weights:
                models = mirror / "keras_home" / "models" if mirror else None
                print(f"ok  {name} -> {backbones.download_weights(weights[name], models)}")
            elif name in data.DATASETS:
                print(f"ok  {name} -> {data.download(name, mirror)}")
            else:
                raise KeyError(f"unknown name {name!r}; known: {', '.join([*data.DATASETS, *weights])}")
        except KeyError as err:
            failed.append(name)
            print(f"FAILED  {name}: {err.args[0]}", file=sys.stderr)
        except Exception as err:  # noqa: BLE001  (one bad download must not stop the others)
            failed.append(name)
            print(f"FAILED  {name}: {downloads.explain(err, target)}", file=sys.stderr)
    if failed:
        print(f"\n{len(failed)} of {len(wanted)} failed: {', '.join(failed)}. What succeeded is kept; once the cause "
              f"above is fixed, the same command fetches only what is missing.", file=sys.stderr)
    elif mirror is not None:
        print(f"\nMirror ready. Use it with: export COURSE_DATA_DIR={mirror}")
    return 1 if failed else 0


def list_command() -> int:
    mirror = paths.mirror_dir()
    print(f"mirror (COURSE_DATA_DIR): {mirror or 'not set'}\ncache: {paths.cache_dir()}\n")
    for ds in data.DATASETS.values():
        folders = [mirror / rel for rel in (ds.folder, *ds.aliases)] if mirror else []
        places = [p for p in [*folders, paths.cache_dir() / ds.folder] if p.is_dir()]
        print(f"{ds.name:<14} {ds.title}\n{'':<14} licence: {ds.licence}; upstream: {ds.size}")
        if not places:
            print(f"{'':<14} not present (download it, or set COURSE_DATA_DIR to a mirror that holds it)\n")
            continue
        lacking = data.missing(places[0], ds)
        state = (f"incomplete, not used: it lacks {', '.join(lacking[:5])}{' ...' if len(lacking) > 5 else ''}"
                 if lacking else data.inventory(places[0], ds))
        print(f"{'':<14} found at {paths.label(places[0])}: {state}\n")
    print("ImageNet weights (python -m course download NAME):")
    for name, wanted in backbones.downloadable().items():
        places = [p for p in ([mirror / "keras_home" / "models"] if mirror else []) + [paths.keras_home() / "models"]
                  if (p / wanted.file).is_file()]
        print(f"  {name:<31} {'found in ' + paths.label(places[0]) if places else 'not present'}")
    return 0
