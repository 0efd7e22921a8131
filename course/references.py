"""Regression references: what each lesson prints in a smoke run, kept in `tests/references/` and compared by pytest.

`pytest` executes every lesson (smoke mode, offline) and compares what each code cell printed with the
reference output of that cell, found by the cell's id in `tests/references/<condition>/NN_topic.json`:

- the condition is `standin` when `COURSE_DATA_DIR` is unset (stand-in data, random weights) and `mirror`
  when it is set (the real offline data): each prints other sizes and numbers, so each has its own set;
- outputs are sanitized first by the rules of `tests/references/sanitize.cfg` (times, paths, addresses,
  progress bars, TensorFlow's log lines: each rule commented there), images become placeholders such as
  `<image/png>` (their number and kind are compared, not their pixels);
- each reference file records the fingerprint of what made it (Python, TensorFlow, Keras, NumPy, the CPU,
  the instruction sets TensorFlow's kernels use and the core count). When this machine's fingerprint is the
  same, the comparison is strict; when it differs (another CPU rounds differently, Colab's versions), every
  number is masked (`<n>`) and warnings from installed packages are left out, while the text, the order, the
  number of outputs and figures are still compared.

`python -m course references [NN ...]` makes them again after an intended change (see `refresh_command`).
This module knows the file format, the sanitizing and the comparison; `course.nbval_plugin` is the pytest
side. Nothing here imports TensorFlow, pytest or nbval.
"""

from __future__ import annotations

import difflib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import paths

REFERENCES_DIR = paths.REPO_ROOT / "tests" / "references"
SANITIZE_FILE = REFERENCES_DIR / "sanitize.cfg"

#: The data conditions, each with its own set of references (see `condition`).
STANDIN, MIRROR = "standin", "mirror"
CONDITIONS = (STANDIN, MIRROR)

#: The command that makes references again; failures name it.
REFRESH = "python -m course references"

#: Reference file format version (in each file; a change of format is a change of every file).
FORMAT = 1


def condition() -> str:
    """`"mirror"` when `COURSE_DATA_DIR` is set (the lessons read the real offline data), else `"standin"`."""
    return MIRROR if os.environ.get("COURSE_DATA_DIR") else STANDIN


def keep_test_files() -> bool:
    """`COURSE_KEEP_TEST_BUILD=1`: pytest keeps its temporary folder (build, kernels' caches) for debugging."""
    return paths.flag("COURSE_KEEP_TEST_BUILD")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


#: pytest's temporary folder: `course-test-<pid>-<random>` in the system's temporary folder (conftest.py).
TEST_TMP_PREFIX = "course-test-"


def remove_dead_test_folders(temp: Path) -> list[Path]:
    """Remove the `course-test-<pid>-*` folders in `temp` whose pytest is gone (killed before cleaning up)."""
    removed = []
    for path in Path(temp).glob(TEST_TMP_PREFIX + "*"):
        match = re.fullmatch(re.escape(TEST_TMP_PREFIX) + r"(\d+)-\w+", path.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def start_test_session(temp: Path) -> Path:
    """pytest's folder for everything it writes to the temporary folder `temp`: `course-test-<pid>-*`, with a
    `tmp/` inside (conftest.py makes it TMPDIR). Folders of pytests that were killed are removed first."""
    remove_dead_test_folders(temp)
    session = Path(tempfile.mkdtemp(prefix=f"{TEST_TMP_PREFIX}{os.getpid()}-", dir=temp))
    (session / "tmp").mkdir()
    return session


def end_test_session(session: Path) -> str | None:
    """Remove the session's folder; with `COURSE_KEEP_TEST_BUILD=1` keep it and return the line saying where."""
    if keep_test_files():
        return f"COURSE_KEEP_TEST_BUILD=1: the test session's files are kept in {session}"
    shutil.rmtree(session, ignore_errors=True)
    return None


def reference_path(stem: str, cond: str, root: Path | None = None) -> Path:
    return (root or REFERENCES_DIR) / cond / f"{stem}.json"


def refresh_hint(stem: str) -> str:
    return f"{REFRESH} {stem[:2]}"


# --- what made the references -------------------------------------------------------------------------

#: CPU features whose presence changes which kernels TensorFlow (Eigen, oneDNN) runs, and so the last bits
#: of a float result. Others (aes, sha, ...) do not matter and are left out, so that they change nothing.
CPU_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512bw", "avx512dq",
             "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8",
             "amx_bf16")

