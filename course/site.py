"""`python -m course site`: the course as a static website, built from the executed notebooks.

Plumbing only. It collects what `python -m course run` left in `build/` (the executed `NN_name.ipynb`
and `results.json`), prepares copies of the notebooks for reading, fills the generated parts of the pages
in `docs/` (course map, what the pages show, results), writes MkDocs' configuration (navigation, and the
run shown in the banner of every page) and lets MkDocs, Material for MkDocs and mkdocs-jupyter build the
site. It relies on the notebook template only: an H1 title, `## Overview`, and, when present, a
`## Solutions` section, which moves to its own page.

Two builds, two folders: `build/site/` shows the latest run of each lesson, whatever its mode;
`--full` shows the last successful full-mode runs (`build/full/`) in `build/site-full/`, the one to publish.

What the site says about a run comes from the executed notebooks themselves: papermill's metadata
(times, failure, the cell that was running when a run stopped), the banner `utils.setup()` prints (mode,
device, offline), and the record `lesson.record(...)` wrote during that execution (data sources,
metrics). A lesson whose mode cannot be told is shown as "unknown", never as a full run. Pages never show
raw exception text or this machine's paths: data sources are put into plain words (`plain_sources`) and
paths in outputs are replaced by the variables that name them (`Redactor`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import html
import http.server
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from . import paths, runner, storage
from .record import metrics_path
from .runner import FULL_COPIES, headline
from .sources import Source, from_record
from .store import load_results

DOCS_DIR = paths.REPO_ROOT / "docs"
NOTEBOOK_DIR = paths.REPO_ROOT / "notebooks"
GITHUB = f"https://github.com/{paths.REPO_SLUG}"
COLAB = f"https://colab.research.google.com/github/{paths.REPO_SLUG}/blob/main/notebooks"
_OWNER, _REPO = paths.REPO_SLUG.split("/")
#: Where `.github/workflows/pages.yml` publishes the full build (GitHub Pages of REPO_SLUG).
PAGES_URL = f"https://{_OWNER.lower()}.github.io/{_REPO}/"
#: Colab GPU times of each lesson, measured and filled in by maintainers (the course map shows them).
GPU_TIMES = DOCS_DIR / "colab-gpu-times.yml"
#: The two builds: the latest runs of any mode, and the last successful full runs (the one to publish).
SITE_FOLDERS = {False: "site", True: "site-full"}

# Lines TensorFlow's C++ runtime writes to stderr (glog/absl format), e.g.
# "I0000 00:00:1795938687.18 7842 port.cc:153] oneDNN custom operations are on...": noise to a reader.
_NATIVE_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+:\d+\] ")
_NATIVE_LOG_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# Images from the web (the notebooks' Colab/GitHub badges) would be fetched when a page is read.
_REMOTE_HTML_IMG = re.compile(r"<img\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
_REMOTE_MD_IMG = re.compile(r"!\[([^\]]*)\]\((?:https?:)?//[^)]*\)")
_MARKER = re.compile(r"<!-- site:([a-z-]+) -->")
# A maintainers' note in a lesson: a Markdown quote that opens with "**For maintainers".
_MAINTAINER_NOTE = re.compile(r"^\s*>\s*\*\*For maintainers\b", re.IGNORECASE)


class SiteError(RuntimeError):
    """The site cannot be built (no executed notebooks, a page without its marker, a failed build)."""


@dataclass
class RunFacts:
    """How one executed notebook ran, from papermill's metadata and the banner `utils.setup()` printed."""

    mode: str = "unknown"         # "smoke", "full" or "unknown"
    status: str = "completed"     # "completed", "failed" or "interrupted"
    offline: bool | None = None
    device: str = ""
    started: datetime | None = None
    seconds: float | None = None
    error_type: str = ""          # the exception's class name, when a cell failed; never its message
    parameters: dict = field(default_factory=dict)
    folders: dict = field(default_factory=dict)   # what the banner names: {"mirror": "/data", "cache": "/c"}

    @property
    def on_cpu(self) -> bool:
        return self.device.startswith("CPU")


