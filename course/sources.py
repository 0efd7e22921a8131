"""Where a lesson's data and weights came from, in plain words: what decides whether its numbers are real.

A run records each source as one line of text (`Run.note_source`: "real, mirror $COURSE_DATA_DIR/mnist
(60,000 train / 10,000 test)", "RANDOM weights (stand-in: ...)", "mobilenet_100 instead: vgg19's weights
cannot be had (...)"). `plain` turns one into a short fact a person reads at a glance, never losing whether it
is real data, a stand-in, random weights or a fallback network; it drops exception text and machine paths.
"""

from __future__ import annotations

import re

#: What a fact says about the numbers it produced: real, or not (stand-in data, random weights).
REAL, STAND_IN, RANDOM, FALLBACK = "real", "stand-in", "random weights", "fallback"


def _where(text: str) -> str:
    if "mirror" in text or "$COURSE_DATA_DIR" in text:
        return "offline mirror"
    if "downloaded" in text:
        return "downloaded"
    if "cache" in text or "$KERAS_HOME" in text or "$COURSE_CACHE_DIR" in text:
        return "cache"
    return ""


def _counts(text: str) -> str:
    found = re.findall(r"\(([\d,]+ train / [\d,]+(?: / [\d,]+)?(?: test| train / val / test)?)\)", text)
    return found[-1] if found else ""


def plain(name: str, description: str) -> tuple[str, str, str]:
    """`(what, kind, words)` for one recorded source: e.g. ("mnist", "real", "real data, offline mirror, 60,000
    train / 10,000 test") or ("vgg19", "fallback", "mobilenet_100 instead (vgg19's weights cannot be had here)")."""
    text = description.strip()
    if name.startswith("choice:"):
        wanted = name.removeprefix("choice:").removesuffix(":top")
        top = " with its ImageNet classifier" if name.endswith(":top") else ""
        used = text.split(" ", 1)[0]
        if "RANDOM weights" in text and used == wanted:
            return wanted, RANDOM, f"RANDOM weights{top} (no ImageNet weights here)"
        if "RANDOM weights" in text:
            return wanted, RANDOM, f"{used}{top} with RANDOM weights instead ({wanted} cannot be had here)"
        return wanted, FALLBACK, f"{used}{top} instead ({wanted} cannot be had here)"
    if name == "imagenet:class_index":
        if text.startswith("STAND-IN"):
            return "ImageNet class names", STAND_IN, "STAND-IN names (class_0 ... class_999)"
        return "ImageNet class names", REAL, f"real, {_where(text)}".rstrip(", ")
    if name.startswith("imagenet:"):
        network = name.removeprefix("imagenet:").removesuffix(":top")
        what = f"{network} classifier" if name.endswith(":top") else network
        if "RANDOM weights" in text:
            return what, RANDOM, "RANDOM weights (no ImageNet weights here)"
        return what, REAL, f"ImageNet weights, {_where(text)}".rstrip(", ")
    if name == "photos":
        count = re.match(r"([\d,]+ photos in \d+ classes)", text)
        where = _where(text) or "your folder"
        return "photos", REAL, f"{count.group(1) if count else 'photos'}, {where}"
    if text.startswith("STAND-IN"):
        return name, STAND_IN, "STAND-IN data (not the real dataset)"
    words = ", ".join(part for part in ("real data", _where(text), _counts(text)) if part)
    return name, REAL, words


def facts(sources: dict[str, str]) -> list[tuple[str, str, str]]:
    """`plain` for every recorded source, in the order they were recorded."""
    return [plain(name, description) for name, description in sources.items()]


def parse(data: str) -> dict[str, str]:
    """The sources in a record's `data` text ("mnist: real, ...; imagenet:mobilenet_025: RANDOM ..."), for
    records written before they carried `sources`. Splits only where a source name starts."""
    names = r"(?:choice:[\w.-]+(?::top)?|imagenet:[\w.-]+(?::top)?|[a-z][a-z_]*)"
    parts = re.split(rf"; (?={names}: )", data.strip()) if data.strip() else []
    found = {}
    for part in parts:
        name, sep, description = part.partition(": ")
        if sep and re.fullmatch(names, name):
            found[name] = description
    return found


def real_or_not(record: dict) -> str:
    """One word for a record's numbers: "real", or what keeps them from being real ("stand-in data", ...)."""
    kinds = {kind for _, kind, _ in facts(record.get("sources") or parse(record.get("data", "")))}
    if STAND_IN in kinds:
        return "stand-in data"
    if RANDOM in kinds:
        return "random weights"
    return "real"