#: Fingerprint keys, in the order and with the words used to report a difference.
FINGERPRINT_NAMES = {"python": "Python", "tensorflow": "TensorFlow", "keras": "Keras", "numpy": "NumPy",
                     "cpu": "CPU", "cpu_flags": "CPU instruction sets", "cpu_count": "CPU cores"}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu() -> tuple[str, list[str]]:
    """(CPU model, the `CPU_FLAGS` it has), from /proc/cpuinfo; elsewhere what `platform` knows."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), []
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    have = set(flags.group(1).split()) if flags else set()
    return (" ".join(model.group(1).split()) if model else platform.machine()), [f for f in CPU_FLAGS if f in have]


def fingerprint() -> dict:
    """What decides the exact numbers a smoke run prints: the versions and the CPU TensorFlow computes on.

    The thread count is in it too: TensorFlow splits sums over threads, and the split changes the rounding.
    """
    model, flags = _cpu()
    return {"python": platform.python_version(), "tensorflow": _version("tensorflow"), "keras": _version("keras"),
            "numpy": _version("numpy"), "cpu": model, "cpu_flags": " ".join(flags), "cpu_count": os.cpu_count()}


def fingerprint_differences(made: dict, here: dict) -> list[str]:
    """How `here` differs from the fingerprint the references were `made` with, one phrase each ([] when equal)."""
    out = []
    for key, name in FINGERPRINT_NAMES.items():
        if made.get(key) != here.get(key):
            out.append(f"{name} {here.get(key, '?')} here, {made.get(key, '?')} in the references")
    return out


# --- sanitizing -------------------------------------------------------------------------------------------

@dataclass
class Sanitizer:
    """The rules of a sanitize file: nbval's format (a `regex:` line, then its `replace:` line; `#` comments),
    plus `mask-numbers: REGEX`, which masks every number (`<n>`) on each line REGEX matches, and
    `mask-column: REGEX`, which masks the numbers of every table column whose heading REGEX matches.

    A rule may name machine folders, each replaced by its escaped path before the rule is compiled:
    `{TEST_TMP}` (pytest's temporary folder), `{BUILD_DIR}`, `{DATA_DIR}` (`$COURSE_DATA_DIR`), `{REPO}`
    (this repository), `{HOME}` (the home folder) and `{PREFIX}` (the Python environment). A rule whose
    folder is not set here (no `COURSE_DATA_DIR`) is left out. Rules apply in the file's order.
    """

    rules: list[tuple[re.Pattern, str | None]] = field(default_factory=list)
    columns: list[re.Pattern] = field(default_factory=list)

    @classmethod
    def from_file(cls, path: Path = SANITIZE_FILE, folders: dict[str, str | None] | None = None) -> Sanitizer:
        return cls.from_text(Path(path).read_text(encoding="utf-8"), folders)

    @classmethod
    def from_text(cls, text: str, folders: dict[str, str | None] | None = None) -> Sanitizer:
        folders = machine_folders() if folders is None else folders
        rules, columns = [], []
        found = re.findall(r"^(?:regex: (.*)\n^replace: ?(.*)|mask-numbers: (.*)|mask-column: (.*))$", text, flags=re.M)
        for regex, replace, masked, column in found:
            if column:
                columns.append(re.compile(column))
                continue
            regex = regex or masked
            names = re.findall(r"\{([A-Z_]+)\}", regex)
            if any(not folders.get(name) for name in names):
                continue
            for name in names:
                regex = regex.replace("{" + name + "}", re.escape(str(folders[name]).rstrip("/")))
            rules.append((re.compile(regex, re.M), None if masked else replace))
        return cls(rules, columns)

    def masks_column(self, heading: str) -> bool:
        return any(p.search(heading) for p in self.columns)

    def __call__(self, text: str) -> str:
        for pattern, replace in self.rules:
            if replace is not None:
                text = pattern.sub(replace, text)
            elif pattern.search(text):
                text = "\n".join(mask_numbers(line) if pattern.search(line) else line for line in text.split("\n"))
        return text


def machine_folders() -> dict[str, str | None]:
    """The folders `{NAME}` stands for in sanitize rules (see `Sanitizer`)."""
    return {"TEST_TMP": os.environ.get("COURSE_TEST_TMP"), "BUILD_DIR": str(paths.build_dir()),
            "DATA_DIR": os.environ.get("COURSE_DATA_DIR"), "REPO": str(paths.REPO_ROOT), "HOME": str(Path.home()),
            "PREFIX": sys.prefix}


_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d(?:[\d_]|,(?=\d))*(?:\.\d+)*|\.\d+)(?:[eE][-+]?\d+)?")


def mask_numbers(text: str) -> str:
    """Every number (integer, decimal, exponent, thousands commas) as `<n>`, and runs of spaces as one (numbers
    of other widths move columns): what the masked comparison sees. A version (`3.11.7`) is one number.
    Digits inside names (`conv2d_1`, `float32`) stay: they are text, not results.
    """
    return "\n".join(" ".join(_NUMBER.sub("<n>", line).split()) for line in text.split("\n"))


# --- outputs in the form they are stored and compared ----------------------------------------------------

_CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.M)
_BACKSPACE = re.compile("[^\n]\x08")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _terminal(text: str) -> str:
    """What a terminal ends up showing: text overwritten after `\\r` or `\\b` removed, colour codes dropped."""
    old = None
    while old != text:
        old, text = text, _BACKSPACE.sub("", text)
    return strip_ansi(_CARRIAGE_RETURN.sub("", text))


def _lines(text) -> list[str]:
    text = "".join(text) if isinstance(text, list) else str(text)
    return text.splitlines()


def _is_bare_repr(lines: list[str]) -> bool:
    """`<Figure size 640x480 with 1 Axes>`, `<pandas.io.formats.style.Styler at 0x...>`: a name, not content."""
    return len(lines) == 1 and lines[0].startswith("<") and lines[0].endswith(">")


_HTML_BLOCKS = re.compile(r"<(style|script)\b.*?</\1\s*>", re.S | re.I)
_HTML_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|li|h\d|pre)\s*>", re.I)
_HTML_TAG = re.compile(r"<[^>]+>")
_HTML_TABLE = re.compile(r"<table\b.*?</table\s*>", re.S | re.I)
_HTML_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr\s*>", re.S | re.I)
_HTML_CELL = re.compile(r"<t[hd]\b[^>]*>(.*?)</t[hd]\s*>", re.S | re.I)


def _html_plain(html: str) -> list[str]:
    import html as html_lib

    text = _HTML_BREAKS.sub("\n", " ".join(html.split()))  # HTML's own line breaks mean nothing
    lines = (" ".join(html_lib.unescape(_HTML_TAG.sub("", line)).split()) for line in text.splitlines())
    return [line for line in lines if line]


def _html_table(table: str, sanitize: Sanitizer | None) -> list[str]:
    """A table as lines of cells joined by ` | `; columns whose heading `sanitize` masks have `<n>` numbers."""
    caption = re.search(r"<caption\b[^>]*>(.*?)</caption\s*>", table, re.S | re.I)
    head_end = re.search(r"</thead\s*>", table, re.I)
    rows, heads = [], 0
    for match in _HTML_ROW.finditer(table):
        rows.append([" ".join(_html_plain(cell)) for cell in _HTML_CELL.findall(match.group(1))])
        if head_end and match.end() <= head_end.start():
            heads = len(rows)
    heads = heads or min(1, len(rows))
    masked = {j for row in rows[:heads] for j, heading in enumerate(row)
              if heading and sanitize is not None and sanitize.masks_column(heading)}
    lines = _html_plain(caption.group(1)) if caption else []
    for i, row in enumerate(rows):
        cells = [mask_numbers(c) if i >= heads and j in masked else c for j, c in enumerate(row)]
        lines.append(" | ".join(cells))
    return lines


def html_text(html: str, sanitize: Sanitizer | None = None) -> str:
    """The text of an HTML display as a reader sees it: a table row per line, its cells joined by ` | `.

    Columns whose heading a `mask-column:` rule of `sanitize` names (measured seconds) have their numbers masked.
    """
    html = _HTML_BLOCKS.sub("", html)
    lines, pos = [], 0
    for match in _HTML_TABLE.finditer(html):
        lines += _html_plain(html[pos:match.start()]) + _html_table(match.group(0), sanitize)
        pos = match.end()
    return "\n".join(lines + _html_plain(html[pos:]))


def _mime_values(data: dict, sanitize: Sanitizer) -> dict:
    """A display's mime bundle as stored: text as sanitized lines, anything else as a placeholder `<mime>`.

    A table (a DataFrame, a Styler) is kept as its HTML's text (`html_text`: a row per line, unwrapped, by
    column), its plain text a placeholder. Other HTML is kept only when the plain text is a bare name: where
    plain text carries the content (a model summary), the HTML says the same with colours.
    """
    def text_of(value):
        return "".join(value) if isinstance(value, list) else value if isinstance(value, str) else json.dumps(value)

    html = text_of(data["text/html"]) if "text/html" in data else None
    table = html is not None and _HTML_TABLE.search(html) is not None
    plain = _lines(text_of(data["text/plain"])) if "text/plain" in data else None
    out = {}
    for mime in sorted(data):
        if mime == "text/html" and (table or plain is None or _is_bare_repr(plain)):
            out[mime] = _lines(sanitize(html_text(html, sanitize)))
        elif mime == "text/plain" and table:
            out[mime] = f"<{mime}>"
        elif mime.startswith("text/") and mime != "text/html" or mime == "application/json":
            out[mime] = _lines(sanitize(strip_ansi(text_of(data[mime]))))
        else:
            out[mime] = f"<{mime}>"
    return out


def canonical_outputs(outputs: list, sanitize: Sanitizer) -> list[dict]:
    """A cell's outputs (nbformat dicts or nbval's NotebookNodes) in the stored form.

    Streams of one name are joined in order of first appearance (as nbval and Jupyter show them) with `\\r`
    and `\\b` applied; displays and results keep each mime type, text sanitized, images as `<image/png>`;
    an error keeps `ename: evalue`, not its traceback. No execution counts, no metadata.
    """
    streams: dict[str, dict] = {}
    out: list[dict] = []
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream":
            name = o.get("name", "stdout")
            text = "".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
            if name in streams:
                streams[name]["_raw"] += text
            else:
                streams[name] = {name: None, "_raw": text}
                out.append(streams[name])
        elif kind in ("display_data", "execute_result"):
            key = "display" if kind == "display_data" else "result"
            out.append({key: _mime_values(o.get("data", {}), sanitize)})
        elif kind == "error":
            out.append({"error": sanitize(strip_ansi(f"{o.get('ename', '')}: {o.get('evalue', '')}"))})
    for name, stream in streams.items():
        raw = stream.pop("_raw")
        stream[name] = _lines(sanitize(_terminal(raw)))
        if not stream[name]:  # a stream that printed only what sanitizing removes is not an output
            out.remove(stream)
    return out


#: A warning issued inside an installed package (`<site-packages>/numpy/...py:12: RuntimeWarning: ...`, once
#: sanitized): which ones appear depends on the packages' versions.
_LIBRARY_WARNING = re.compile(r"^<site-packages>/\S+:\d+: \w*Warning: ")


def without_library_warnings(lines: list[str]) -> list[str]:
    """`lines` less the warnings issued inside installed packages, each with the source line Python prints
    under it (indented)."""
    out, after_warning = [], False
    for line in lines:
        if _LIBRARY_WARNING.match(line):
            after_warning = True
        elif after_warning and line.startswith("  "):
            after_warning = False
        else:
            after_warning = False
            out.append(line)
    return out


def transcript(outputs: list[dict], masked: bool = False) -> list[str]:
    """Stored outputs as the lines that are compared and shown in a diff: a `[kind]` line, then the text.

    `masked` (another machine, other versions): numbers masked, and warnings issued inside installed
    packages left out (another NumPy warns where this one does not); a stream with nothing else is no output.
    """
    lines = []
    for o in outputs:
        (kind, value), = o.items()
        if kind in ("stdout", "stderr"):
            value = without_library_warnings(value) if masked else value
            if value or not masked:
                lines.append(f"[{kind}]")
            lines += value
        elif kind == "error":
            lines += ["[error]", value]
        else:
            lines.append(f"[{kind}: {', '.join(value)}]")
            for mime, text in value.items():
                if isinstance(text, list):
                    if len(value) > 1:
                        lines.append(f"  {mime}:")
                    lines += text
    return [mask_numbers(line) for line in lines] if masked else lines


# --- where a cell is, as a person counts -------------------------------------------------------------------

def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def cell_places(cells: list) -> list[tuple[int, str]]:
    """(number, heading) for every cell: its number among all cells as Jupyter shows them (markdown too,
    from 1), and the `##`/`###` heading it sits under ("## Setup", "### Phase 2 (## Training)", or "" before
    the first)."""
    h2 = h3 = ""
    places = []
    for number, cell in enumerate(cells, 1):
        places.append((number, f"{h3} ({h2})" if h3 and h2 else h3 or h2))
        if cell.get("cell_type") != "markdown":
            continue
        fenced = False
        for line in _source(cell).splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and re.match(r"^## \S", line):
                h2, h3 = line.strip(), ""
            elif not fenced and re.match(r"^### \S", line):
                h3 = line.strip()
    return places


def where(stem: str, number: int, heading: str) -> str:
    """`01_mnist_dense.ipynb, cell 12 under "## Training"`."""
    return f"{stem}.ipynb, cell {number}" + (f' under "{heading}"' if heading else "")


# --- reference files --------------------------------------------------------------------------------------

@dataclass
class Reference:
    """One notebook's reference outputs for one condition: by cell id, the source they came from and outputs."""

    stem: str
    condition: str
    fingerprint: dict
    cells: dict[str, dict]  # id -> {"source": [...lines], "outputs": [...]}
    path: Path | None = None

    @classmethod
    def load(cls, path: Path) -> Reference | None:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return cls(raw["notebook"], raw["condition"], raw["fingerprint"],
                   {c["id"]: c for c in raw["cells"]}, Path(path))

    def to_text(self) -> str:
        body = {"notebook": self.stem, "condition": self.condition, "format": FORMAT,
                "made_by": f"{REFRESH} (smoke run, COURSE_DATA_DIR {'set' if self.condition == MIRROR else 'unset'})",
                "fingerprint": self.fingerprint,
                "cells": [{"id": cid, **cell} for cid, cell in self.cells.items()]}
        return json.dumps(body, indent=1, ensure_ascii=False) + "\n"

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(self.to_text(), encoding="utf-8")
        os.replace(tmp, path)
        return path