@dataclass
class Lesson:
    """One lesson as the site shows it: from the source notebook and, when it ran, its executed copy."""

    stem: str
    title: str
    executed: Path | None = None
    run: RunFacts | None = None   # None: not run
    record: dict = field(default_factory=dict)   # what lesson.record wrote during this execution
    overview: dict = field(default_factory=dict)
    has_solutions: bool = False
    gpu: bool = False             # its Colab metadata asks for a GPU
    full_run: RunFacts | None = None  # the last successful full run (build/full/), for the course map's CPU time

    @property
    def number(self) -> str:
        return self.stem[:2]

    @property
    def mode(self) -> str:
        return self.run.mode if self.run else "not run"

    @property
    def status(self) -> str:
        return self.run.status if self.run else "not run"

    @property
    def real(self) -> bool:
        """Ran at full size to the end: its numbers are what the lesson reaches."""
        return self.mode == "full" and self.status == "completed"

    @property
    def page(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def html(self) -> str:
        return f"{self.stem}.html"

    @property
    def solutions_page(self) -> str:
        return f"{self.stem}_solutions.ipynb"

    @property
    def colab_url(self) -> str:
        return f"{COLAB}/{self.stem}.ipynb"

    @property
    def source_url(self) -> str:
        return f"{GITHUB}/blob/main/notebooks/{self.stem}.ipynb"


# --- reading notebooks ---------------------------------------------------------------------------------


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def _stdout(nb: dict) -> str:
    return "".join(_text(o.get("text")) for c in nb["cells"] for o in c.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _title(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in _text(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _one_h2_per_cell(cells: list[dict]) -> list[dict]:
    """The cells with every markdown cell split before each of its `## ` headings but the first line, so that
    a section always starts a cell (03 writes `## Exercises` and `## Solutions` in one cell)."""
    out = []
    for cell in cells:
        lines = _text(cell["source"]).splitlines(keepends=True) if cell["cell_type"] == "markdown" else []
        cuts = [i for i, line in enumerate(lines) if i and line.startswith("## ")]
        if not cuts:
            out.append(cell)
            continue
        for k, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(lines)])):
            part = copy.deepcopy(cell)
            part["source"] = "".join(lines[a:b]).rstrip("\n") + "\n"
            if k and "id" in part:
                part["id"] = f"{cell['id']}-{k}"
            out.append(part)
    return out


def _section(nb: dict, heading: str) -> tuple[int, int] | None:
    """Cell range [start, end) of the `## heading` section: up to the next level-2 heading, or the end."""
    start = None
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        h2 = [line[3:].strip() for line in _text(cell["source"]).splitlines() if line.startswith("## ")]
        if start is None and h2 and h2[0].lower() == heading.lower():
            start = i
        elif start is not None and h2:
            return start, i
    return (start, len(nb["cells"])) if start is not None else None


def _overview(nb: dict) -> dict:
    """The Overview's parts the course map shows: its **You will learn to** list, a one-line **Description**,
    prerequisites. (Its **Runtime** line is prose for the reader: the map's times come from the runs.)"""
    span = _section(nb, "Overview")
    if not span:
        return {}
    text = "\n".join(_text(nb["cells"][i]["source"]) for i in range(*span) if nb["cells"][i]["cell_type"] == "markdown")
    parts = {}
    learn = re.search(r"\*\*You will learn to\*\*:?\s*\n((?:[-*] .*\n?(?:  +.*\n?)*)+)", text)
    if learn:
        items = re.split(r"\n[-*] ", "\n" + learn.group(1).strip())
        parts["learn"] = [" ".join(item.split()) for item in items if item.strip()]
    for key, label in (("description", "Description"), ("prerequisites", "Prerequisites")):
        found = re.search(rf"\*\*{label}\*\*:?\s*(.+?)(?:\n\s*\n|\Z)", text, re.DOTALL)
        if found:
            parts[key] = " ".join(found.group(1).split())
    return parts


def figures(nb: dict) -> int:
    """How many image outputs (plots) a notebook holds."""
    return sum(1 for c in nb["cells"] for o in c.get("outputs", []) if any(k.startswith("image/") for k in o.get("data", {})))


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


STOP_RUN_ALL = "StopRunAll"  # what `lesson.stop_run_all()` raises at the solutions (course.record)


def run_facts(nb: dict) -> RunFacts:
    """How an executed notebook ran: papermill's metadata and the banner of `utils.setup()`.

    A run that stopped before its end (Ctrl-C, SIGTERM, a kernel that died) leaves a cell that papermill
    still marks as running: "interrupted" here; `collect` tells a dead kernel (failed) from the runner's record.
    """
    meta = nb.get("metadata", {}).get("papermill", {})
    facts = RunFacts(started=_parse_time(meta.get("start_time")), seconds=meta.get("duration"),
                     parameters=meta.get("parameters") or {})
    out = _stdout(nb)
    banner = re.search(r"^Mode: (SMOKE|FULL)\b(.*)$", out, re.MULTILINE)
    if banner:
        facts.mode = banner.group(1).lower()
        facts.offline = "offline" in banner.group(2)
    device = re.search(r"^Device: ([^|\n]+)", out, re.MULTILINE)
    facts.device = device.group(1).strip() if device else ""
    folders = re.search(r"^Data: mirror=(.*?), cache=(.*?)(?:, offline)?$", out, re.MULTILINE)
    if folders:
        facts.folders = {"mirror": folders.group(1), "cache": folders.group(2)}
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if meta.get("exception") and errors and errors[-1].get("ename") == STOP_RUN_ALL:
        pass  # the lesson ran to its end: `lesson.stop_run_all()` kept the solutions out of a full run
    elif meta.get("exception"):
        facts.status = "failed"
        facts.error_type = errors[-1].get("ename", "") if errors else ""
    elif meta.get("duration") is None or any(
            c.get("metadata", {}).get("papermill", {}).get("status") == "running" for c in nb["cells"]):
        facts.status = "interrupted"
    return facts


def _saved_time(record: dict) -> datetime | None:
    """When the runner saved a record (`"saved"`: this machine's local time, as `results.now()` writes it)."""
    try:
        return datetime.strptime(record["saved"], "%Y-%m-%d %H:%M:%S").astimezone()
    except (KeyError, TypeError, ValueError):
        return None


def _during(run: RunFacts, when: datetime | None, slack: float = 300) -> bool:
    """`when` falls within this execution (or the few minutes after it, when the runner saves its record)."""
    if not (run.started and when):
        return False
    return run.started - timedelta(seconds=60) <= when <= run.started + timedelta(seconds=(run.seconds or 0) + slack)


def _own_record(stem: str, run: RunFacts, results: list[dict]) -> tuple[dict, dict]:
    """(the record of this very execution, the runner's record of this attempt).

    The record: `build/metrics/<stem>.json` if it was written while the notebook ran (the runner deletes it
    first), else the results.json record of the same notebook and mode saved right after this execution.
    The attempt: the runner's entry for this execution, failed or not (a failed attempt sits beside the last
    good record as `last_attempt`)."""
    record, attempt = {}, {}
    path = metrics_path(stem)
    if path.exists() and run.started:
        written = datetime.fromtimestamp(path.stat().st_mtime, tz=run.started.tzinfo)
        if _during(run, written, slack=60):
            record = json.loads(path.read_text())
            if record.get("mode", run.mode) != run.mode:  # another run's, in the other mode, written meanwhile
                record = {}
    for entry in results:
        if entry.get("notebook") != stem or entry.get("mode") != run.mode:
            continue
        for candidate in (entry.get("last_attempt"), entry):
            if candidate and _during(run, _saved_time(candidate)):
                attempt = {"notebook": stem, "mode": run.mode, **candidate}
                break
        if not record and _during(run, _saved_time(entry)) and "error" not in entry:
            record = entry
    return record, attempt


def collect(full: bool = False) -> tuple[list[Lesson], list[dict]]:
    """Every lesson in reading order (those not run too), and the records of `build/results.json`.

    `full`: the last successful full-mode runs (`build/full/`), not the latest attempts of any mode."""
    build = paths.build_dir() / FULL_COPIES if full else paths.build_dir()
    notes: list[str] = []
    # a damaged results.json is read as far as it can be, never a crash; records of notebooks that are no
    # lessons any more (renamed or removed) and fields of the wrong type are left out, and said
    results, gone = runner.lessons_only(load_results(notes))
    for note in notes + ([f"results of {', '.join(gone)}, no lessons any more, are left out"] if gone else []):
        print(f"  note: {note}")
    lessons = []
    for source in runner.notebooks():
        executed = build / source.name
        stored = json.loads(source.read_text())
        nb = _readable(executed) if executed.exists() else None
        if executed.exists() and nb is None:
            print(f"  note: {executed} cannot be read (cut short or damaged): {source.stem} is shown as not run")
            executed = build / f".unreadable-{source.name}"  # does not exist: the lesson counts as not run
        nb = nb or stored
        lesson = Lesson(stem=source.stem, title=_title(nb, source.stem), overview=_overview(nb),
                        has_solutions=_section({"cells": _one_h2_per_cell(nb["cells"])}, "Solutions") is not None,
                        gpu=stored.get("metadata", {}).get("accelerator") == "GPU")
        if executed.exists():
            lesson.executed = executed
            lesson.run = run_facts(nb)
            lesson.record, attempt = _own_record(source.stem, lesson.run, results)
            if attempt.get("status") in ("failed", "interrupted") and lesson.run.status != "failed":
                # the runner knows better: a kernel that died (failed), a notebook that recorded no results
                lesson.run.status = attempt["status"]
        kept = paths.build_dir() / FULL_COPIES / source.name
        kept_nb = _readable(kept) if kept.exists() else None
        if kept_nb is not None:
            lesson.full_run = lesson.run if executed == kept else run_facts(kept_nb)
        lessons.append(lesson)
    if not any(lesson.executed for lesson in lessons):
        command = "python -m course run --full" if full else "python -m course run"
        raise SiteError(f"no executed notebooks in {build}/: run `{command}` first")
    return lessons, results


def _readable(path: Path) -> dict | None:
    """An executed notebook as JSON, or None when it is not one (cut short by a full disk, overwritten)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return nb if isinstance(nb, dict) and isinstance(nb.get("cells"), list) else None


# --- paths on pages ----------------------------------------------------------------------------------------


class Redactor:
    """Replaces this machine's folders in text with the names a reader can use (`$COURSE_DATA_DIR`, `build`, `~`),
    and a failed download's raw exception (`<urlopen error [Errno -2] Name or service not known>`) with plain words.

    The folders: those the executed notebook's banner names (its mirror and cache), and those of the machine
    building the site (build folder, the course's checkout, the environment's folders, home, temporary folder);
    beyond those, any `.../site-packages/` prefix."""

    def __init__(self, folders: dict | None = None):
        named = [(p, label) for p, label in self.machine_folders().items()]
        named += [(p, {"mirror": "$COURSE_DATA_DIR", "cache": "$COURSE_CACHE_DIR"}[k])
                  for k, p in (folders or {}).items() if k in ("mirror", "cache") and p.startswith("/")]
        # longest first: the build folder inside the checkout becomes `build`, not `<checkout>/build`
        named.sort(key=lambda item: len(item[0]), reverse=True)
        # installed packages first, wherever they are: `.../site-packages/keras/...` -> `site-packages/keras/...`
        self._rules = [(re.compile(r"(?<![\w.~$])(?:/[\w.+-]+)+/(?=(?:site|dist)-packages/)"), "")]
        self._rules += [(re.compile(r"(?<![\w.~$/-])" + re.escape(p.rstrip("/")) + r"(?=[/\s,;:'\"()\[\]<>]|$)"), label)
                        for p, label in named if p.rstrip("/")]

    @staticmethod
    def machine_folders() -> dict[str, str]:
        """{path: what a page says instead} for this machine's folders that pages must never show."""
        found = {str(paths.build_dir()): "build", str(paths.REPO_ROOT): ".",
                 str(Path.home()): "~", tempfile.gettempdir(): "$TMPDIR", sys.prefix: "$VIRTUAL_ENV"}
        for var in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR", "KERAS_HOME", "COURSE_BUILD_DIR", "VIRTUAL_ENV"):
            if os.environ.get(var, "").startswith("/"):
                found.setdefault(os.environ[var], "build" if var == "COURSE_BUILD_DIR" else f"${var}")
        found.setdefault(str(paths.cache_dir()), "$COURSE_CACHE_DIR")
        return {p: label for p, label in found.items() if p not in ("/", "")}

    # Python's repr of a failed download (urllib's URLError), which the course's fallback lines quote
    _URLOPEN = re.compile(r"<urlopen error (?:\[Errno -?\d+\] )?([^<>]*)>")
    _NO_NAME = ("Name or service not known", "Temporary failure in name resolution", "nodename nor servname")

    def __call__(self, text: str) -> str:
        for pattern, label in self._rules:
            text = pattern.sub(label, text)
        return self._URLOPEN.sub(lambda m: "no network: the server's name could not be looked up" if any(
            words in m.group(1) for words in self._NO_NAME) else "a network error", text)

    def outputs(self, cell: dict) -> None:
        """Every text a code cell's outputs show (streams, tracebacks, plain text and HTML), redacted."""
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = self(_text(out["text"]))
            if "traceback" in out:
                out["traceback"] = [self(line) for line in out["traceback"]]
            if "evalue" in out:
                out["evalue"] = self(out["evalue"])
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in out.get("data", {}):
                    out["data"][mime] = self(_text(out["data"][mime]))


# --- what the run was -------------------------------------------------------------------------------------


def _numbers(lessons: list[Lesson]) -> str:
    """`[01, 03]` -> "01 and 03"; `[02, 04, 05]` -> "02, 04 and 05"."""
    numbers = [x.number for x in lessons]
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]


