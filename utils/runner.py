"""`python -m utils run`: execute the numbered notebooks headless with papermill and tabulate results.

Each notebook runs in a fresh kernel with its `parameters`-tagged cell overridden by `-p NAME=VALUE`;
the executed copy goes to `build/NN_topic.ipynb`, the notebook's own `utils.record_results(...)` call
goes to `build/metrics/`, and this module merges both into `build/results.json` and a table.
"""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

from . import env
from .results import metrics_path

NOTEBOOK_DIR = env.REPO_ROOT / "notebooks"


def notebooks() -> list[Path]:
    """The numbered notebooks, in order."""
    return sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def select(names: list[str]) -> list[Path]:
    """Notebooks matching names, numbers ("6", "06") or parts of names ("mnist_dense"); all if none."""
    available = notebooks()
    if not names:
        return available
    chosen = []
    for name in names:
        key = name.removesuffix(".ipynb")
        if key.isdigit():
            key = f"{int(key):02d}_"
        matches = [p for p in available if p.stem == key or p.stem.startswith(key) or key in p.stem]
        if len(matches) != 1:
            known = ", ".join(p.stem for p in available)
            what = "matches several notebooks" if matches else "matches no notebook"
            raise SystemExit(f"error: {name!r} {what}. Notebooks: {known}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def _path_value(text: str) -> str:
    """A folder typed after `-p NAME=`: quotes stripped, `~` expanded, made absolute against the user's folder.

    Kernels run with `notebooks/` as their working folder, so a relative path must be resolved here, where
    the user typed it. Empty stays empty (the notebook's default).
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if not text:
        return ""
    return os.path.abspath(os.path.expanduser(text))


def parse_parameters(pairs: list[str]) -> dict:
    """`["EPOCHS=3", "BACKBONE=resnet50"]` -> `{"EPOCHS": 3, "BACKBONE": "resnet50"}` (Python literals).

    Folder parameters (`DATA_DIR`) are kept as text and made absolute against the current folder.
    """
    from .params import SPECS

    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"error: -p expects NAME=VALUE, got {pair!r}")
        if name in params:
            raise SystemExit(f"error: -p {name} is given twice ({params[name]!r} and {value!r}); give it once")
        if name in SPECS and SPECS[name].kind == "path":
            params[name] = _path_value(value)
            continue
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            params[name] = value
    return params


def _computed_from(declared: dict) -> dict[str, list[str]]:
    """Parameters whose value other parameters' defaults are computed from: `{"SMOKE": ["EPOCHS", ...]}`."""
    users: dict[str, list[str]] = {}
    for name, info in declared.items():
        try:
            tree = ast.parse(str(info.get("default", "")), mode="eval")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in declared and node.id != name:
                users.setdefault(node.id, []).append(name)
    return users


def check_parameters(path: Path, params: dict) -> None:
    """Refuse, before any kernel starts, what the notebook would ignore or cannot use.

    Unknown names (typos would be ignored), names other parameters' defaults are computed from (setting
    `SMOKE` would not recompute `EPOCHS = 2 if SMOKE else 30`), and values outside the course's specs
    (`utils.params.SPECS`, with the notebook's own overrides) or, for parameters without a spec, of another
    type than the default.
    """
    import papermill

    from . import params as specs

    declared = papermill.inspect_notebook(str(path))
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise SystemExit(
            f"error: {path.stem} has no parameter {', '.join(unknown)}. Its parameters: {', '.join(declared)}"
        )
    computed = _computed_from(declared)
    for name in params:
        if name in computed:
            users = computed[name]
            fix = ("Smoke mode is the default; use --full for full mode, e.g. `python -m utils run --full "
                   f"{path.stem[:2]}`." if name == "SMOKE" else
                   f"Set those parameters themselves, e.g. -p {users[0]}=...")
            raise SystemExit(
                f"error: {path.stem}: {name} cannot be set with -p: the defaults of {', '.join(users)} are computed "
                f"from it when the notebook starts, before -p values arrive, so they would not change. {fix}")
    for name, value in params.items():
        if specs.spec_for(name, path.stem) is not None:
            problem = specs.problem(name, value, path.stem)
            if problem:
                raise SystemExit(f"error: {path.stem}: {problem}")
            continue
        problem = type_problem(name, value, declared[name]["default"])
        if problem:
            raise SystemExit(f"error: {path.stem}: {problem}. Example: -p {name}={declared[name]['default']!s}")


def _literal_types(expression: str) -> set[type] | None:
    """Types of the literals a default can take (`2 if SMOKE else 30` -> {int}); None if it is not literals."""
    try:
        branches = [ast.parse(expression, mode="eval").body]
    except SyntaxError:
        return None
    while any(isinstance(b, ast.IfExp) for b in branches):
        branches = [x for b in branches for x in ((b.body, b.orelse) if isinstance(b, ast.IfExp) else (b,))]
    try:
        return {type(ast.literal_eval(b)) for b in branches}
    except ValueError:
        return None  # a call or a name, e.g. utils.is_smoke(): nothing to check against


def type_problem(name: str, value, default: str) -> str | None:
    """Why `value` does not fit a parameter whose default is the source text `default`; None if it fits.

    Used for parameters without a spec in `utils.params.SPECS` (a notebook outside the course).
    """
    types = _literal_types(default)
    if not types:
        return None
    allowed = types | ({int} if float in types else set())  # 3 where 0.5 goes is fine
    if type(value) in allowed:
        return None
    expected = " or ".join(sorted(t.__name__ for t in types))
    return f"{name} expects {expected} (its default is `{default}`), got {value!r} ({type(value).__name__})"


def execute(path: Path, params: dict, full: bool) -> dict:
    """Run one notebook; return its results record (with an "error" entry if it failed)."""
    import papermill

    out = env.build_dir() / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    record_file = metrics_path(path.stem)
    record_file.unlink(missing_ok=True)
    os.environ["COURSE_SMOKE"] = "0" if full else "1"
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(path), str(out), parameters=params, cwd=str(NOTEBOOK_DIR), kernel_name="python3",
            progress_bar=False, request_save_on_cell_execute=True,
        )
    except papermill.PapermillExecutionError as err:
        error = f"{err.ename}: {err.evalue}".strip()
    except KeyboardInterrupt:
        error = "interrupted"
    seconds = round(time.perf_counter() - start, 1)
    record = {"notebook": path.stem, "mode": "full" if full else "smoke", "data": "", "metrics": {}}
    if record_file.exists():
        record.update(json.loads(record_file.read_text()))
    record["seconds"] = seconds
    if params:
        record["parameters"] = params
    if error:
        record["error"] = error[:500]
    if error == "interrupted":
        raise KeyboardInterrupt(record)
    return record