def reference_cell(source: str, outputs: list[dict]) -> dict:
    return {"source": source.splitlines(), "outputs": outputs}


# --- comparing one cell -----------------------------------------------------------------------------------

#: Longest diff shown for one cell; the rest is counted.
DIFF_LINES = 24


def unified(old: list[str], new: list[str], old_name: str, new_name: str, limit: int = DIFF_LINES) -> list[str]:
    """A unified diff (2 lines of context, no colour) cut to `limit` lines, the rest counted."""
    diff = list(difflib.unified_diff(old, new, old_name, new_name, n=2, lineterm=""))
    if len(diff) > limit:
        diff = diff[:limit] + [f"... {len(diff) - limit} more diff lines"]
    return diff


def _gist(old: list[str], new: list[str], width: int = 56) -> str:
    """The first changed line of a diff on one line: `"...old..." is now "...new..."`, spaces collapsed, each
    side cut to `width` characters around where the two lines start to differ."""
    def around(line: str, start: int) -> str:
        start = max(0, min(start, len(line) - width))
        cut = line[start:start + width]
        return ("..." if start else "") + cut + ("..." if start + width < len(line) else "")

    for tag, i1, _i2, j1, _j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "replace":
            a, b = " ".join(old[i1].split()), " ".join(new[j1].split())
            common = len(os.path.commonprefix([a, b]))
            start = common - width // 3 if common > width // 2 else 0
            return f'"{around(a, start)}" is now "{around(b, start)}"'
        if tag == "delete":
            return f'"{around(" ".join(old[i1].split()), 0)}" is gone'
        if tag == "insert":
            return f'"{around(" ".join(new[j1].split()), 0)}" is new'
    return "(no line differs)"