def _date(run: RunFacts | None) -> str:
    return f"{run.started:%Y-%m-%d}" if run and run.started else "an unknown date"


def _dates(lessons: list[Lesson]) -> str:
    dates = sorted(x.run.started for x in lessons if x.run and x.run.started)
    if not dates:
        return "an unknown date"
    if dates[0].date() == dates[-1].date():
        return f"{dates[-1]:%Y-%m-%d}"
    return f"{dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}"


_SMOKE_MEANS = "tiny subsets and one or two epochs show that the code runs; the numbers mean nothing"
_STATUS_WORDS = {"failed": "FAILED", "interrupted": "INTERRUPTED", "completed": "completed"}


def _lessons(lessons: list[Lesson]) -> str:
    """"lesson 01", "lessons 01 and 03"."""
    return ("lesson " if len(lessons) == 1 else "lessons ") + _numbers(lessons)


def _data_facts(lessons: list[Lesson], one: bool = False) -> list[str]:
    """What the lessons ran on, in plain words: real or stand-in data, random weights, fallback networks.
    `one`: the facts of a single lesson, said without its number."""
    ran = [x for x in lessons if x.run]
    by_kind: dict[str, list[tuple[Lesson, Source]]] = {}
    for lesson in ran:
        for source in from_record(lesson.record):
            by_kind.setdefault(source.kind, []).append((lesson, source))
    unrecorded = [x for x in ran if not x.record.get("data")]

    def where(kind):
        found = sorted({x.number: x for x, _ in by_kind.get(kind, [])}.values(), key=lambda x: x.number)
        return "" if one else f" in {_lessons(found)}"

    facts = []
    real = {x.number for x, _ in by_kind.get("real", [])}
    if by_kind.get("stand-in"):
        facts.append(f"STAND-IN data{where('stand-in')}: not the real datasets")
    elif real:
        facts.append("real data" + ("" if one or len(real) < len(ran) else " in every lesson"))
    if by_kind.get("unknown"):
        facts.append(f"data of unknown origin{where('unknown')}")
    if by_kind.get("random-weights"):
        facts.append(f"RANDOM weights{where('random-weights')}: no pretrained network could be had")
    for lesson, source in by_kind.get("fallback", []):
        facts.append(("" if one else f"{lesson.number}: ") + source.words.split(":")[0])
    if unrecorded:
        facts.append("data not recorded" + ("" if one else f" for {_lessons(unrecorded)}"))
    return facts