def headline(record: dict) -> str:
    metrics = record.get("metrics", {})
    if not metrics:
        return "-"
    key = next((k for k in metrics if "accuracy" in k), next(iter(metrics)))
    return f"{key}={metrics[key]:g}"


def table(records: list[dict]) -> str:
    rows = [("notebook", "mode", "data", "seconds", "headline metric")]
    for r in records:
        status = headline(r) if "error" not in r else "FAILED: " + r["error"][:60]
        rows.append((r["notebook"], r["mode"], r.get("data") or "-", f"{r['seconds']:.1f}", status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    widths[2] = min(widths[2], 70)
    lines = []
    for i, row in enumerate(rows):
        cells = [c if len(c) <= w else c[: w - 3] + "..." for c, w in zip(row, widths)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save_results(records: list[dict]) -> Path:
    """Merge records into `build/results.json`: one record per notebook and mode (smoke, full), newest wins."""
    path = env.build_dir() / "results.json"
    existing = json.loads(path.read_text()) if path.exists() else []
    merged = {(r["notebook"], r["mode"]): r for r in existing}
    merged.update({(r["notebook"], r["mode"]): r for r in records})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    ordered = [merged[key] for key in sorted(merged)]
    tmp.write_text(json.dumps(ordered, indent=2) + "\n")
    os.replace(tmp, path)
    return path


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def markdown_table(records: list[dict]) -> str:
    """`build/results.json` records as a Markdown table: notebook, mode, data, wall time, metrics."""
    lines = ["| notebook | mode | data | wall time | metrics |", "|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["notebook"], r["mode"])):
        metrics = ", ".join(f"{k} {v:g}" for k, v in r.get("metrics", {}).items() if "seconds" not in k)
        if "error" in r:
            metrics = "failed: " + r["error"][:80]
        params = " ".join(f"`{k}={v}`" for k, v in r.get("parameters", {}).items())
        lines.append(f"| {r['notebook']} | {r['mode']} {params}".rstrip() + f" | {r.get('data') or '-'} | "
                     f"{r['seconds']:.0f} s | {metrics or '-'} |")
    return "\n".join(lines)


def update_readme(records: list[dict], readme: Path) -> None:
    """Replace the table between the results markers in `readme` (the markers must exist)."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"error: {readme} has no {README_START} ... {README_END} block")
    block = f"{README_START}\n{markdown_table(records)}\n{README_END}"
    readme.write_text(text[:start] + block + text[end + len(README_END):])


def run(names: list[str], params: dict, full: bool) -> int:
    chosen = select(names)
    for path in chosen:
        check_parameters(path, params)
    records = []
    try:
        for path in chosen:
            print(f"[{len(records) + 1}/{len(chosen)}] {path.stem} ({'full' if full else 'smoke'} mode) ...", flush=True)
            record = execute(path, params, full)
            records.append(record)
            print(f"    {record['seconds']:.1f} s, {headline(record) if 'error' not in record else record['error']}",
                  flush=True)
    except KeyboardInterrupt as stop:
        if stop.args and isinstance(stop.args[0], dict):
            records.append(stop.args[0])
        print("Interrupted: results so far are saved.")
    if records:
        out = save_results(records)
        print()
        print(table(records))
        print(f"\nExecuted notebooks in {env.build_dir()}/, results in {out}")
    return 1 if any("error" in r for r in records) or len(records) < len(chosen) else 0
