"""`python -m course site`: the course as a static website, built from the executed notebooks.

Plumbing only. It collects what `python -m course run` left in `build/` (the executed `NN_name.ipynb`
and `results.json`), prepares copies of the notebooks for reading, fills the generated parts of the pages
in `docs/` (course map, results, what to expect per lesson), writes MkDocs' configuration (navigation,
and the run shown in the banner on every page) and lets MkDocs, Material for MkDocs and mkdocs-jupyter
build `build/site/`. It relies on the notebook template only: an H1 title, `## Overview`, and, when
present, a `## Solutions` section, which moves to its own page.

What the site says about the run comes from the executed notebooks themselves: papermill's metadata
(times, failure), the banner `utils.setup()` prints (mode, device, offline), and the record
`utils.record_results` wrote during that execution (data sources, metrics). A lesson whose mode cannot
be told is shown as "unknown", never as a full run.
"""

from __future__ import annotations

import copy
import html
import json
import logging
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from . import paths
from .record import metrics_path
from .runner import FULL_COPIES
from .store import load_results

DOCS_DIR = paths.REPO_ROOT / "docs"
NOTEBOOK_DIR = paths.REPO_ROOT / "notebooks"
GITHUB = f"https://github.com/{paths.REPO_SLUG}"
COLAB = f"https://colab.research.google.com/github/{paths.REPO_SLUG}/blob/main/notebooks"

# Lines TensorFlow's C++ runtime writes to stderr (glog/absl format), e.g.
# "I0000 00:00:1795938687.18 7842 port.cc:153] oneDNN custom operations are on...": noise to a reader.
_NATIVE_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+:\d+\] ")
_NATIVE_LOG_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# Images from the web (the notebooks' Colab/GitHub badges) would be fetched when a page is read.
_REMOTE_HTML_IMG = re.compile(r"<img\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
_REMOTE_MD_IMG = re.compile(r"!\[([^\]]*)\]\((?:https?:)?//[^)]*\)")
_MARKER = re.compile(r"<!-- site:([a-z-]+) -->")


class SiteError(RuntimeError):
    """The site cannot be built (no executed notebooks, a page without its marker, a failed build)."""


@dataclass
class Lesson:
    """One lesson as the site shows it: from the source notebook and, when it ran, its executed copy."""

    stem: str
    title: str
    executed: Path | None = None
    mode: str = "not run"         # "smoke", "full", "unknown" or "not run"
    offline: bool | None = None
    device: str = ""
    started: datetime | None = None
    seconds: float | None = None
    error: str = ""
    parameters: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)   # what utils.record_results wrote during this execution
    overview: dict = field(default_factory=dict)
    has_solutions: bool = False

    @property
    def number(self) -> str:
        return self.stem[:2]

    @property
    def short_title(self) -> str:
        return self.title.split(": ")[0]

    @property
    def page(self) -> str:
        return f"{self.stem}.ipynb"

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
    """The Overview's parts the course map shows: its **You will learn to** list, prerequisites, runtime."""
    span = _section(nb, "Overview")
    if not span:
        return {}
    text = "\n".join(_text(nb["cells"][i]["source"]) for i in range(*span) if nb["cells"][i]["cell_type"] == "markdown")
    parts = {}
    learn = re.search(r"\*\*You will learn to\*\*\s*\n((?:[-*] .*\n?(?:  +.*\n?)*)+)", text)
    if learn:
        items = re.split(r"\n[-*] ", "\n" + learn.group(1).strip())
        parts["learn"] = [" ".join(item.split()) for item in items if item.strip()]
    for key, label in (("prerequisites", "Prerequisites"), ("runtime", "Runtime")):
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


def _run_facts(lesson: Lesson, nb: dict) -> None:
    """Fill in how the executed notebook ran: papermill's metadata and the banner of `utils.setup()`."""
    meta = nb.get("metadata", {}).get("papermill", {})
    lesson.started = _parse_time(meta.get("start_time"))
    lesson.seconds = meta.get("duration")
    lesson.parameters = meta.get("parameters") or {}
    out = _stdout(nb)
    banner = re.search(r"^Mode: (SMOKE|FULL)\b(.*)$", out, re.MULTILINE)
    if banner:
        lesson.mode = banner.group(1).lower()
        lesson.offline = "offline" in banner.group(2)
    else:
        lesson.mode = "unknown"
    device = re.search(r"^Device: ([^|\n]+)", out, re.MULTILINE)
    lesson.device = device.group(1).strip() if device else ""
    if meta.get("exception"):
        for cell in nb["cells"]:
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error":
                    lesson.error = f"{o.get('ename', 'Error')}: {o.get('evalue', '')}".strip()
        lesson.error = lesson.error or "the run stopped with an error"