def _machine_facts(lessons: list[Lesson]) -> list[str]:
    ran = [x.run for x in lessons if x.run]
    facts = []
    if {r.offline for r in ran} == {True}:
        facts.append("offline")
    elif any(s.kind == "real" and "downloaded" in s.words for x in lessons for s in from_record(x.record)):
        facts.append("network used for downloads")
    devices = sorted({r.device for r in ran if r.device})
    facts.append(", ".join(devices) if devices else "device not recorded")
    return facts


def run_summary(lessons: list[Lesson]) -> dict:
    """The site-wide banner: which lessons ran in which mode and how each ended, and on what data.

    `style` is "full" only when every lesson ran in full mode to its end; anything else is striped."""
    ran = [x for x in lessons if x.run]
    modes = {x.mode for x in ran}
    mode = modes.pop() if len(modes) == 1 else "mixed"
    full = mode == "full" and len(ran) == len(lessons) and all(x.status == "completed" for x in ran)
    when = _dates(lessons)
    if full:
        text = f"Full run of {when}: every lesson ran at full size, and these pages show what it reached."
    elif mode == "full":
        text = f"Full run of {when}: the lessons that ran did so at full size."
    elif mode == "smoke":
        text = f"SMOKE RUN of {when}: {_SMOKE_MEANS}."
    elif mode == "unknown":
        text = f"RUN OF UNKNOWN MODE of {when}: not real results."
    else:
        said = {"full": "ran at full size (real results)", "smoke": "in smoke mode (the numbers mean nothing)",
                "unknown": "in a mode that cannot be told (not real results)"}
        groups = [(m, [x for x in ran if x.mode == m]) for m in said]
        text = f"MIXED RUN of {when}: " + "; ".join(f"{_lessons(g)} {said[m]}" for m, g in groups if g) + "."
    failed = [x for x in ran if x.status == "failed"]
    interrupted = [x for x in ran if x.status == "interrupted"]
    missing = [x for x in lessons if not x.run]
    notes = [f"{_lessons(group)} {verb if len(group) == 1 else plural}" for group, verb, plural in (
        (failed, "failed", "failed"), (interrupted, "was interrupted", "were interrupted"),
        (missing, "was not run", "were not run")) if group]
    if notes:
        sentence = "; ".join(notes)
        text += " " + sentence[0].upper() + sentence[1:] + "."
    details = _data_facts(lessons) + _machine_facts(lessons)  # the headline has said the modes
    return {"mode": mode, "style": "full" if full else "smoke", "headline": text, "details": details,
            "date": when, "failed": [x.stem for x in failed], "interrupted": [x.stem for x in interrupted],
            "missing": [x.stem for x in missing]}


def lesson_banner(lesson: Lesson) -> dict:
    """The banner of a lesson's own pages: this lesson's mode, how its run ended, and its data."""
    n = lesson.number
    if not lesson.run:
        return {"mode": "not run", "style": "smoke", "details": [],
                "headline": f"Lesson {n} was not run: this page shows the lesson without outputs."}
    run = lesson.run
    what = {"full": "full run", "smoke": "SMOKE RUN"}.get(run.mode, "RUN OF UNKNOWN MODE")
    text = f"Lesson {n}: {what} of {_date(run)}, {_STATUS_WORDS[run.status]}"
    if run.status == "failed":
        text += ": the outputs end at the cell that failed."
    elif run.status == "interrupted":
        text += ": the outputs end where the run stopped."
    elif run.mode == "full":
        text += ": the outputs are what the lesson reaches."
    elif run.mode == "smoke":
        text += f": {_SMOKE_MEANS}."
    else:
        text += ": not real results."
    return {"mode": run.mode, "style": "full" if lesson.real else "smoke", "headline": text,
            "details": _data_facts([lesson], one=True) + _machine_facts([lesson])}


# --- the notebooks as pages ------------------------------------------------------------------------------------


def _markdown_cell(source: str, name: str) -> dict:
    return {"cell_type": "markdown", "id": f"site-{name}", "metadata": {}, "source": source}


@functools.cache
def icon(name: str) -> str:
    """An icon of Material for MkDocs (`simple/googlecolab`), as inline SVG: drawn without fetching anything."""
    import material

    svg = (Path(material.__file__).parent / "templates" / ".icons" / f"{name}.svg").read_text().strip()
    return f'<span class="twemoji">{svg}</span>'


_ICONS = {"colab": "simple/googlecolab", "source": "fontawesome/brands/github", "lesson": "material/arrow-left"}


