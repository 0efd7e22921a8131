"""Where a lesson's data and weights came from, in plain words: what decides whether its numbers are real.

A run records each source as one line of text (`Run.note_source`: "real, mirror $COURSE_DATA_DIR/mnist
(60,000 train / 10,000 test)", "RANDOM weights (stand-in: ...)", "mobilenet_100 instead: vgg19's weights
cannot be had (...)"). `plain_sources` turns them into short facts a person reads at a glance, never losing
whether each is real data, a stand-in, random weights or a fallback network, and never showing a path or an
exception's text. The runner's table and the site's banners both read them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Source:
    """One source of a run's data description, in plain words for a page."""

    name: str      # as recorded: "mnist", "imagenet:mobilenet_100:top", "choice:vgg19"
    kind: str      # "real", "stand-in", "pretrained", "random-weights", "fallback" or "unknown"
    words: str     # "MNIST handwritten digits: real data (offline mirror, 19,690 train / 10,000 test)"


# One source of a run's data description starts where a name (`mnist`, `imagenet:mobilenet_100:top`,
# `choice:efficientnetv2-b0-21k-ft1k`) and ": " follow "; ". A reason inside a source may contain "; " too
# ("not in the mirror or Keras' cache; COURSE_OFFLINE=1: no download tried"): that is not a new source.
_SOURCE_START = re.compile(r"; (?=[a-z0-9][a-z0-9_.\-]*(?::[a-z0-9][a-z0-9_.\-]*)*: )")
# Counts a source may name, e.g. "(19,690 train / 10,000 test)" or "(2,640 / 296 / 2,485 train / val / test)".
_COUNTS = re.compile(r"\(((?=[^)]*\d)(?:[\d,]+|train|val|test| / | )+)\)")


def network_name(name: str) -> str:
    """`mobilenet_025` -> "MobileNet 0.25", `vgg19` -> "VGG19"; a name the course does not know stays as it is."""
    from .networks import BACKBONES

    spec = BACKBONES.get(name)
    if not spec:
        return name
    alpha = dict(spec.kwargs).get("alpha")
    return f"{spec.constructor} {alpha}" if alpha is not None else spec.constructor


def _dataset_name(name: str) -> str:
    from .data import DATASETS

    if name == "imagenet:class_index":
        return "ImageNet class names"
    ds = DATASETS.get(name)
    return re.sub(r"\s*\([^)]*\)$", "", ds.title) if ds else name


def _why_not(reason: str) -> str:
    """Why a network could not be had, in plain words (the recorded reason holds raw exception text)."""
    reason = reason.lower()
    if "course_offline" in reason:
        return "it is not available offline, and this run was not allowed to download"
    if "download" in reason:
        return "it is not available offline and could not be downloaded"
    return "it could not be loaded"


def plain_sources(description: str) -> list[Source]:
    """A run's data description (`data` in `build/results.json`) as plain-word sources, in its order.

    `"mnist: real, mirror $COURSE_DATA_DIR/mnist (60,000 train / 10,000 test); choice:vgg19: mobilenet_100
    instead: vgg19's weights cannot be had (... <urlopen error ...>)"` ->
    MNIST handwritten digits: real data (offline mirror, 60,000 train / 10,000 test) and
    "MobileNet 1.0 instead of VGG19: it is not available offline and could not be downloaded".
    Never a path, an exception's text, or a word the description did not justify."""
    sources = []
    for part in filter(None, (p.strip() for p in _SOURCE_START.split(description or ""))):
        name, sep, where = part.partition(": ")
        if not sep:
            continue
        if name.startswith("choice:"):
            wanted = network_name(name.removeprefix("choice:").removesuffix(":top"))
            used, _, reason = where.partition(" instead")
            if "random weights" in used.lower():
                used = network_name(re.sub(r"\s+with random weights$", "", used.strip(), flags=re.IGNORECASE))
                sources.append(Source(name, "random-weights", f"{used} with random weights instead of {wanted}: "
                                                               f"{_why_not(reason)} (no pretrained weights either)"))
            else:
                sources.append(Source(name, "fallback", f"{network_name(used.strip())} instead of {wanted}: "
                                                         f"{_why_not(reason)}"))
            continue
        low = where.lower()
        if name.startswith("imagenet:") and name != "imagenet:class_index":
            net = name.removeprefix("imagenet:")
            subject = network_name(net.removesuffix(":top")) + (" with its ImageNet classifier" if net.endswith(":top") else "")
            if "random weights" in low or low.startswith("stand-in"):
                sources.append(Source(name, "random-weights", f"{subject}: random weights, not trained"))
            elif low.startswith("imagenet weights"):
                sources.append(Source(name, "pretrained", f"{subject}: ImageNet weights"))
            else:
                sources.append(Source(name, "unknown", f"{subject}: weights of unknown origin"))
            continue
        if name == "photos":
            counts = re.match(r"([\d,]+ photos in \d+ classes)", where)
            origin = next((words for key, words in (("$course_data_dir", "offline mirror"),
                                                     ("$course_cache_dir", "download cache")) if key in low), "a folder")
            sources.append(Source(name, "real", f"photos checked: {counts.group(1) if counts else 'a folder'} "
                                                f"({origin})"))
            continue
        subject = _dataset_name(name)
        if low.startswith("stand-in"):
            sources.append(Source(name, "stand-in", f"{subject}: STAND-IN data, not the real dataset"))
        elif low.startswith("real"):
            origin = next((words for key, words in (("mirror", "offline mirror"), ("cache", "download cache"),
                                                     ("downloaded", "downloaded")) if key in low), "")
            counts = _COUNTS.search(where)
            detail = ", ".join(filter(None, (origin, counts.group(1) if counts else "")))
            sources.append(Source(name, "real", f"{subject}: real data" + (f" ({detail})" if detail else "")))
        else:
            sources.append(Source(name, "unknown", f"{subject}: source not described"))
    return sources




def from_record(record: dict) -> list[Source]:
    """The plain-word sources of a stored record (its `sources`, or for older records its `data` text)."""
    recorded = record.get("sources")
    if isinstance(recorded, dict) and recorded:
        return plain_sources("; ".join(f"{name}: {text}" for name, text in recorded.items()))
    return plain_sources(str(record.get("data") or ""))


def real_or_not(record: dict) -> str:
    """One phrase for a record's numbers: "real", or what keeps them from being real."""
    kinds = {source.kind for source in from_record(record)}
    if "stand-in" in kinds:
        return "stand-in data"
    if "random-weights" in kinds:
        return "random weights"
    return "real"