def _own_record(lesson: Lesson, results: list[dict]) -> dict:
    """The results record of this very execution: `build/metrics/<stem>.json` if it was written while the
    notebook ran (the runner deletes it first), else the results.json record of the same notebook and mode."""
    path = metrics_path(lesson.stem)
    if path.exists() and lesson.started and lesson.seconds is not None:
        written = datetime.fromtimestamp(path.stat().st_mtime, tz=lesson.started.tzinfo)
        if lesson.started <= written <= lesson.started + timedelta(seconds=lesson.seconds + 60):
            return json.loads(path.read_text())
    for record in results:
        if record.get("notebook") == lesson.stem and record.get("mode") == lesson.mode:
            return record
    return {}


def collect(full: bool = False) -> tuple[list[Lesson], list[dict]]:
    """Every lesson in reading order (those not run too), and the records of `build/results.json`.

    `full`: the last successful full-mode runs (`build/full/`), not the latest attempts of any mode."""
    build = paths.build_dir() / FULL_COPIES if full else paths.build_dir()
    results = load_results()  # a damaged results.json is read as far as it can be, never a crash
    lessons = []
    for source in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        executed = build / source.name
        nb = json.loads((executed if executed.exists() else source).read_text())
        lesson = Lesson(stem=source.stem, title=_title(nb, source.stem), overview=_overview(nb),
                        has_solutions=_section({"cells": _one_h2_per_cell(nb["cells"])}, "Solutions") is not None)
        if executed.exists():
            lesson.executed = executed
            _run_facts(lesson, nb)
            lesson.record = _own_record(lesson, results)
        lessons.append(lesson)
    if not any(lesson.executed for lesson in lessons):
        command = "python -m course run --full" if full else "python -m course run"
        raise SiteError(f"no executed notebooks in {build}/: run `{command}` first")
    return lessons, results


# --- what the run was -------------------------------------------------------------------------------------


# One source of a run's data description starts where a name (`mnist`, `imagenet:mobilenet_100:top`,
# `choice:efficientnetv2-b0-21k-ft1k`) and ": " follow "; ". A reason inside a source may contain "; " too
# ("not in the mirror or Keras' cache; COURSE_OFFLINE=1: no download tried"): that is not a new source.
_SOURCE_START = re.compile(r"; (?=[a-z0-9][a-z0-9_.\-]*(?::[a-z0-9][a-z0-9_.\-]*)*: )")


def data_kinds(description: str) -> dict[str, str]:
    """`"mnist: real, mirror …; hotdog: STAND-IN (…)"` -> `{"mnist": "mirror", "hotdog": "stand-in"}`.

    A network chosen by availability (`"choice:vgg19: mobilenet_100 instead: …"`) is a fallback, whatever
    words its reason uses: `{"vgg19 → mobilenet_100": "fallback"}`."""
    kinds = {}
    for part in filter(None, (p.strip() for p in _SOURCE_START.split(description or ""))):
        name, sep, where = part.partition(": ")
        if not sep:
            continue
        if name.startswith("choice:"):
            wanted = name.removeprefix("choice:").removesuffix(":top")
            used = where.split(" instead", 1)[0].strip()
            kinds[f"{wanted} → {used}"] = "fallback"
            continue
        where = where.lower()
        kind = next((k for k, words in (("stand-in", ("stand-in", "random weights")), ("downloaded", ("download",)),
                                        ("mirror", ("mirror",)), ("cache", ("cache",))) if any(w in where for w in words)),
                    "other")
        kinds[name] = kind
    return kinds