def duration(seconds: float) -> str:
    """A short figure: `37 s`, `9 min`, `1 h 20 min`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _lesson_header(lesson: Lesson, redact: Redactor, solutions: bool = False) -> str:
    run = lesson.run
    if run:
        facts = [{"completed": "Completed", "failed": "Failed", "interrupted": "Interrupted"}[run.status],
                 f"{run.mode} mode"]
        if run.started:
            facts.append(f"run {run.started:%Y-%m-%d %H:%M} UTC")
        if run.seconds is not None:
            facts.append(duration(run.seconds))
        if run.device:
            facts.append(run.device)
        if run.offline:
            facts.append("offline")
        if run.parameters:
            facts.append("parameters " + ", ".join(f"{k}={v}" for k, v in run.parameters.items()))
    else:
        facts = ["not run: no outputs"]
    links = [("colab", "Run in Colab", lesson.colab_url), ("source", "Source on GitHub", lesson.source_url)]
    if solutions:
        links.append(("lesson", "Back to the lesson", lesson.html))
    buttons = "".join(f'<a class="md-button{" md-button--primary" if key == "colab" else ""}" data-site-link="{key}" '
                      f'href="{html.escape(url)}">{icon(_ICONS[key])} {text}</a>' for key, text, url in links)
    text = (f'<div class="lesson-links">{buttons}</div>\n\n'
            f'<p class="lesson-run mathjax_ignore" data-status="{lesson.status}">{html.escape(redact(" · ".join(facts)))}</p>')
    sources = from_record(lesson.record)
    if sources:
        items = "".join(f'<li data-kind="{s.kind}">{html.escape(s.words)}</li>' for s in sources)
        text += f'\n\n<details class="lesson-data mathjax_ignore"><summary>Data and networks of this run</summary><ul>{items}</ul></details>'
    if run and run.mode != "full":
        text += ('\n\n<div class="admonition warning"><p class="admonition-title">Not real results</p><p>These outputs '
                 f"come from a run in {run.mode} mode: the code ran, but the numbers and plots need not be what "
                 "the lesson reaches at full size.</p></div>")
    if run and run.status == "failed":
        what = f" (<code>{html.escape(run.error_type)}</code>)" if run.error_type else ""
        text += ('\n\n<div class="admonition failure"><p class="admonition-title">This lesson stopped with an error in '
                 f'this run</p><p>A cell raised an error{what}: the outputs end at '
                 '<a href="#papermill-error-cell">the failing cell</a>.</p></div>')
    elif run and run.status == "interrupted":
        text += ('\n\n<div class="admonition failure"><p class="admonition-title">This run was interrupted</p><p>It '
                 "stopped before the end (stopped by hand, or its kernel was stopped): the outputs end where it "
                 "stopped.</p></div>")
    return text


def _clean_outputs(cell: dict) -> None:
    """Drop TensorFlow's native log lines from stderr; keep everything else the notebook printed."""
    kept = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            lines = [line for line in _text(out.get("text")).splitlines(keepends=True)
                     if not _NATIVE_LOG.match(line) and not line.startswith(_NATIVE_LOG_PREAMBLE)]
            if not "".join(lines).strip():
                continue
            out = {**out, "text": "".join(lines)}
        kept.append(out)
    cell["outputs"] = kept


def _heading_code(line: str) -> str:
    """`## 6a. `tf.image` in a map` -> `## 6a. <code>tf.image</code> in a map`: the same heading on the page,
    but mkdocs-jupyter builds its table of contents after deleting backtick spans (entries like "6a. in a
    map", linking to no heading); `<code>` survives it."""
    if not re.match(r"#{1,6} ", line):
        return line
    return re.sub(r"`([^`]+)`", lambda m: f"<code>{html.escape(m.group(1), quote=False)}</code>", line)


def _site_anchors(cells: list[dict]) -> dict[str, str]:
    """Jupyter's heading anchors (`#What-changed-from-the-original-tutorial`: the text, spaces as hyphens) ->
    the ones mkdocs-jupyter gives the same headings on the site (`#what-changed-from-the-original-tutorial`)."""
    from mkdocs_jupyter.utils import slugify

    anchors = {}
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for line in _text(cell["source"]).splitlines():
            heading = re.match(r"#{1,6} (.+)", line)
            if heading:
                text = re.sub(r"<[^>]+>|[`*]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.group(1)).strip()
                anchors[text.replace(" ", "-")] = slugify(text)
    return anchors


def _link_anchors(cell: dict, anchors: dict[str, str]) -> None:
    """In-page links written for Jupyter point at the site's anchors (else they lead nowhere)."""
    cell["source"] = re.sub(r"(\]\(#|href=[\"']#)([^)\"'\s]+)", lambda m: m.group(1) + anchors.get(m.group(2), m.group(2)),
                            _text(cell["source"]))


def site_link(target: str) -> str:
    """Where a relative link written in a lesson (relative to notebooks/) leads on the site: another lesson's
    page (`01_mnist_dense.ipynb#Some-heading` -> `01_mnist_dense.html#some-heading`), the data page, or any
    other file of the course on GitHub. Addresses and in-page anchors stay as they are."""
    from mkdocs_jupyter.utils import slugify

    if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target):
        return target
    path, _, anchor = target.partition("#")
    resolved = (NOTEBOOK_DIR / path).resolve()
    try:
        relative = resolved.relative_to(paths.REPO_ROOT).as_posix()
    except ValueError:
        return target
    if resolved.parent == NOTEBOOK_DIR and re.fullmatch(r"\d\d_\w+\.ipynb", resolved.name):
        return resolved.stem + ".html" + (f"#{slugify(anchor.replace('-', ' '))}" if anchor else "")
    if relative == "data/README.md":
        return "data.html" + (f"#{anchor.lower()}" if anchor else "")
    return f"{GITHUB}/blob/main/{relative}" + (f"#{anchor}" if anchor else "")


def _link_pages(cell: dict) -> None:
    """Links (not images) to other files of the course lead to their pages on the site, or to GitHub (`site_link`)."""
    source = re.sub(r"(?<!!)(\[[^\]]*\]\()([^)\s]+)", lambda m: m.group(1) + site_link(m.group(2)), _text(cell["source"]))
    cell["source"] = re.sub(r"(<a\b[^>]*\bhref=[\"'])([^\"']+)", lambda m: m.group(1) + site_link(m.group(2)), source)


def _prepare_markdown(cell: dict) -> None:
    """No web-hosted images (the notebooks' badges); headings whose code the table of contents keeps."""
    source = _REMOTE_HTML_IMG.sub("", _text(cell["source"]))
    source = _REMOTE_MD_IMG.sub(r"\1", source)
    cell["source"] = "\n".join(_heading_code(line) for line in source.split("\n"))


def _maintainer_notes(cells: list[dict]) -> tuple[list[dict], dict | None]:
    """The lesson's cells without its maintainers' notes, and one collapsed block at the end that holds them."""
    import markdown

    notes = [c for c in cells if c["cell_type"] == "markdown" and _MAINTAINER_NOTE.match(_text(c["source"]))]
    if not notes:
        return cells, None
    body = "\n\n".join(re.sub(r"^\s*> ?", "", _text(c["source"]), flags=re.MULTILINE) for c in notes)
    block = ('<details class="note maintainers" id="for-maintainers"><summary>For maintainers</summary>\n'
             f'{markdown.markdown(body)}\n<p>More on the <a href="maintainers.html">maintainers\' page</a>.</p></details>')
    return [c for c in cells if not any(c is n for n in notes)], _markdown_cell(block, "maintainers")