def compare_cell(source: str, outputs: list[dict], reference: dict | None, masked: bool,
                 ref_name: str, stem: str, brief: bool = False) -> list[str] | None:
    """Why this cell does not match its reference (lines to show), or None when it does.

    No reference: the cell is new or its id changed. A reference made from other source: stale (its source
    diff is shown, and the output diff when they differ too). Otherwise the outputs' transcripts must be equal,
    numbers masked when `masked`. `brief` (a later cell of a notebook whose outputs already differed above,
    most often a consequence): one line per difference, its first changed line.
    """
    if reference is None:
        shown = transcript(outputs)
        limit = 2 if brief else 8
        return ([f"no reference output for this cell (a new cell, or its id changed): run `{refresh_hint(stem)}`",
                 f"it printed {len(shown)} lines" + (":" if shown else ".")]
                + [f"  {line}" for line in shown[:limit]]
                + ([f"  ... {len(shown) - limit} more"] if len(shown) > limit else []))
    problems = []
    ref_source, lesson_source = reference["source"], source.splitlines()
    if ref_source != lesson_source:
        if brief:
            problems.append(f"the reference is stale (source changed: {_gist(ref_source, lesson_source)})")
        else:
            problems.append(f"the reference is stale: this cell's source changed since the references were made "
                            f"(run `{refresh_hint(stem)}` if the change is intended). Source diff:")
            problems += unified(ref_source, lesson_source, "source in the reference", "source in the lesson", 12)
    old, new = transcript(reference["outputs"], masked), transcript(outputs, masked)
    masked_note = " (numbers masked)" if masked else ""
    if old != new and brief:
        marks = [line[:1] for line in difflib.ndiff(old, new)]
        changed = max(marks.count("-"), marks.count("+"))
        problems.append(f"outputs differ{masked_note} too ({changed} line{'s' if changed > 1 else ''} of {len(old)}; "
                        f"-v shows the diff): {_gist(old, new)}")
    elif old != new:
        problems.append(f"outputs differ from the reference{masked_note}:")
        problems += unified(old, new, ref_name, "this run")
    elif problems and not brief:
        problems.append("(its outputs still match the reference)")
    return problems or None