def run_summary(lessons: list[Lesson]) -> dict:
    """The banner's content: mode (full only when every lesson ran in full mode), date, data, network."""
    ran = [x for x in lessons if x.executed]
    modes = {x.mode for x in ran}
    failed = [x for x in ran if x.error]
    missing = [x for x in lessons if not x.executed]
    mode = modes.pop() if len(modes) == 1 else "mixed"
    full = mode == "full" and not failed and not missing
    dates = sorted(x.started for x in ran if x.started)
    when = dates[-1].strftime("%Y-%m-%d") if dates else "unknown date"
    if dates and dates[0].date() != dates[-1].date():
        when = f"{dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}"
    by_kind: dict[str, set[str]] = {}
    for lesson in ran:
        for name, kind in data_kinds(lesson.record.get("data", "")).items():
            by_kind.setdefault(kind, set()).add(name)
    data = "; ".join(f"{kind}: {', '.join(sorted(names))}" for kind, names in sorted(by_kind.items())) or "not recorded"
    offline = {x.offline for x in ran}
    if offline == {True}:
        network = "offline (COURSE_OFFLINE=1)"
    elif "downloaded" in by_kind:
        network = "network used for downloads"
    elif offline == {False}:
        network = "network allowed, nothing downloaded"
    else:
        network = "network: not recorded"
    devices = sorted({x.device for x in ran if x.device}) or ["device not recorded"]
    if full:
        headline = f"Full run of {when}: the figures on these pages are what the lessons reach."
    else:
        counts = Counter(x.mode for x in ran)
        what = {"smoke": "SMOKE RUN", "mixed": "MIXED RUN (" + ", ".join(f"{n} {m}" for m, n in sorted(counts.items())) + ")",
                "unknown": "RUN OF UNKNOWN MODE"}.get(mode, f"{mode.upper()} RUN")
        headline = f"{what} of {when}: not real results."
        if mode == "smoke":
            headline += " Tiny subsets and one or two epochs show that the code runs; the numbers mean nothing."
    details = [f"mode: {mode}", f"data: {data}", network, "; ".join(devices)]
    if failed:
        details.append(f"failed: {', '.join(x.number for x in failed)}")
    if missing:
        details.append(f"not run: {', '.join(x.number for x in missing)}")
    return {"mode": mode, "style": "full" if full else "smoke", "headline": headline, "details": details,
            "date": when, "data": data, "network": network, "failed": [x.stem for x in failed],
            "missing": [x.stem for x in missing]}


# --- the notebooks as pages ------------------------------------------------------------------------------------


def _markdown_cell(source: str, name: str) -> dict:
    return {"cell_type": "markdown", "id": f"site-{name}", "metadata": {}, "source": source}


def _lesson_header(lesson: Lesson, solutions: bool = False) -> str:
    facts = [f"{lesson.mode} mode" if lesson.executed else "not run: no outputs"]
    if lesson.started:
        facts.append(f"run {lesson.started:%Y-%m-%d %H:%M} UTC")
    if lesson.seconds is not None:
        facts.append(f"{lesson.seconds:.0f} s")
    if lesson.device:
        facts.append(lesson.device)
    if lesson.offline:
        facts.append("offline")
    if lesson.parameters:
        facts.append("parameters " + ", ".join(f"{k}={v}" for k, v in lesson.parameters.items()))
    if lesson.record.get("data"):
        facts.append("data: " + lesson.record["data"])
    links = [("colab", "Run in Colab", lesson.colab_url), ("source", "Source on GitHub", lesson.source_url)]
    if solutions:
        links.append(("lesson", "Back to the lesson", lesson.page.replace(".ipynb", ".html")))
    buttons = "".join(f'<a class="md-button{" md-button--primary" if key == "colab" else ""}" data-site-link="{key}" '
                      f'href="{html.escape(url)}">{text}</a>' for key, text, url in links)
    text = f'<div class="lesson-links">{buttons}</div>\n\n<p class="lesson-run mathjax_ignore">{html.escape(" · ".join(facts))}</p>'
    if lesson.mode != "full" and lesson.executed:
        text += ('\n\n<div class="admonition warning"><p class="admonition-title">Not real results</p><p>These outputs '
                 f"come from a run in {lesson.mode} mode: the code ran, but the numbers and plots need not be what "
                 "the lesson reaches at full size.</p></div>")
    if lesson.error:
        text += ('\n\n<div class="admonition failure"><p class="admonition-title">This lesson stopped with an error in '
                 f'this run</p><p><code>{html.escape(lesson.error[:300])}</code>: the outputs end at '
                 '<a href="#papermill-error-cell">the failing cell</a>.</p></div>')
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


def _prepare_markdown(cell: dict) -> None:
    """No web-hosted images (the notebooks' badges); headings whose code the table of contents keeps."""
    source = _REMOTE_HTML_IMG.sub("", _text(cell["source"]))
    source = _REMOTE_MD_IMG.sub(r"\1", source)
    cell["source"] = "\n".join(_heading_code(line) for line in source.split("\n"))