def lesson_pages(lesson: Lesson, nb: dict, redact: Redactor | None = None) -> tuple[dict, dict | None]:
    """The lesson's page, and its solutions page when it has a `## Solutions` section."""
    redact = redact or Redactor()
    nb = copy.deepcopy(nb)
    # papermill's red line above the title goes (the header says it better); its marker at the failing cell stays.
    cells = [c for c in _one_h2_per_cell(nb["cells"])
             if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
             or 'id="papermill-error-cell"' in _text(c["source"])]
    cells, notes = _maintainer_notes(cells)
    anchors = _site_anchors(cells)
    for cell in cells:
        if cell["cell_type"] == "markdown":
            _link_anchors(cell, anchors)
            _link_pages(cell)
            _prepare_markdown(cell)
        if cell["cell_type"] == "code":
            _clean_outputs(cell)
            redact.outputs(cell)
    nb["cells"] = cells
    solutions = None
    span = _section(nb, "Solutions")
    if span:
        start, end = span
        solutions = copy.deepcopy(nb)
        solutions["cells"] = [_markdown_cell(f"# Solutions: {lesson.title}", "title"),
                              _markdown_cell(_lesson_header(lesson, redact, solutions=True), "header"), *cells[start:end]]
        pointer = _markdown_cell(
            "## Solutions\n\nThe solutions to the exercises are on [their own page]"
            f"({lesson.solutions_page.replace('.ipynb', '.html')}): try the exercises first.", "solutions")
        nb["cells"] = [*cells[:start], pointer, *cells[end:]]
    if notes:
        nb["cells"].append(notes)
    # The title cell keeps only its H1; the notebook's badges (web images) give way to the site's links.
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown" and _text(cell["source"]).lstrip().startswith("# "):
            cell["source"] = _text(cell["source"]).lstrip().splitlines()[0]
            nb["cells"].insert(i + 1, _markdown_cell(_lesson_header(lesson, redact), "header"))
            break
    else:
        nb["cells"].insert(0, _markdown_cell(f"# {lesson.title}\n\n" + _lesson_header(lesson, redact), "header"))
    return nb, solutions


# --- generated Markdown ------------------------------------------------------------------------------------


def _cell(text) -> str:
    """Text for a Markdown table cell: no pipes or newlines, and no `<...>` taken for HTML."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _metrics(record: dict, limit: int = 4) -> str:
    if record.get("error"):
        return "interrupted" if record.get("status") == "interrupted" else "failed"
    shown = [f"{k} {v:g}" for k, v in record.get("metrics", {}).items() if "seconds" not in k]
    more = f", … ({len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more if shown else "-"


def result_words(lesson: Lesson) -> str:
    """The headline result of the run shown, for the course map: `test accuracy 98.0%`, or why there is none."""
    if not lesson.run:
        return "not run"
    if lesson.status != "completed":
        return lesson.status
    if lesson.mode != "full":
        return f"{lesson.mode} run: no real result"
    key, _, value = headline(lesson.record).partition("=")
    if not value:
        return "not recorded"
    number = float(value)
    shown = f"{number:.1%}" if "accuracy" in key and 0 <= number <= 1 else f"{number:g}"
    return f"{key.replace('_', ' ')} {shown}"


def gpu_times() -> dict[str, dict]:
    """docs/colab-gpu-times.yml: each lesson's measured Colab GPU time (`seconds` null: not measured yet)."""
    import yaml

    return yaml.safe_load(GPU_TIMES.read_text()) or {}


def cpu_words(lesson: Lesson) -> str:
    """The lesson's time at full size on a CPU, from a run: the one shown, else the last kept full run."""
    for run in (lesson.run, lesson.full_run):
        if run and run.mode == "full" and run.status == "completed" and run.on_cpu and run.seconds:
            return duration(run.seconds)
    return "not measured yet"


def gpu_words(lesson: Lesson, measured: dict) -> str:
    entry = measured.get(lesson.stem) or {}
    if entry.get("seconds"):
        return duration(float(entry["seconds"])) + (f" ({entry['gpu']})" if entry.get("gpu") else "")
    return "not measured yet" if lesson.gpu else "no GPU needed"


def _inline(markdown_text: str) -> str:
    """One line of Markdown (backticks, emphasis) as HTML, without the paragraph around it."""
    import markdown

    return re.sub(r"^<p>|</p>$", "", markdown.markdown(markdown_text).strip())


def course_map(lessons: list[Lesson]) -> str:
    """The lessons in reading order, as cards: what each teaches, the result of the run shown, its times."""
    measured = gpu_times()
    cards = []
    for x in lessons:
        learn = x.overview.get("learn", [])
        about = f'<p class="map-about">{_inline(x.overview["description"])}</p>' if x.overview.get("description") else ""
        if learn:
            items = "".join(f"<li>{_inline(item)}</li>" for item in learn)
            about += f'<details class="map-learn"><summary>You will learn to … ({len(learn)})</summary><ul>{items}</ul></details>'
        facts = [("result", "Result", result_words(x)), ("cpu", "On a CPU", cpu_words(x)),
                 ("gpu", "On a Colab GPU", gpu_words(x, measured))]
        rows = "".join(f'<dt>{label}</dt><dd data-map="{key}">{html.escape(value)}</dd>' for key, label, value in facts)
        links = [f'<a href="{x.html}">Read the lesson</a>']
        if x.has_solutions:
            links.append(f'<a href="{x.stem}_solutions.html">Solutions</a>')
        links.append(f'<a href="{html.escape(x.colab_url)}">{icon(_ICONS["colab"])} Run in Colab</a>')
        cards.append(f'<div class="card map-card" id="map-{x.number}" data-stem="{x.stem}" data-mode="{x.mode}" '
                     f'data-status="{x.status}">\n<p class="map-title"><span class="map-number">{x.number}</span> '
                     f'<a href="{x.html}"><strong>{html.escape(x.title)}</strong></a></p>\n{about}\n'
                     f'<dl class="map-facts">{rows}</dl>\n<p class="map-links">{" · ".join(links)}</p>\n</div>')
    return '<div class="grid course-map">\n' + "\n".join(cards) + "\n</div>"


def what_you_see(lessons: list[Lesson]) -> str:
    """One statement of what the pages show, following from the runs."""
    ran = [x for x in lessons if x.run]
    groups = [
        ([x for x in ran if x.real], "**full runs**: the plots, tables and numbers are what the lessons reach at "
                                     "full size, on the data and networks the banner names"),
        ([x for x in ran if x.mode == "smoke" and x.status == "completed"],
         "**smoke runs**: tiny subsets and one or two epochs, which prove that the code runs; their numbers mean nothing"),
        ([x for x in ran if x.mode not in ("full", "smoke") and x.status == "completed"],
         "runs whose mode cannot be told: not real results"),
        ([x for x in ran if x.status != "completed"], "runs that **did not finish**: their outputs end where the run "
                                                        "stopped"),
        ([x for x in lessons if not x.run], "no run: the lessons without outputs"),
    ]
    said = [(group, words) for group, words in groups if group]
    if len(said) == 1 and len(said[0][0]) == len(lessons):
        return f"Every lesson is shown with the outputs of one run, and all of them are {said[0][1]}."
    return "Every lesson is shown with the outputs of one run. " + " ".join(
        f"{_lessons(group).capitalize()} {'shows' if len(group) == 1 else 'show'} {words}." for group, words in said)


