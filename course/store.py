"""The results store: what `python -m course run` keeps of every lesson's runs, in `build/results.json`.

A lesson's `run.record(test_accuracy=0.981)` writes `build/metrics/<lesson>.json` (`course.record`); the
runner collects those into this store and its summary table.

The store keeps, per notebook and mode (smoke, full), the **last good record**. A failed or interrupted
attempt is recorded beside it as `last_attempt`, never over it; a notebook that has never succeeded keeps
its failed attempt as the record (with an `"error"`). Every save:
- holds `build/.results.lock`, so two runners saving at once both keep their records;
- writes `build/metrics/saved/<notebook>.<mode>.json` (that one entry) and then `build/results.json`
  (all of them), each through a temporary file and `os.replace`, so a kill never leaves half a file;
- reads a damaged `results.json` (truncated, not JSON) by keeping every record still readable in it and
  every entry file, sets the damaged file aside as `results.json.damaged-<time>`, and says so.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from . import paths, storage

# --- the results store -----------------------------------------------------------------------------------


def results_path() -> Path:
    return paths.build_dir() / "results.json"


def entries_dir() -> Path:
    """One file per notebook and mode, the same entry as in results.json: what a damaged one is rebuilt from."""
    return paths.build_dir() / "metrics" / "saved"


def _lock_path() -> Path:
    return paths.build_dir() / ".results.lock"


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _is_entry(item) -> bool:
    return isinstance(item, dict) and isinstance(item.get("notebook"), str) and isinstance(item.get("mode"), str)


def _number(value) -> bool:
    import math

    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def clean(entry: dict) -> tuple[dict, list[str]]:
    """A stored record with every field of the type the tables expect, and what had to be left out.

    A record edited by hand, written by an older course or cut by a crash may hold a metric that is not a
    number, seconds that are text, a mode that is neither smoke nor full: those fields are dropped and named,
    never passed on to a table that would stop on them.
    """
    notes, out = [], dict(entry)
    name = f"{entry.get('notebook')} ({entry.get('mode')})"
    if out.get("mode") not in ("smoke", "full"):
        notes.append(f"{name}: mode {out.get('mode')!r} is neither smoke nor full: record left out")
        return {}, notes
    metrics = out.get("metrics") if isinstance(out.get("metrics"), dict) else {}
    bad = [key for key, value in metrics.items() if not (isinstance(key, str) and _number(value))]
    if bad or not isinstance(out.get("metrics", {}), dict):
        notes.append(f"{name}: left out metrics that are not numbers: {', '.join(map(str, bad)) or 'all'}")
    out["metrics"] = {k: v for k, v in metrics.items() if k not in bad}
    if not _number(out.get("seconds", 0.0)):
        notes.append(f"{name}: its time {out.get('seconds')!r} is not a number: shown as unknown")
        out["seconds"] = None
    for key in ("data", "error", "saved"):
        if key in out and not isinstance(out[key], str):
            out[key] = str(out[key])
    if not isinstance(out.get("sources", {}), dict):
        out.pop("sources")
    if not isinstance(out.get("parameters", {}), dict):
        out.pop("parameters")
    return out, notes


def _salvage(text: str) -> list[dict]:
    """The complete records at the start of a damaged `[ {...}, {...}, ...` list."""
    decoder, found = json.JSONDecoder(), []
    pos = text.find("[") + 1
    if pos <= 0:
        return found
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return found
        if _is_entry(item):
            found.append(item)


class Store:
    """What `build/results.json` and the entry files hold, and what was wrong with them."""

    def __init__(self):
        self.entries: dict[tuple[str, str], dict] = {}
        self.damage: str | None = None  # why results.json could not be read as it is
        self.notes: list[str] = []  # fields left out of records that were not of the expected type

    def add(self, entry: dict) -> None:
        key = (entry["notebook"], entry["mode"])
        old = self.entries.get(key)
        if old is None or entry.get("saved", "") >= old.get("saved", ""):
            self.entries[key] = entry

    def records(self) -> list[dict]:
        return [self.entries[key] for key in sorted(self.entries)]


def read_store() -> Store:
    """Read results.json and the entry files (newest entry per notebook and mode wins); never raises."""
    store, path = Store(), results_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as err:
        text, store.damage = "", f"cannot be read ({err})"
    if text is not None and store.damage is None:
        try:
            items = json.loads(text)
            if not isinstance(items, list) or not all(_is_entry(i) for i in items):
                store.damage = "is not a list of records"
                items = [i for i in items if _is_entry(i)] if isinstance(items, list) else []
        except ValueError as err:
            store.damage = f"is not valid JSON ({err.msg} at character {err.pos}: truncated or overwritten?)"
            items = _salvage(text)
        for item in items:
            store.add(item)
    for entry_file in sorted(entries_dir().glob("*.json")) if entries_dir().is_dir() else []:
        try:
            item = json.loads(entry_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # written atomically, so only a hand-edited file can be damaged; results.json has it too
        if _is_entry(item):
            store.add(item)
    return store


def load_results(notes: list | None = None) -> list[dict]:
    """Every saved entry, one per notebook and mode (a damaged results.json is read as far as it can be), each
    cleaned (`clean`); what had to be left out is appended to `notes`."""
    records = []
    for entry in read_store().records():
        cleaned, problems = clean(entry)
        if notes is not None:
            notes.extend(problems)
        if cleaned:
            records.append(cleaned)
    return records


def merge(old: dict | None, attempt: dict) -> dict:
    """The entry after `attempt`: a good attempt replaces the entry; a failed one goes beside a good one."""
    if "error" not in attempt or old is None or "error" in old:
        return attempt
    failed = {k: attempt[k] for k in ("status", "error", "seconds", "saved", "parameters", "data") if attempt.get(k)}
    kept = {k: v for k, v in old.items() if k != "last_attempt"}
    return {**kept, "last_attempt": failed}


def _set_aside_damaged(store: Store) -> str:
    """Copy the damaged results.json aside (the caller then replaces it with the recovered records)."""
    path = results_path()
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        shutil.copyfile(path, aside)
    except OSError as err:
        aside.unlink(missing_ok=True)
        raise storage.storage_error(path.parent, err) from None
    return (f"{path} {store.damage}: kept it as {aside.name} and rebuilt {path.name} from the "
            f"{len(store.entries)} records that could be recovered (from it and {entries_dir()}).")


def repair() -> str | None:
    """Set a damaged results.json aside and write the recovered one; the message, or None if it was sound."""
    with storage.lock(_lock_path()):
        store = read_store()
        if not store.damage:
            return None
        message = _set_aside_damaged(store)
        storage.write_atomic(results_path(), json.dumps(store.records(), indent=2) + "\n")
        return message


def save_attempt(attempt: dict) -> tuple[dict, str | None]:
    """Add one run of one notebook to the store; returns the stored entry and a repair message (or None).

    Raises `storage.StorageError` (with the folder and the fix) when the build folder cannot be written; the
    files already there are then unchanged.
    """
    attempt = {**attempt, "saved": attempt.get("saved") or now()}
    with storage.lock(_lock_path()):
        store = read_store()
        message = _set_aside_damaged(store) if store.damage else None
        key = (attempt["notebook"], attempt["mode"])
        entry = merge(store.entries.get(key), attempt)
        store.entries[key] = entry
        text = json.dumps(entry, indent=2) + "\n"
        storage.write_atomic(entries_dir() / f"{attempt['notebook']}.{attempt['mode']}.json", text)
        storage.write_atomic(results_path(), json.dumps(store.records(), indent=2) + "\n")
    return entry, message