# --- python -m course references ---------------------------------------------------------------------------

def describe_changes(old: Reference | None, new: Reference, lines_per_cell: int = 10,
                     cells_shown: int = 6) -> list[str]:
    """What changed from `old` to `new` references of one notebook: a line of counts, then short diffs."""
    if old is None:
        return [f"{new.stem} ({new.condition}): new, {len(new.cells)} code cells"]
    added = [c for c in new.cells if c not in old.cells]
    removed = [c for c in old.cells if c not in new.cells]
    common = [c for c in new.cells if c in old.cells]
    source = [c for c in common if old.cells[c]["source"] != new.cells[c]["source"]]
    output = [c for c in common if transcript(old.cells[c]["outputs"]) != transcript(new.cells[c]["outputs"])]
    counts = [f"{len(x)} {what}" for x, what in ((output, "with other outputs"), (added, "new"),
                                                   (removed, "removed"), (source, "with other source")) if x]
    head = f"{new.stem} ({new.condition}): " + (", ".join(counts) + " (code cells)" if counts else "unchanged")
    lines = [head]
    differences = fingerprint_differences(old.fingerprint, new.fingerprint)
    if differences:
        lines.append("  made on another machine: " + "; ".join(
            d.replace(" here,", " now,").replace(" in the references", " before") for d in differences))
    for cid in output[:cells_shown]:
        lines.append(f"  cell id {cid}:")
        lines += ["    " + d for d in unified(transcript(old.cells[cid]["outputs"]),
                                              transcript(new.cells[cid]["outputs"]), "before", "now",
                                              lines_per_cell)[2:]]
    if len(output) > cells_shown:
        lines.append(f"  ... and {len(output) - cells_shown} more cells with other outputs")
    return lines