def results_tables(lessons: list[Lesson], results: list[dict], redact: Redactor) -> str:
    shown = {(x.stem, x.mode) for x in lessons if x.run}
    header = ["| lesson | mode | wall time | metrics |", "|---|---|---|---|"]
    ours, others = list(header), list(header)
    for r in sorted(results, key=lambda r: (r.get("notebook", ""), r.get("mode", ""))):
        params = " ".join(f"`{k}={redact(str(v))}`" for k, v in r.get("parameters", {}).items())
        row = (f"| {r.get('notebook')} | {'**full**' if r.get('mode') == 'full' else r.get('mode')} {params} | "
               f"{duration(r.get('seconds') or 0)} | {_cell(_metrics(r))} |")
        (ours if (r.get("notebook"), r.get("mode")) in shown else others).append(row)
    text = "The runs shown on this site:\n\n" + ("\n".join(ours) if len(ours) > 2 else "none recorded")
    if len(others) > 2:
        text += "\n\nOther runs recorded in `build/results.json` (not the outputs shown here):\n\n" + "\n".join(others)
    return text


def per_lesson(lessons: list[Lesson], results: list[dict], redact: Redactor) -> str:
    rows = ["| lesson | from run | wall time | figures |", "|---|---|---|---|"]
    for x in lessons:
        records = [r for r in results if r.get("notebook") == x.stem and not r.get("error")]
        record = next((r for r in records if r.get("mode") == "full"), records[0] if records else None)
        if not record:
            rows.append(f"| [{x.number} {_cell(x.title)}]({x.page}) | none recorded | - | - |")
            continue
        mode = "**full**" if record["mode"] == "full" else f"{record['mode']} (numbers mean nothing)"
        params = " ".join(f"`{k}={redact(str(v))}`" for k, v in record.get("parameters", {}).items())
        rows.append(f"| [{x.number} {_cell(x.title)}]({x.page}) | {mode} {params} | {duration(record.get('seconds', 0))} "
                    f"| {_cell(_metrics(record, limit=6))} |")
    devices = sorted({x.run.device for x in lessons if x.run and x.run.device})
    note = (f"\n\nThe lessons on this site ran on: {', '.join(devices)}. (`build/results.json` does not record the "
            "device of other runs.)") if devices else ""
    return "\n".join(rows) + note


def run_admonition(run: dict) -> str:
    kind = "note" if run["style"] == "full" else "warning"
    lines = [f'!!! {kind} "The run these pages show"', "", f"    {run['headline']}", ""]
    lines += [f"    - {item}" for item in run["details"]]
    return "\n".join(lines)


def fill(text: str, parts: dict[str, str], name: str) -> str:
    """Replace each `<!-- site:key -->` marker with its part; every marker must be known."""
    def replace(match):
        if match.group(1) not in parts:
            raise SiteError(f"{name}: unknown marker {match.group(0)} (known: {', '.join(parts)})")
        return parts[match.group(1)]

    return _MARKER.sub(replace, text)


# --- building ----------------------------------------------------------------------------------------------


def mathjax_dir() -> Path:
    """MathJax 3 (its `es5` build), from the django-static-mathjax package: formulas render without a CDN.

    The package is only MathJax's files; Django is neither needed nor imported.
    """
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    folder = Path(spec.origin).parent / "static" / "mathjax" / "es5" if spec and spec.origin else None
    if not folder or not (folder / "tex-chtml.js").exists():
        raise SiteError("MathJax is missing: pip install -r requirements.txt (package django-static-mathjax)")
    return folder


def _copy_mathjax(target: Path) -> None:
    """`tex-chtml.js` and the parts it loads on demand (TeX extensions, fonts, menu, speech); not the other bundles."""
    source = mathjax_dir()
    shutil.copytree(source, target, ignore=lambda folder, names: [
        n for n in names if Path(folder) == source and n.endswith(".js") and n != "tex-chtml.js"])


PAGES = ("index.md", "workshop.md", "maintainers.md")


def prepare(lessons: list[Lesson], results: list[dict], src: Path, out: Path, site_url: str = PAGES_URL) -> Path:
    """Write the MkDocs project into `src` (pages, notebooks, config); return the config file."""
    import yaml

    if src.exists():
        shutil.rmtree(src)
    docs = src / "docs"
    docs.mkdir(parents=True)
    shutil.copytree(DOCS_DIR / "stylesheets", docs / "stylesheets")
    shutil.copytree(DOCS_DIR / "overrides", src / "overrides")
    _copy_mathjax(docs / "assets" / "mathjax")
    redact = Redactor()
    run = run_summary(lessons)
    parts = {"run": run_admonition(run), "what-you-see": what_you_see(lessons), "course-map": course_map(lessons),
             "results": results_tables(lessons, results, redact), "per-lesson": per_lesson(lessons, results, redact)}
    for name in PAGES:
        (docs / name).write_text(fill((DOCS_DIR / name).read_text(), parts, f"docs/{name}"))
    shutil.copy(paths.REPO_ROOT / "data" / "README.md", docs / "data.md")

    nav, banners = [{"Home": "index.md"}], {}
    for lesson in lessons:
        nb = json.loads((lesson.executed or NOTEBOOK_DIR / lesson.page).read_text())
        page, solutions = lesson_pages(lesson, nb, Redactor(lesson.run.folders if lesson.run else None))
        (docs / lesson.page).write_text(json.dumps(page))
        label = f"{lesson.number} · {lesson.title}"
        banners[lesson.page] = lesson_banner(lesson)
        if solutions:
            (docs / lesson.solutions_page).write_text(json.dumps(solutions))
            banners[lesson.solutions_page] = banners[lesson.page]
            nav.append({label: [{"Lesson": lesson.page}, {"Solutions": lesson.solutions_page}]})
        else:
            nav.append({label: lesson.page})
    nav += [{"The data": "data.md"}, {"For instructors": "workshop.md"}, {"For maintainers": "maintainers.md"}]

    config = yaml.safe_load((DOCS_DIR / "mkdocs.yml").read_text())
    config.update(docs_dir=str(docs), site_dir=str(out), nav=nav, site_url=site_url)
    config["theme"]["custom_dir"] = str(src / "overrides")
    config.setdefault("extra", {}).update(run=run, pages=banners)
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin:
            # Every page sits at the top of the site, so one relative address reaches MathJax from all of them.
            plugin["mkdocs-jupyter"]["custom_mathjax_url"] = "assets/mathjax/tex-chtml.js"
    path = src / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def site_dir(full: bool = False) -> Path:
    """Where a build goes unless told otherwise: `build/site/` (latest runs) or `build/site-full/` (full runs)."""
    return paths.build_dir() / SITE_FOLDERS[full]