def lesson_pages(lesson: Lesson, nb: dict) -> tuple[dict, dict | None]:
    """The lesson's page, and its solutions page when it has a `## Solutions` section."""
    nb = copy.deepcopy(nb)
    # papermill's red line above the title goes (the header says it better); its marker at the failing cell stays.
    cells = [c for c in _one_h2_per_cell(nb["cells"])
             if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
             or 'id="papermill-error-cell"' in _text(c["source"])]
    anchors = _site_anchors(cells)
    for cell in cells:
        if cell["cell_type"] == "markdown":
            _link_anchors(cell, anchors)
            _prepare_markdown(cell)
        if cell["cell_type"] == "code":
            _clean_outputs(cell)
    nb["cells"] = cells
    solutions = None
    span = _section(nb, "Solutions")
    if span:
        start, end = span
        solutions = copy.deepcopy(nb)
        solutions["cells"] = [_markdown_cell(f"# Solutions: {lesson.title}", "title"),
                              _markdown_cell(_lesson_header(lesson, solutions=True), "header"), *cells[start:end]]
        pointer = _markdown_cell(
            "## Solutions\n\nThe solutions to the exercises are on [their own page]"
            f"({lesson.solutions_page.replace('.ipynb', '.html')}): try the exercises first.", "solutions")
        nb["cells"] = [*cells[:start], pointer, *cells[end:]]
    # The title cell keeps only its H1; the notebook's badges (web images) give way to the site's links.
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown" and _text(cell["source"]).lstrip().startswith("# "):
            cell["source"] = _text(cell["source"]).lstrip().splitlines()[0]
            nb["cells"].insert(i + 1, _markdown_cell(_lesson_header(lesson), "header"))
            break
    else:
        nb["cells"].insert(0, _markdown_cell(f"# {lesson.title}\n\n" + _lesson_header(lesson), "header"))
    return nb, solutions


# --- generated Markdown ------------------------------------------------------------------------------------