def _pytest_command(notebooks: list[Path], staging: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", *map(str, notebooks), "-q", "--nbval", "--no-header",
            f"--references-write={staging}", "-p", "no:cacheprovider"]


def _shown(path: Path) -> str:
    """`path` as a maintainer types it: relative to the repository, else to the current folder, when inside."""
    for base in (paths.REPO_ROOT, Path.cwd()):
        try:
            return str(Path(path).relative_to(base))
        except ValueError:
            continue
    return str(path)


def refresh_command(names: list[str], conditions: list[str] | None = None) -> int:
    """`python -m course references [NN ...]`: run the lessons as `pytest` does, write their references.

    For each condition (stand-in always; the mirror when `COURSE_DATA_DIR` is set), pytest executes the
    chosen notebooks (default: all) in smoke mode with this repository's conftest (the same environment as
    `pytest`), recording each code cell's sanitized outputs instead of comparing them. A notebook whose run
    fails keeps its old references. Then prints, per notebook, what changed. Exit status 1 if any failed.
    """
    from .runner import select

    chosen = select(names)
    mirror = os.environ.get("COURSE_DATA_DIR")
    if conditions is None:
        conditions = [STANDIN] + ([MIRROR] if mirror else [])
        if not mirror:
            print(f"note: COURSE_DATA_DIR is not set: only the stand-in references are made (set it to the offline "
                  f"mirror to make {_shown(REFERENCES_DIR)}/{MIRROR}/ too)")
    failed, report = [], []
    for cond in conditions:
        env = dict(os.environ)
        if cond == STANDIN:
            env.pop("COURSE_DATA_DIR", None)
        elif not mirror:
            print(f"error: the {MIRROR} references need COURSE_DATA_DIR (the offline mirror)", file=sys.stderr)
            return 2
        print(f"== {cond}: running {', '.join(p.stem for p in chosen)} in smoke mode "
              f"(COURSE_DATA_DIR {'unset' if cond == STANDIN else '= ' + mirror}) ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="course-references-") as staging:
            done = subprocess.run(_pytest_command(chosen, Path(staging)), cwd=paths.REPO_ROOT, env=env)
            for path in chosen:
                made = Path(staging) / cond / f"{path.stem}.json"
                if not made.exists():
                    failed.append(f"{path.stem} ({cond})")
                    report.append(f"{path.stem} ({cond}): its run failed (see above): references kept as they were")
                    continue
                new = Reference.load(made)
                target = reference_path(path.stem, cond)
                report += describe_changes(Reference.load(target), new)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(made, target)
        if done.returncode not in (0, 1):
            print(f"note: pytest exited with {done.returncode}", file=sys.stderr)
    print(f"\n== what changed in {_shown(REFERENCES_DIR)}/ (all of it: `git diff {_shown(REFERENCES_DIR)}`)")
    print("\n".join(report))
    if failed:
        print(f"\nnot refreshed (their run failed): {', '.join(failed)}")
        return 1
    return 0