def build(out: Path | None = None, full: bool = False, site_url: str = PAGES_URL) -> Path:
    """Build the site into `out` (default `site_dir(full)`) from the executed notebooks in `build/` (with `full`:
    the last successful full-mode runs, kept in `build/full/`); return `out`.

    `site_url`: the address the site will be published at; only the 404 page (served for any missing
    address, so its links cannot be relative) and the pages' canonical links use it.

    The site is built beside `out` and put in its place only when complete: a failure or Ctrl-C leaves the
    previous site as it was. A folder that holds files the course did not make is never built over."""
    out = Path(os.path.abspath(out or site_dir(full)))
    _check_out(out)
    start = time.perf_counter()
    lessons, results = collect(full)
    staging = out.with_name(f".{out.name}.building-{os.getpid()}")
    try:
        config_file = prepare(lessons, results, paths.build_dir() / "site-src" / SITE_FOLDERS[full], staging, site_url)
        _mkdocs(config_file)
        (staging / MARKER).write_text("Built by `python -m course site`; the next build replaces this folder.\n")
        _replace(out, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    run = run_summary(lessons)
    pages = sorted(out.glob("*.html"))
    print(f"Built {len(pages)} pages into {out}/ in {time.perf_counter() - start:.1f} s: {run['headline']}")
    for lesson in lessons:
        state = "not run" if not lesson.run else f"{lesson.mode}, {lesson.status}"
        if lesson.status == "completed" and not figures(json.loads(lesson.executed.read_text())):
            state += ", NO FIGURES (was MPLBACKEND set, e.g. to Agg, when it ran? Unset it and run it again)"
        print(f"  {lesson.stem}: {state}" + (" + solutions page" if lesson.has_solutions else ""))
    return out


#: Written into every site the course builds: a folder without it is not the course's to replace.
MARKER = ".course-site"


def _check_out(out: Path) -> None:
    """Refuse (one line) an output folder the course did not make, or one it cannot write, before any work."""
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file, not a folder: give --out a folder the site may be built into.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SiteError(f"{out} already holds files the course did not make: the site is never built over them. "
                        f"Give --out a new or empty folder (or one an earlier `python -m course site` made).")
    try:
        storage.check_writable(out.parent)
    except storage.StorageError as err:
        raise SiteError(str(err)) from None


def _replace(out: Path, staging: Path) -> None:
    """Put the new site in `out`'s place; the old one is removed only once the new one is there."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(staging, out)
    except OSError:
        if old.exists():
            os.replace(old, out)  # put the previous site back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _mkdocs(config_file: Path) -> None:
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    logger = logging.getLogger("mkdocs")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("mkdocs %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    # nbconvert warns, once per notebook, that matplotlib's images have no alt text: true, and not the site's to fix.
    nbconvert_log = logging.getLogger("traitlets")
    nbconvert_level = nbconvert_log.level
    nbconvert_log.setLevel(logging.ERROR)
    try:
        config = load_config(str(config_file))
        config.plugins.on_startup(command="build", dirty=False)
        try:
            mkdocs_build(config)
        finally:
            config.plugins.on_shutdown()
    except Exception as err:  # mkdocs raises its own Abort/ConfigurationError types
        raise SiteError(f"MkDocs could not build the site: {err}") from err
    finally:
        logger.removeHandler(handler)
        nbconvert_log.setLevel(nbconvert_level)


# --- reading it: a local server like a static host, and screenshots -------------------------------------


@contextlib.contextmanager
def serve(folder: Path, prefix: str | None = None):
    """The site over HTTP on 127.0.0.1 (a free port) as a static host serves it: under `prefix` (default: the
    path of PAGES_URL, as GitHub Pages serves a project site), with `404.html` for any missing address.
    Yields the site's address, ending in "/"."""
    prefix = "/" + (prefix if prefix is not None else PAGES_URL.split("/", 3)[3]).strip("/")
    prefix = prefix.rstrip("/") + "/"

    class Host(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def translate_path(self, path):
            local = path.split("?", 1)[0].split("#", 1)[0]
            inner = local[len(prefix) - 1:] if local.startswith(prefix) else "/\0missing"
            return super().translate_path(inner)

        def send_head(self):
            target = Path(self.translate_path(self.path))
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                body = (folder / "404.html").read_bytes() if (folder / "404.html").exists() else b"not found"
                self.send_response(404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            return super().send_head()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Host, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()


CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium as root, in a closed network: the flags that keep it from calling home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Screenshot widths: a laptop, and a phone (an iPhone 12 to 15's CSS width).
SCREEN_SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def screenshot_pages(lessons: list[Lesson]) -> dict[str, str]:
    """{name: page} for the screenshots: the home page, a full lesson, a smoke lesson, a solutions page."""
    shots = {"home": "index.html"}
    full = next((x for x in lessons if x.real), None)
    smoke = next((x for x in lessons if x.mode == "smoke"), None)
    if full:
        shots["lesson-full"] = full.html
    if smoke:
        shots["lesson-smoke"] = smoke.html
    with_solutions = [x for x in lessons if x.has_solutions and x.run]
    chosen = next((x for x in with_solutions if x.real), with_solutions[0] if with_solutions else None)
    if chosen:
        shots["solutions"] = f"{chosen.stem}_solutions.html"
    return shots


def screenshots(site: Path, lessons: list[Lesson], target: Path) -> list[Path]:
    """PNG screenshots (top of the page, desktop and phone widths) of `screenshot_pages` into `target`.

    Needs Chromium (`COURSE_CHROMIUM`, default Debian's /usr/bin/chromium) and Playwright; fetches nothing
    from outside the site. A kind of page this build lacks (no smoke lesson in a full build) is left as it is."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SiteError(f"no Chromium at {CHROMIUM}: install Debian's `chromium` or set COURSE_CHROMIUM")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for size_name, size in SCREEN_SIZES.items():
            page = browser.new_page(viewport=size, device_scale_factor=1 if size_name == "desktop" else 2)
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((base, "data:")) else r.abort())
            for name, address in screenshot_pages(lessons).items():
                page.goto(base + address, wait_until="networkidle")
                page.wait_for_timeout(300)
                path = target / f"{name}-{size_name}.png"
                page.screenshot(path=str(path))
                # 256 colours: a page of text and flat plots stays legible at a fifth of the size
                Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
                written.append(path)
            page.close()
        browser.close()
    return written