def _cell(text) -> str:
    """Text for a Markdown table cell: no pipes or newlines, and no `<...>` taken for HTML."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _metrics(record: dict, limit: int = 4) -> str:
    if record.get("error"):
        return "failed: " + record["error"][:80]
    shown = [f"{k} {v:g}" for k, v in record.get("metrics", {}).items() if "seconds" not in k]
    more = f", … ({len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more if shown else "-"


def course_map(lessons: list[Lesson]) -> str:
    devices = sorted({x.device for x in lessons if x.device})
    one_device = devices[0] if len(devices) == 1 else ""
    rows = [f"| # | lesson | time, as the lesson gives it | this run{f' ({one_device})' if one_device else ''} |",
            "|---|---|---|---|"]
    for x in lessons:
        run = "not run" if not x.executed else f"{x.seconds or 0:.0f} s, {x.mode}" + (" (failed)" if x.error else "")
        if x.device and not one_device:
            run += f", {x.device}"
        rows.append(f"| {x.number} | [{_cell(x.short_title)}]({x.page}) | {_cell(x.overview.get('runtime', '-'))} | "
                    f"{_cell(run)} |")
    blocks = ["\n".join(rows)]
    for x in lessons:
        block = [f"### {x.number} · [{x.title}]({x.page})", ""]
        if x.overview.get("learn"):
            block += ["You will learn to:", ""] + [f"- {item}" for item in x.overview["learn"]] + [""]
        if x.overview.get("prerequisites"):
            block.append(f"**Prerequisites**: {x.overview['prerequisites']}")
        links = [f"[read it]({x.page})", f"[run it in Colab]({x.colab_url})", f"[source]({x.source_url})"]
        if x.has_solutions:
            links.insert(1, f"[solutions]({x.solutions_page})")
        block += ["", " · ".join(links)]
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def results_tables(lessons: list[Lesson], results: list[dict]) -> str:
    shown = {(x.stem, x.mode) for x in lessons if x.executed}
    header = ["| lesson | mode | wall time | metrics |", "|---|---|---|---|"]
    ours, others = list(header), list(header)
    for r in sorted(results, key=lambda r: (r.get("notebook", ""), r.get("mode", ""))):
        params = " ".join(f"`{k}={v}`" for k, v in r.get("parameters", {}).items())
        row = (f"| {r.get('notebook')} | {'**full**' if r.get('mode') == 'full' else r.get('mode')} {params} | "
               f"{r.get('seconds', 0):.0f} s | {_cell(_metrics(r))} |")
        (ours if (r.get("notebook"), r.get("mode")) in shown else others).append(row)
    text = "The runs shown on this site:\n\n" + ("\n".join(ours) if len(ours) > 2 else "none recorded")
    if len(others) > 2:
        text += "\n\nOther runs recorded in `build/results.json` (not the outputs shown here):\n\n" + "\n".join(others)
    return text


def per_lesson(lessons: list[Lesson], results: list[dict]) -> str:
    rows = ["| lesson | from run | wall time | figures |", "|---|---|---|---|"]
    for x in lessons:
        records = [r for r in results if r.get("notebook") == x.stem and not r.get("error")]
        record = next((r for r in records if r.get("mode") == "full"), records[0] if records else None)
        if not record:
            rows.append(f"| [{x.number} {_cell(x.short_title)}]({x.page}) | none recorded | - | - |")
            continue
        mode = "**full**" if record["mode"] == "full" else f"{record['mode']} (numbers mean nothing)"
        params = " ".join(f"`{k}={v}`" for k, v in record.get("parameters", {}).items())
        rows.append(f"| [{x.number} {_cell(x.short_title)}]({x.page}) | {mode} {params} | {record.get('seconds', 0):.0f} s "
                    f"| {_cell(_metrics(record, limit=6))} |")
    devices = sorted({x.device for x in lessons if x.device})
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


def prepare(lessons: list[Lesson], results: list[dict], src: Path, out: Path) -> Path:
    """Write the MkDocs project into `src` (pages, notebooks, config); return the config file."""
    import yaml

    if src.exists():
        shutil.rmtree(src)
    docs = src / "docs"
    docs.mkdir(parents=True)
    shutil.copytree(DOCS_DIR / "stylesheets", docs / "stylesheets")
    shutil.copytree(DOCS_DIR / "overrides", src / "overrides")
    _copy_mathjax(docs / "assets" / "mathjax")
    run = run_summary(lessons)
    parts = {"run": run_admonition(run), "course-map": course_map(lessons), "results": results_tables(lessons, results),
             "per-lesson": per_lesson(lessons, results)}
    (docs / "index.md").write_text(fill((DOCS_DIR / "index.md").read_text(), parts, "docs/index.md"))
    (docs / "workshop.md").write_text(fill((DOCS_DIR / "workshop.md").read_text(), parts, "docs/workshop.md"))
    shutil.copy(paths.REPO_ROOT / "data" / "README.md", docs / "data.md")

    nav = [{"Home": "index.md"}]
    for lesson in lessons:
        if lesson.executed:
            nb, solutions = lesson_pages(lesson, json.loads(lesson.executed.read_text()))
        else:
            nb, solutions = lesson_pages(lesson, json.loads((NOTEBOOK_DIR / lesson.page).read_text()))
        (docs / lesson.page).write_text(json.dumps(nb))
        label = f"{lesson.number} {lesson.short_title}"
        if solutions:
            (docs / lesson.solutions_page).write_text(json.dumps(solutions))
            nav.append({label: [{"Lesson": lesson.page}, {"Solutions": lesson.solutions_page}]})
        else:
            nav.append({label: lesson.page})
    nav += [{"The data": "data.md"}, {"For instructors": "workshop.md"}]

    config = yaml.safe_load((DOCS_DIR / "mkdocs.yml").read_text())
    config.update(docs_dir=str(docs), site_dir=str(out), nav=nav)
    config["theme"]["custom_dir"] = str(src / "overrides")
    config.setdefault("extra", {})["run"] = run
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin:
            # Every page sits at the top of the site, so one relative address reaches MathJax from all of them.
            plugin["mkdocs-jupyter"]["custom_mathjax_url"] = "assets/mathjax/tex-chtml.js"
    path = src / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def build(out: Path | None = None, full: bool = False) -> Path:
    """Build the site into `out` (default `build/site/`) from the executed notebooks in `build/` (with `full`:
    the last successful full-mode runs, kept in `build/full/`); return `out`."""
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    out = out or paths.build_dir() / "site"
    start = time.perf_counter()
    lessons, results = collect(full)
    config_file = prepare(lessons, results, paths.build_dir() / "site-src", out)
    if out.exists():
        shutil.rmtree(out)
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
    run = run_summary(lessons)
    pages = sorted(out.glob("*.html"))
    print(f"Built {len(pages)} pages into {out}/ in {time.perf_counter() - start:.1f} s: {run['headline']}")
    for lesson in lessons:
        state = "not run" if not lesson.executed else lesson.mode + (f", FAILED ({lesson.error[:80]})" if lesson.error else "")
        if lesson.executed and not lesson.error and not figures(json.loads(lesson.executed.read_text())):
            state += ", NO FIGURES (was MPLBACKEND set, e.g. to Agg, when it ran? Unset it and run it again)"
        print(f"  {lesson.stem}: {state}" + (" + solutions page" if lesson.has_solutions else ""))
    return out
