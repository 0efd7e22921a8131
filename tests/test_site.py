"""The course website (`python -m course site`): built offline, and read in a real browser.

The first tests build the site from small executed notebooks written here (no TensorFlow, a few seconds
each). The slow tests run every lesson in smoke mode, build the site from that run and read it in headless
Chromium (Debian's `chromium`, driven by Playwright) as a reader would: the home page's course map, a lesson
of each mode, a solutions page and the 404 page; on every page no console error, no request that leaves the
machine, no broken image or link, no path of this machine and no raw exception text. They save screenshots
into `build/site-screenshots/`. Another slow test opens a lesson in JupyterLab and saves it unedited.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from course import paths, runner, site
from course.sources import plain_sources

STEMS = [p.stem for p in runner.notebooks()]
SCREENSHOTS = paths.REPO_ROOT / "build" / "site-screenshots"
START = "2026-11-20T10:00:00+00:00"


# --- no network while building ------------------------------------------------------------------------------

_BLOCKING = threading.Event()
_ATTEMPTS: list[str] = []


def _local(host) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _audit(event, args):
    if not _BLOCKING.is_set():
        return
    if event == "socket.getaddrinfo" and not _local(args[0]):
        _ATTEMPTS.append(f"{event} {args[0]}")
        raise OSError(f"the site build tried to reach {args[0]}")
    if event == "socket.connect" and isinstance(args[1], tuple) and not _local(args[1][0]):
        _ATTEMPTS.append(f"{event} {args[1][0]}")
        raise OSError(f"the site build tried to connect to {args[1][0]}")


sys.addaudithook(_audit)  # stays installed, but only acts while _BLOCKING is set


@contextlib.contextmanager
def no_network():
    """Fail any name look-up or connection beyond the loopback made by this process, and list them."""
    _ATTEMPTS.clear()
    _BLOCKING.set()
    try:
        yield _ATTEMPTS
    finally:
        _BLOCKING.clear()


# --- small executed notebooks -------------------------------------------------------------------------------


def _png(width=12, height=8) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


MIRROR = "/srv/mirror-of-this-machine"
CACHE = "/var/cache/course-of-this-machine"


def _executed(stem, mode="smoke", error=None, solutions=False, offline=True, start=START, interrupted=False,
              maintainers=False, duration=12.5):
    """An executed notebook shaped like the course template, as papermill leaves it in build/."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    title = f"Lesson {stem}: a subtitle"
    cells = [
        new_markdown_cell(f"# {title}\n\n<table><td><a href=\"https://colab.research.google.com/x\"><img "
                          f"src=\"https://www.tensorflow.org/images/colab_logo_32px.png\" />Run in Google Colab</a></td></table>"),
        new_markdown_cell("## Overview\n\nWhat this lesson is; try [the exercises](#Exercises-for-you), after [the first "
                          f"lesson's training](../notebooks/{STEMS[0]}.ipynb#6.-Train) and [the data](../data/README.md)."
                          "\n\n**You will learn to**\n- read a plot;\n"
                          "- write a model\n  over two lines.\n\n**Prerequisites**: none.\n\n"
                          "**Runtime**: of the whole notebook: - on a 2-core CPU, 2 minutes (prose, not for the map)."),
        new_code_cell("utils.setup()", outputs=[
            new_output("stream", name="stderr", text="WARNING: All log messages before absl::InitializeLog() is called "
                       "are written to STDERR\nI0000 00:00:1795938687.184445    7842 port.cc:153] oneDNN custom "
                       "operations are on.\n"),
            new_output("stream", name="stdout", text="Python 3.11.7 | TensorFlow 2.21.0 | Keras 3.15.1 (local)\n"
                       "Device: CPU only (2 cores) | float32, no XLA (both pay off only on a GPU)\n"
                       f"Mode: {mode.upper()}" + (" (tiny subsets)" if mode == "smoke" else "")
                       + (" | offline" if offline else "") + f"\nData: mirror={MIRROR}, cache={CACHE}\n"),
            new_output("stream", name="stderr", text="/x.py:74: UserWarning: a real warning\n"),
        ]),
    ]
    if maintainers:
        cells.append(new_markdown_cell("> **For maintainers: automated runs.** `python -m course run 01` executes this\n"
                                       "> notebook headless; `-p NAME=VALUE` overrides a parameter."))
    cells += [
        new_markdown_cell("## 1. A plot with `plot()`\n\nThe rule: $y = a x^2$."),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"}),
                                         new_output("stream", name="stdout", text=f"{MIRROR}/mnist: 500 images\n")]),
        new_markdown_cell("## Exercises for you\n\n1. Change the plot."),
    ]
    if error:  # what papermill leaves: a red line above the title, a marker at the failing cell, the error
        tag = {"tags": ["papermill-error-cell-tag"]}
        cells.insert(0, new_markdown_cell('<span style="color:red">An Exception was encountered at <a href='
                                          '"#papermill-error-cell">In [4]</a>.</span>', metadata=tag))
        cells += [new_markdown_cell('<span id="papermill-error-cell" style="color:red">Execution using papermill '
                                    'encountered an exception here and stopped:</span>', metadata=tag),
                  new_code_cell("boom()", outputs=[new_output("error", ename="ValueError", evalue=error,
                                                              traceback=["ValueError: " + error])])]
    if solutions:
        cells += [new_markdown_cell("## Solutions\n\n**1.** The plot, changed:"),
                  new_code_cell("plot(changed=True)", outputs=[new_output("display_data", data={"image/png": _png(16, 8)})])]
    cells.append(new_code_cell('lesson.record(accuracy=0.5)'))
    for cell in cells:
        if cell.cell_type == "code":
            cell.metadata["papermill"] = {"status": "completed"}
    if interrupted:  # papermill's last save of a run stopped mid-cell: that cell is still "running"
        cells[-1].metadata["papermill"]["status"] = "running"
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "papermill": {"start_time": start, "end_time": start, "duration": duration, "exception": bool(error),
                      "parameters": {}}})
    return nbformat.writes(nb)


@pytest.fixture
def build(tmp_path, monkeypatch):
    """An empty build folder, as `python -m course run` would fill it."""
    folder = tmp_path / "build"
    folder.mkdir()
    monkeypatch.setenv("COURSE_BUILD_DIR", str(folder))
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    return folder


def _saved(start=START, after=15.0) -> str:
    """When the runner saves a record: right after the execution, in this machine's local time."""
    return (datetime.fromisoformat(start) + timedelta(seconds=after)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


GOOD_DATA = "data: real, mirror $COURSE_DATA_DIR/x (1,000 train / 500 test)"


def _write_run(build, mode="smoke", skip=(), special=None, data=None, folder=None):
    """Executed notebooks of every lesson (but `skip`) in `folder` (default: `build`), and their records."""
    special, data = special or {}, data or {}
    folder = folder or build
    folder.mkdir(exist_ok=True)
    path = build / "results.json"
    records = {(r["notebook"], r["mode"]): r for r in json.loads(path.read_text())} if path.exists() else {}
    for stem in STEMS:
        if stem in skip:
            continue
        options = special.get(stem, {})
        (folder / f"{stem}.ipynb").write_text(_executed(stem, mode=mode, **options))
        record = {"notebook": stem, "mode": mode, "data": data.get(stem, GOOD_DATA), "metrics": {"accuracy": 0.5},
                  "seconds": 13.0, "saved": _saved(options.get("start", START))}
        records[(stem, mode)] = record
    path.write_text(json.dumps(list(records.values())))


def _page(out, name):
    return (out / name).read_text()


def _text(html_text: str) -> str:
    """What a reader reads in a page: its text without tags, scripts or styles."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html_text, flags=re.DOTALL | re.IGNORECASE)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _banner(page_html: str) -> str:
    found = re.search(r'<div class="course-run[^"]*"[^>]*id="course-run".*?</div>', page_html, re.DOTALL)
    assert found, "no banner"
    return _text(found.group(0))


def _header_attrs(page_html: str) -> dict:
    found = re.search(r'<div class="course-run course-run--(\w+)[^"]*" id="course-run" data-run-mode="([^"]+)"\s+'
                      r'data-run-scope="(\w+)"', page_html)
    assert found, "no banner attributes"
    return {"style": found.group(1), "mode": found.group(2), "scope": found.group(3)}


# --- the site, built from small notebooks ---------------------------------------------------------------------------


def test_smoke_site_has_every_page_a_warning_banner_and_no_web_resources(build):
    first, last = STEMS[0], STEMS[-1]
    _write_run(build, special={first: {"solutions": True}, last: {"error": "no weights offline"}})
    with no_network() as attempts:
        out = site.build()
    assert attempts == []
    assert out == build / "site"

    pages = {p.name for p in out.glob("*.html")}
    assert {"index.html", "data.html", "workshop.html", "maintainers.html", "404.html",
            f"{first}_solutions.html"} | {f"{s}.html" for s in STEMS} <= pages
    for name in pages:
        text = _page(out, name)
        assert 'id="course-run"' in text and "course-run--smoke" in text and "SMOKE RUN" in _banner(text), name
        # Nothing a reader's browser would fetch from the web: scripts, styles, images, fonts. (A canonical
        # link names the published address; browsers do not fetch it.)
        fetched = re.findall(r"""<(?:script|img|link|source|iframe)\b[^>]*(?:src|href)=["']?(?:https?:)?//[^>]*>""", text)
        assert [tag for tag in fetched if 'rel="canonical"' not in tag] == [], name
        canonical = re.findall(r'<link rel="canonical" href="([^"]+)"', text)
        assert canonical in ([], [site.PAGES_URL + name]), (name, canonical)

    lesson = _page(out, f"{first}.html")
    assert f'href="https://colab.research.google.com/github/{paths.REPO_SLUG}/blob/main/notebooks/{first}.ipynb"' in lesson
    assert f'href="https://github.com/{paths.REPO_SLUG}/blob/main/notebooks/{first}.ipynb"' in lesson
    assert "oneDNN custom operations" not in lesson and "absl::InitializeLog" not in lesson  # native log noise
    assert "UserWarning: a real warning" in lesson  # what the code itself warns stays
    # The contents list the heading with its code, and link to it (mkdocs-jupyter would drop `plot()`).
    assert re.search(r'href="#1-a-plot-with-plot"[^>]*>\s*<span[^>]*>\s*1\. A plot with plot\(\)', lesson)
    assert 'id="1-a-plot-with-plot"' in lesson
    # A link written for Jupyter's anchors leads to the heading on the site.
    assert 'href="#exercises-for-you"' in lesson and 'id="exercises-for-you"' in lesson and "#Exercises-for-you" not in lesson
    # Links to another lesson or to the data's README lead to their pages on the site.
    assert f'href="{STEMS[0]}.html#6-train"' in lesson and 'href="data.html"' in lesson and ".ipynb#" not in lesson
    assert "data:image/png;base64," in lesson
    assert "The plot, changed" not in lesson and f"{first}_solutions.html" in lesson
    assert "The plot, changed" in _page(out, f"{first}_solutions.html")
    # MathJax from the site itself: a script tag (mkdocs-jupyter 0.26) or 0.27's loader (Python >= 3.12) given
    # the site's copy; the browser test checks that formulas are typeset either way
    local_mathjax = re.escape("&quot;url&quot;: &quot;assets/mathjax/tex-chtml.js&quot;")
    assert ('src="assets/mathjax/tex-chtml.js"' in lesson
            or re.search(rf'<script data-mkdocs-jupyter-mathjax="[^"]*{local_mathjax}', lesson)), "MathJax not loaded"
    assert (out / "assets" / "mathjax" / "tex-chtml.js").exists()

    failed = _page(out, f"{last}.html")
    assert "stopped with an error" in failed and "<code>ValueError</code>" in failed
    assert 'id="papermill-error-cell"' in failed and "An Exception was encountered" not in failed
    assert "FAILED" in _banner(failed) and "no weights offline" not in _banner(failed)
    assert "no weights offline" not in failed.split('id="papermill-error-cell"')[0], "the error's text above its cell"

    home = _page(out, "index.html")
    assert "write a model over two lines." in _text(home)  # its "You will learn to" list
    assert "prose, not for the map" not in home  # the lesson's Runtime line is prose, not the map's time
    assert f"{first}_solutions.html" in home and f"{first}.html" in home
    assert "The runs shown on this site" in _page(out, "maintainers.html")


def test_the_course_map_shows_each_lesson_with_its_result_and_times_from_the_runs(build, monkeypatch, tmp_path):
    """The home page's map: lessons in order with their own titles, the result of the run shown, the CPU time
    of a full run (short figures, from papermill's duration) and the Colab GPU time from the maintainers' table."""
    full_lesson, smoke_lesson, failed_lesson = STEMS[0], STEMS[1], STEMS[2]
    _write_run(build, mode="full", special={failed_lesson: {"error": "boom"}}, folder=build / runner.FULL_COPIES)
    _write_run(build, mode="full", special={full_lesson: {"duration": 114.0}})
    _write_run(build, mode="smoke", skip=[s for s in STEMS if s not in (smoke_lesson, failed_lesson)],
               special={failed_lesson: {"error": "boom"}})
    (build / runner.FULL_COPIES / f"{smoke_lesson}.ipynb").write_text(_executed(smoke_lesson, mode="full", duration=526.0))
    (build / runner.FULL_COPIES / f"{failed_lesson}.ipynb").unlink()
    times = tmp_path / "gpu.yml"
    times.write_text(yaml.safe_dump({full_lesson: {"seconds": 40, "gpu": "T4", "measured": "2026-12-01"}}))
    monkeypatch.setattr(site, "GPU_TIMES", times)

    out = site.build()
    home = _page(out, "index.html")
    cards = re.findall(r'<div class="card map-card" id="map-(\d\d)" data-stem="([^"]+)".*?</dl>', home, re.DOTALL)
    assert [stem for _, stem in cards] == STEMS, "one card per lesson, in reading order"
    facts = {stem: dict(re.findall(r'<dd data-map="(\w+)">([^<]*)</dd>', card)) for card, (_, stem) in
             zip(re.findall(r'<div class="card map-card".*?</dl>', home, re.DOTALL), cards)}
    titles = dict(re.findall(r'data-stem="([^"]+)".*?<strong>([^<]+)</strong>', home, re.DOTALL))
    assert titles == {s: f"Lesson {s}: a subtitle" for s in STEMS}, "each lesson's own H1, whole"

    assert facts[full_lesson] == {"result": "accuracy 50.0%", "cpu": "2 min", "gpu": "40 s (T4)"}
    # shown as a smoke run, but its last full run (build/full/) gives the CPU time
    assert facts[smoke_lesson]["result"] == "smoke run: no real result" and facts[smoke_lesson]["cpu"] == "9 min"
    assert facts[failed_lesson] == {"result": "failed", "cpu": "not measured yet",
                                    "gpu": "not measured yet" if _gpu(failed_lesson) else "no GPU needed"}
    assert facts[STEMS[3]]["gpu"] == ("not measured yet" if _gpu(STEMS[3]) else "no GPU needed")
    for stem, shown in facts.items():
        for key in ("cpu", "gpu"):
            assert re.fullmatch(r"\d+ (s|min)( \(\w+\))?|1 h \d\d min|not measured yet|no GPU needed", shown[key]), (stem, shown)

    real = [s[:2] for s in STEMS if s not in (smoke_lesson, failed_lesson)]
    assert f"Lessons {', '.join(real[:-1])} and {real[-1]} show full runs" in _text(home)
    assert "MIXED RUN" in _banner(home) and f"lesson {failed_lesson[:2]} failed" in _banner(home).lower()


def _gpu(stem) -> bool:
    return json.loads((site.NOTEBOOK_DIR / f"{stem}.ipynb").read_text())["metadata"].get("accelerator") == "GPU"


def test_full_site_is_labelled_full_only_when_every_lesson_ran_in_full_mode(build):
    _write_run(build, mode="full")
    out = site.build()
    text = _page(out, "index.html")
    assert 'data-run-mode="full"' in text and "course-run--full" in text and "Full run of 2026-11-20" in _banner(text)
    assert "Not real results" not in _page(out, f"{STEMS[0]}.html")

    _write_run(build, mode="smoke", skip=STEMS[:1] + STEMS[2:])
    out = site.build()
    home, full_page, smoke_page = (_page(out, n) for n in ("index.html", f"{STEMS[0]}.html", f"{STEMS[1]}.html"))
    assert _header_attrs(home) == {"style": "smoke", "mode": "mixed", "scope": "site"}
    assert _banner(home).startswith(f"MIXED RUN of 2026-11-20: lessons {STEMS[0][:2]}, ") and "ran at full size" in _banner(home)
    assert f"lesson {STEMS[1][:2]} in smoke mode (the numbers mean nothing)" in _banner(home)
    # each lesson's pages say that lesson's own mode and how its run ended
    assert _header_attrs(full_page) == {"style": "full", "mode": "full", "scope": "lesson"}
    assert _banner(full_page).startswith(f"Lesson {STEMS[0][:2]}: full run of 2026-11-20, completed")
    assert _header_attrs(smoke_page) == {"style": "smoke", "mode": "smoke", "scope": "lesson"}
    assert _banner(smoke_page).startswith(f"Lesson {STEMS[1][:2]}: SMOKE RUN of 2026-11-20, completed: tiny subsets")
    assert "Not real results" in smoke_page and "Not real results" not in full_page


def test_smoke_and_full_builds_go_to_separate_folders(build, capsys):
    """`python -m course site --full` shows the last good full runs (build/full/) in build/site-full/, also when a
    smoke run (pytest, a quick check) has since replaced build/NN.ipynb; the smoke build keeps build/site/."""
    from course.__main__ import main

    _write_run(build, mode="smoke")  # the latest attempts are smoke runs
    assert main(["site", "--full"]) == 2, "no full runs yet"
    assert "python -m course run --full" in capsys.readouterr().err
    _write_run(build, mode="full", folder=build / runner.FULL_COPIES)
    assert main(["site"]) == 0
    smoke, full = build / "site", site.build(full=True)
    assert full == build / "site-full"
    assert "course-run--smoke" in _page(smoke, "index.html") and "SMOKE RUN" in _banner(_page(smoke, "index.html"))
    text = _page(full, "index.html")
    assert 'data-run-mode="full"' in text and "MIXED RUN" not in text and "SMOKE" not in _banner(text)
    assert "course-run--smoke" in _page(smoke, "index.html"), "the full build left the smoke build alone"


def test_a_lesson_whose_mode_cannot_be_told_is_never_shown_as_full(build):
    _write_run(build, mode="full")
    nb = json.loads(_executed(STEMS[0], mode="full"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout":
                out["text"] = "no banner here\n"
    (build / f"{STEMS[0]}.ipynb").write_text(json.dumps(nb))
    lessons, _ = site.collect()
    assert lessons[0].mode == "unknown" and not lessons[0].real
    run = site.run_summary(lessons)
    assert run["style"] == "smoke" and "not real results" in run["headline"] and "Full run" not in run["headline"]
    assert site.lesson_banner(lessons[0])["style"] == "smoke"


def test_an_interrupted_or_dead_run_is_said_to_be_so(build):
    """A run stopped mid-cell (Ctrl-C, SIGTERM) leaves a cell papermill marks as running; a kernel that died
    looks the same, and the runner's record says it failed. Neither is shown as completed."""
    stopped, died = STEMS[0], STEMS[1]
    _write_run(build, mode="full", special={stopped: {"interrupted": True}, died: {"interrupted": True}})
    records = json.loads((build / "results.json").read_text())
    for record in records:
        if record["notebook"] in (stopped, died):
            record.update(status="interrupted" if record["notebook"] == stopped else "failed",
                          error=f"the kernel died in the cell `x`: kernel log: {build}/logs/x.log")
            record.pop("metrics")
    (build / "results.json").write_text(json.dumps(records))
    lessons, _ = site.collect()
    assert [x.status for x in lessons[:3]] == ["interrupted", "failed", "completed"]
    out = site.build()
    page = _page(out, f"{stopped}.html")
    assert "INTERRUPTED" in _banner(page) and "This run was interrupted" in page and 'data-status="interrupted"' in page
    assert "FAILED" in _banner(_page(out, f"{died}.html"))
    home = _page(out, "index.html")
    assert _header_attrs(home)["style"] == "smoke"
    assert f"lesson {died[:2]} failed; lesson {stopped[:2]} was interrupted" in _banner(home).lower()
    assert "kernel log" not in home and str(build) not in _text(home)


def test_pages_show_no_path_of_this_machine_nor_raw_exception_text(build):
    """The mirror and cache the setup banner names, the build folder, home: named by variables, never shown;
    a fallback's reason (an exception's text) is put in plain words."""
    fallback = next(d for d in RECORDED if d.startswith("choice:vgg19"))
    _write_run(build, data={STEMS[0]: f"mnist: real, downloaded to {Path.home()}/.cache/x (60,000 train / 10,000 test)",
                            STEMS[1]: fallback})
    params = {"DATA_DIR": str(Path.home() / "photos")}
    nb = json.loads((build / f"{STEMS[0]}.ipynb").read_text())
    nb["metadata"]["papermill"]["parameters"] = params
    nb["cells"][2]["outputs"].append({"output_type": "stream", "name": "stdout",
                                      "text": f"LOG_DIR = {build}/runs/x/logs\nsaved {Path.home()}/model.keras\n"})
    (build / f"{STEMS[0]}.ipynb").write_text(json.dumps(nb))
    out = site.build()
    for page in out.glob("*.html"):
        text = _text(page.read_text())
        for folder in (MIRROR, CACHE, str(build), str(Path.home()) + "/", str(paths.REPO_ROOT)):
            assert folder not in text, (page.name, folder)
        assert not re.search(r"urlopen|Errno|Name or service", text), page.name
    assert "MobileNet 1.0 instead of VGG19" in _banner(_page(out, f"{STEMS[1]}.html"))
    lesson = _text(_page(out, f"{STEMS[0]}.html"))
    assert "Data: mirror=$COURSE_DATA_DIR, cache=$COURSE_CACHE_DIR" in lesson
    assert "$COURSE_DATA_DIR/mnist: 500 images" in lesson and "LOG_DIR = build/runs/x/logs" in lesson
    assert "saved ~/model.keras" in lesson and "DATA_DIR=~/photos" in lesson


def test_maintainers_notes_leave_the_lesson_flow_for_a_collapsed_block_at_the_end(build):
    _write_run(build, special={STEMS[0]: {"maintainers": True, "solutions": True}})
    out = site.build()
    page = _page(out, f"{STEMS[0]}.html")
    page = page[page.index("<article"):]  # the lesson itself, not the navigation
    note = page.index("For maintainers: automated runs")
    assert page.index('id="1-a-plot-with-plot"') < page.index('id="exercises-for-you"') < page.index('id="solutions"') < note
    block = page[page.rindex("<details", 0, note):]
    assert block.startswith('<details class="note maintainers"') and " open" not in block[:block.index(">")]
    assert "<code>python -m course run 01</code>" in block and 'href="maintainers.html"' in block
    assert page.count("For maintainers: automated runs") == 1


def test_a_damaged_results_file_does_not_stop_the_site(build):
    _write_run(build, mode="full")
    text = (build / "results.json").read_text()
    (build / "results.json").write_text(text[: len(text) // 2])  # cut short, as a full disk leaves it
    _, records = site.collect()
    assert records, "the readable records are used"
    assert (site.build() / "index.html").exists()


def test_lessons_not_run_are_listed_and_an_empty_build_is_refused(build):
    with pytest.raises(site.SiteError, match="python -m course run"):
        site.build()
    _write_run(build, mode="full", skip=STEMS[2:3])
    out = site.build()
    text = _page(out, "index.html")
    assert "course-run--smoke" in text and f"lesson {STEMS[2][:2]} was not run" in _banner(text).lower()
    assert "not run: no outputs" in _page(out, f"{STEMS[2]}.html")
    assert f"Lesson {STEMS[2][:2]} was not run" in _banner(_page(out, f"{STEMS[2]}.html"))


def test_the_404_page_links_to_the_site_from_any_depth(build):
    """A static host serves 404.html for any missing address (`/course/no/such/page`): relative links would lead
    nowhere, so its links and assets start from the published address's path."""
    _write_run(build)
    out = site.build(site_url="https://example.org/course/")
    page = _page(out, "404.html")
    assert "Page not found" in page
    links = re.findall(r'(?:href|src)="([^"#]+)"', page)
    local = [link for link in links if not link.startswith(("https://", "data:"))]
    assert local and all(link.startswith("/course/") for link in local), local
    assert 'href="/course/index.html"' in page
    for stem in STEMS:
        assert f'href="/course/{stem}.html"' in page


def test_links_between_files_of_the_course_lead_to_the_site_or_to_github():
    github = f"https://github.com/{paths.REPO_SLUG}/blob/main"
    assert site.site_link(f"{STEMS[1]}.ipynb") == f"{STEMS[1]}.html"
    assert site.site_link(f"./{STEMS[1]}.ipynb#What-changed-from-the-original-tutorial") == \
        f"{STEMS[1]}.html#what-changed-from-the-original-tutorial"
    assert site.site_link("../data/README.md#Mirror-layout") == "data.html#mirror-layout"
    assert site.site_link("../README.md") == f"{github}/README.md"
    assert site.site_link("../utils/plots.py") == f"{github}/utils/plots.py"
    for kept in ("https://example.org/x.ipynb", "#Exercises", "mailto:a@b.c", "/abs/path"):
        assert site.site_link(kept) == kept
    cell = {"source": f"[one]({STEMS[0]}.ipynb) ![a plot](plots/a.png) <a href='../README.md'>r</a> <img src='b.png'>"}
    site._link_pages(cell)
    assert cell["source"] == f"[one]({STEMS[0]}.html) ![a plot](plots/a.png) <a href='{github}/README.md'>r</a> <img src='b.png'>"


def test_a_failed_downloads_raw_exception_is_put_in_plain_words():
    redact = site.Redactor()
    line = ("! vgg19's weights cannot be had here (the download failed (<urlopen error [Errno -2] Name or service not "
            "known>)); using mobilenet_100 instead")
    assert redact(line) == ("! vgg19's weights cannot be had here (the download failed (no network: the server's name "
                            "could not be looked up)); using mobilenet_100 instead")
    assert redact("(<urlopen error timed out>)") == "(a network error)"
    assert redact("the HTTP error 404 is kept") == "the HTTP error 404 is kept"


def test_icons_are_part_of_the_page():
    """The Colab and GitHub buttons draw Material's icons inline: offline, nothing to fetch."""
    lesson = site.Lesson(stem=STEMS[0], title="t")
    header = site._lesson_header(lesson, site.Redactor())
    assert header.count("<svg") == 2 and "<img" not in header


def test_page_markers_are_all_known():
    parts = {"run": "R", "what-you-see": "W", "course-map": "M", "results": "T", "per-lesson": "P"}
    for name in site.PAGES:
        text = (site.DOCS_DIR / name).read_text()
        assert "<!-- site:" in text
        assert "<!-- site:" not in site.fill(text, parts, name)
    with pytest.raises(site.SiteError, match="unknown marker"):
        site.fill("<!-- site:nope -->", parts, "x.md")


# --- data sources in plain words -------------------------------------------------------------------------------

# What `build/results.json` records today (README's table, 2026-12): each source and its words on a page.
RECORDED = {
    "mnist: real, mirror $COURSE_DATA_DIR/mnist (19,690 train / 10,000 test)":
        [("real", "MNIST handwritten digits: real data (offline mirror, 19,690 train / 10,000 test)")],
    "grocery: real, mirror $COURSE_DATA_DIR/GroceryStoreDataset (2,640 / 296 / 2,485 train / val / test)":
        [("real", "Grocery Store Dataset: real data (offline mirror, 2,640 / 296 / 2,485 train / val / test)")],
    "hotdog: STAND-IN (scikit-learn digits 0 and 1 saved as JPEGs under hotdog/ and not-hotdog/)":
        [("stand-in", "Hot dog / not hot dog: STAND-IN data, not the real dataset")],
    "flowers: real, cache /home/me/.cache/course/flowers": [("real", "flowers: real data (download cache)")],
    "grocery: real, downloaded to /tmp/x/grocery": [("real", "Grocery Store Dataset: real data (downloaded)")],
    ("choice:vgg19: mobilenet_100 instead: vgg19's weights cannot be had (not in the mirror or Keras' cache; the "
     "download failed (<urlopen error [Errno -2] Name or service not known>)); imagenet:mobilenet_100: ImageNet "
     "weights, mirror $COURSE_DATA_DIR/keras_home/models/mobilenet_1_0_224_tf_no_top.h5"):
        [("fallback", "MobileNet 1.0 instead of VGG19: it is not available offline and could not be downloaded"),
         ("pretrained", "MobileNet 1.0: ImageNet weights")],
    ("choice:efficientnetv2-b0-21k-ft1k: mobilenet_025 instead: efficientnetv2-b0-21k-ft1k cannot be loaded (it "
     "cannot be downloaded (COURSE_OFFLINE=1)); choice:mobilenet_025:top: mobilenet_100 instead: mobilenet_025's "
     "weights cannot be had (not in the mirror or Keras' cache; COURSE_OFFLINE=1: no download tried); hotdog: real, "
     "mirror $COURSE_DATA_DIR/hotdog; imagenet:mobilenet_100:top: ImageNet weights with its ImageNet top, mirror "
     "$COURSE_DATA_DIR/x.h5"):
        [("fallback", "MobileNet 0.25 instead of efficientnetv2-b0-21k-ft1k: it is not available offline, and this "
                      "run was not allowed to download"),
         ("fallback", "MobileNet 1.0 instead of MobileNet 0.25: it is not available offline, and this run was not "
                      "allowed to download"),
         ("real", "Hot dog / not hot dog: real data (offline mirror)"),
         ("pretrained", "MobileNet 1.0 with its ImageNet classifier: ImageNet weights")],
    "choice:resnet50: mobilenet_025 with RANDOM weights instead: no ImageNet weights can be had (HTTP 404 at /x)":
        [("random-weights", "MobileNet 0.25 with random weights instead of ResNet50: it could not be loaded "
                            "(no pretrained weights either)")],
    "imagenet:resnet50: RANDOM weights (stand-in: none offline); imagenet:class_index: STAND-IN (numbered names: x)":
        [("random-weights", "ResNet50: random weights, not trained"),
         ("stand-in", "ImageNet class names: STAND-IN data, not the real dataset")],
    "mnist: something new (see /root/x: <urlopen error>)": [("unknown", "MNIST handwritten digits: source not described")],
}


@pytest.mark.parametrize("description", RECORDED, ids=range(len(RECORDED)))
def test_data_sources_are_put_in_plain_words(description):
    sources = plain_sources(description)
    assert [(s.kind, s.words) for s in sources] == RECORDED[description]
    for source in sources:
        assert not re.search(r"\w/\w|(?:^|\s)/\w|<|Errno|urlopen|\$|COURSE_|HTTP", source.words), source.words


def test_the_banner_says_fallbacks_and_stand_ins_in_plain_words(build):
    data = {STEMS[1]: next(d for d in RECORDED if d.startswith("choice:vgg19")),
            STEMS[3]: next(d for d in RECORDED if d.startswith("hotdog: STAND-IN")),
            STEMS[4]: next(d for d in RECORDED if d.startswith("choice:resnet50")),
            STEMS[5]: next(d for d in RECORDED if "something new" in d)}
    _write_run(build, data=data)
    lessons, _ = site.collect()
    details = site.run_summary(lessons)["details"]
    assert f"data of unknown origin in lesson {STEMS[5][:2]}" in details
    assert f"STAND-IN data in lesson {STEMS[3][:2]}: not the real datasets" in details
    assert f"RANDOM weights in lesson {STEMS[4][:2]}: no pretrained network could be had" in details
    assert f"{STEMS[1][:2]}: MobileNet 1.0 instead of VGG19" in details
    assert "real data in every lesson" not in details
    assert site.lesson_banner(lessons[0])["details"][0] == "real data"


@pytest.mark.parametrize("path", sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_lesson_gets_its_solutions_page_and_keeps_its_exercises(path):
    """03 wrote `## Exercises` and `## Solutions` in one cell: its solutions stayed in the lesson, and the site
    had no solutions page for it."""
    nb = json.loads(path.read_text())
    page, solutions = site.lesson_pages(site.Lesson(stem=path.stem, title=path.stem, has_solutions=True), nb)
    assert solutions is not None, "no solutions page"

    def text(notebook):
        return "\n".join(site._text(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")

    assert "### Solution 1:" in text(solutions) and "### Solution 1:" not in text(page)
    assert "## Exercises" in text(page) and "## Exercises" not in text(solutions)
    assert "<details><summary>Hint" in text(page), "the hints stay with the exercises"


@pytest.mark.parametrize("path", sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_the_map_and_navigation_use_each_lessons_own_title(path):
    nb = json.loads(path.read_text())
    h1 = next(line[2:].strip() for c in nb["cells"] if c["cell_type"] == "markdown"
              for line in site._text(c["source"]).splitlines() if line.startswith("# "))
    lesson = site.Lesson(stem=path.stem, title=site._title(nb, path.stem), overview=site._overview(nb))
    assert lesson.title == h1
    assert f"<strong>{html.escape(h1)}</strong>" in site.course_map([lesson])


def test_gpu_times_are_measured_figures_or_not_yet():
    """docs/colab-gpu-times.yml, which maintainers fill in: one entry per lesson; a time comes with its GPU and date."""
    measured = site.gpu_times()
    assert set(measured) == set(STEMS)
    for stem, entry in measured.items():
        assert set(entry) == {"seconds", "gpu", "measured"}, stem
        if entry["seconds"] is None:
            assert entry["gpu"] is None and entry["measured"] is None, stem
        else:
            assert entry["seconds"] > 0 and entry["gpu"] and re.fullmatch(r"\d{4}-\d\d-\d\d", str(entry["measured"])), stem


def test_the_publish_workflow_builds_the_full_site_and_the_readme_links_it():
    workflow = yaml.safe_load((paths.REPO_ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    commands = [step.get("run", "") for step in steps]
    assert any(c.startswith("python -m course run --full") for c in commands)
    assert any(c.startswith("python -m course site --full") for c in commands)
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == f"build/{site.SITE_FOLDERS[True]}"
    assert workflow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")
    readme = (paths.REPO_ROOT / "README.md").read_text()
    assert site.PAGES_URL in readme, "the README links the published course"
    command = "python -m course site --full && ghp-import --no-jekyll --push --force build/site-full"
    assert command in readme and command.split(" && ")[1] in (site.DOCS_DIR / "maintainers.md").read_text()


# --- in a real browser -----------------------------------------------------------------------------------------


def _chromium_or_skip():
    if Path(site.CHROMIUM).exists():
        return site.CHROMIUM
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":  # set by .ci/run: CI must never skip this test
        pytest.fail(f"no Chromium at {site.CHROMIUM}, and COURSE_REQUIRE_BROWSER=1 (CI): apt-get install chromium")
    pytest.skip(f"no Chromium at {site.CHROMIUM}: `apt-get install chromium` (Debian) to run the browser test")


def _formulas(notebook: Path) -> list[str]:
    """`$...$` formulas in the lesson's Markdown (not in code, where MathJax leaves dollars alone, nor in the
    cells the site adds, `site-*`, whose run facts MathJax must leave alone)."""
    nb = json.loads(notebook.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"]
                     if c["cell_type"] == "markdown" and not str(c.get("id", "")).startswith("site-"))
    text = re.sub(r"```.*?```|`[^`]*`", "", text, flags=re.DOTALL)
    return re.findall(r"\$[^$\s][^$\n]*\$", text)


def _smoke_run(build: Path) -> bool:
    """Every lesson in smoke mode into `build`; False when COURSE_SITE_TEST_RUN names an earlier run's build
    folder to use instead (quicker while working on the site, and the way to read a full-mode build)."""
    earlier = os.environ.get("COURSE_SITE_TEST_RUN")
    if earlier:
        earlier = Path(earlier)
        for item in earlier.glob("[0-9][0-9]_*.ipynb"):
            shutil.copy(item, build)
        for sub in (runner.FULL_COPIES, "metrics"):
            if (earlier / sub).is_dir():
                shutil.copytree(earlier / sub, build / sub)
        shutil.copy(earlier / "results.json", build)
        return False
    # conftest.py sets MPLBACKEND=Agg for the test suite; kernels that inherit it draw no figures at all.
    run_env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run([sys.executable, "-m", "course", "run"], cwd=paths.REPO_ROOT, capture_output=True, text=True,
                          env={**run_env, "COURSE_BUILD_DIR": str(build), "COURSE_SMOKE": "1"}, timeout=1500)
    assert list(build.glob("[0-9][0-9]_*.ipynb")), f"`python -m course run` left no notebooks:\n{proc.stdout[-3000:]}"
    return True


def _as_full_run(build: Path, stem: str) -> None:
    """A smoke run has no full-mode lesson to read: this lesson's executed copy stands for one, its setup banner
    and records saying FULL (the site's rendering of a full lesson is what the browser test checks, not the
    lesson's numbers; screenshots of real full runs come from `COURSE_SITE_TEST_RUN` or `--screenshots`)."""
    path = build / f"{stem}.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout":
                out["text"] = re.sub(r"^Mode: SMOKE[^|\n]*", "Mode: FULL ", site._text(out["text"]), flags=re.MULTILINE)
    path.write_text(json.dumps(nb))
    (build / runner.FULL_COPIES).mkdir(exist_ok=True)
    shutil.copy(path, build / runner.FULL_COPIES / path.name)
    records = json.loads((build / "results.json").read_text())
    records += [{**r, "mode": "full"} for r in records if r["notebook"] == stem and r["mode"] == "smoke"]
    (build / "results.json").write_text(json.dumps(records))
    metrics = build / "metrics" / f"{stem}.json"
    if metrics.exists():
        stat = metrics.stat()
        metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "mode": "full"}))
        os.utime(metrics, (stat.st_atime, stat.st_mtime))


def machine_paths() -> list[str]:
    """This machine's folders that no page may show."""
    found = set(site.Redactor.machine_folders()) | {str(paths.REPO_ROOT)}
    for var in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR", "KERAS_HOME"):
        if os.environ.get(var):
            found.add(os.environ[var])
    # "/tmp" alone is also a word in prose ("/tmp is wiped at boot"): its sub-folders are the machine's
    return sorted(p.rstrip("/") + ("/" if p in ("/tmp", "/root", "/home") else "") for p in found if len(p) > 1)


#: Raw exception text: what an exception's message looks like, never what a page should say.
RAW_EXCEPTION = re.compile(r"Traceback \(most recent call last\)|<urlopen error|\[Errno -?\d+\]|Name or service not known")


@pytest.mark.slow
def test_a_reader_sees_every_page_whole_in_chromium(build):
    chromium = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    smoke = _smoke_run(build)
    if smoke:
        _as_full_run(build, STEMS[0])
    started = time.perf_counter()
    with no_network() as attempts:
        out = site.build()
    build_seconds = time.perf_counter() - started
    assert attempts == [], f"the site build reached for the network: {attempts}"
    lessons, _ = site.collect()
    run = site.run_summary(lessons)
    full = next(x for x in lessons if x.real)
    smoke_lesson = next(x for x in lessons if x.mode == "smoke")
    solutions = next(x for x in lessons if x.has_solutions and x.run)
    if smoke:
        assert run["mode"] == "mixed" and run["style"] == "smoke", run
    src = build / "site-src" / "site" / "docs"
    pages = ["index.html", "data.html", "workshop.html", "maintainers.html"]
    for lesson in lessons:
        pages.append(lesson.html)
        if (src / lesson.solutions_page).exists():
            pages.append(f"{lesson.stem}_solutions.html")
    forbidden = machine_paths()

    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    problems: list[str] = []
    checked_links: dict[str, int] = {}
    anchors: dict[str, set[str]] = {}
    started = time.perf_counter()
    with site.serve(out) as base, sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        browser = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=site.CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        outside: list[str] = []

        def route(r):
            if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        browser.route("**/*", route)
        page = browser.new_page()
        messages: list[str] = []
        page.on("console", lambda m: messages.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: messages.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: messages.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: messages.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

        def whole_page_checks(where: str, address: str) -> None:
            """No broken image or link, no path of this machine, no raw exception text."""
            broken = page.evaluate("""async () => {
                const images = [...document.querySelectorAll('img')];
                for (const img of images) { img.loading = 'eager'; }
                await Promise.all(images.map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
                return images.filter(img => !(img.naturalWidth > 0)).map(img => (img.getAttribute('src') || '').slice(0, 80));
            }""")
            if broken:
                problems.append(f"{where} images that do not display: {broken}")
            dangling = page.evaluate("""() => [...document.querySelectorAll('a[href^="#"]')]
                .map(a => a.getAttribute('href')).filter(h => h.length > 1 && !document.getElementById(decodeURIComponent(h.slice(1))))""")
            if dangling:
                problems.append(f"{where} links within the page that lead nowhere: {sorted(set(dangling))}")
            links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
            for link in {link for link in links if link.startswith(base)}:
                address, _, anchor = link.partition("#")
                if address not in checked_links:
                    response = page.request.get(address)
                    checked_links[address] = response.status
                    anchors[address] = set(re.findall(r'\bid="([^"]+)"', response.text())) if response.ok else set()
                if checked_links[address] != 200:
                    problems.append(f"{where} a link to {address} gets HTTP {checked_links[address]}")
                elif anchor and address != page.url.split("#")[0] and unquote(anchor) not in anchors[address]:
                    problems.append(f"{where} a link to {link} leads to no heading there")
            text = page.evaluate("() => document.body.innerText")
            for folder in forbidden:
                if folder in text:
                    problems.append(f"{where} shows this machine's folder {folder}")
            code_outputs = " ".join(page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
                                    .all_inner_texts()) if any(x.status == "failed" for x in lessons) else ""
            raw = [m.group(0) for m in RAW_EXCEPTION.finditer(text) if m.group(0) not in code_outputs]
            if raw:
                problems.append(f"{where} shows raw exception text: {raw[:3]}")

        for name in pages:
            messages.clear()
            outside.clear()
            page.goto(f"{base}{name}", wait_until="load")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SCREENSHOTS / name.replace(".html", ".png")))
            where = f"{name}:"
            stem = name.removesuffix(".html").removesuffix("_solutions")
            lesson = next((x for x in lessons if x.stem == stem), None)
            expected = site.lesson_banner(lesson) if lesson else run
            banner = page.locator("#course-run")
            if not banner.is_visible() or expected["headline"] not in " ".join(banner.inner_text().split()):
                problems.append(f"{where} no visible banner saying {expected['headline']!r}")
            stripes = page.evaluate("() => getComputedStyle(document.querySelector('.md-banner')).backgroundImage")
            if (expected["style"] == "smoke") != ("repeating-linear-gradient" in stripes):
                problems.append(f"{where} the banner of a {expected['style']} page has background {stripes!r}")
            for target in pages[:4] + [x.html for x in lessons]:
                if page.locator(f'nav.md-nav--primary a[href$="{target}"]').count() == 0:
                    problems.append(f"{where} the navigation has no link to {target}")
            if lesson:
                for key, url in (("colab", lesson.colab_url), ("source", lesson.source_url)):
                    link = page.locator(f'a[data-site-link="{key}"]')
                    if link.count() != 1 or link.get_attribute("href") != url or not link.is_visible():
                        problems.append(f"{where} no visible {key} link to {url}")
                    elif link.locator("svg").count() != 1:
                        problems.append(f"{where} the {key} button has no icon")
                status = page.locator(".lesson-run").get_attribute("data-status")
                if status != lesson.status:
                    problems.append(f"{where} the page says {status!r}, the run {lesson.status!r}")
                images = page.locator(".jupyter-wrapper .jp-OutputArea-output img")
                expected_images = site.figures(json.loads((src / name.replace(".html", ".ipynb")).read_text()))
                if images.count() != expected_images:
                    problems.append(f"{where} {images.count()} output images shown, the notebook has {expected_images}")
                if name == lesson.html and lesson.status == "completed" and not expected_images:
                    problems.append(f"{where} a lesson that ran to the end shows no figure at all")
                if lesson.status == "failed" and name == lesson.html:
                    if not page.locator(".admonition.failure").is_visible() or not page.locator("#papermill-error-cell").count():
                        problems.append(f"{where} the lesson failed, but the page does not say so and show where")
                if page.locator(".lesson-run mjx-container, #course-run mjx-container").count():
                    problems.append(f"{where} MathJax typeset the run facts as a formula")
                if _formulas(src / name.replace(".html", ".ipynb")) and not page.locator("mjx-container").count():
                    problems.append(f"{where} has formulas but MathJax rendered none")
                notes = page.locator("details.maintainers")
                if notes.count() and (notes.get_attribute("open") is not None
                                      or notes.evaluate("d => d.nextElementSibling !== null && !!d.closest('.jp-Cell')"
                                                        " && d.closest('.jp-Cell').nextElementSibling !== null")):
                    problems.append(f"{where} the maintainers' notes are open or not at the end")
            if name == "index.html":
                cards = page.locator(".course-map .map-card")
                if [cards.nth(i).get_attribute("data-stem") for i in range(cards.count())] != STEMS:
                    problems.append(f"{where} the course map does not list the six lessons in order")
                for i, x in enumerate(lessons):
                    card = cards.nth(i)
                    title = card.locator(".map-title a").inner_text().strip()
                    if title != x.title or not card.locator(".map-title a").is_visible():
                        problems.append(f"{where} card {x.number} is titled {title!r}, the lesson {x.title!r}")
                    facts = {k: card.locator(f'dd[data-map="{k}"]').inner_text() for k in ("result", "cpu", "gpu")}
                    if facts["result"] != site.result_words(x):
                        problems.append(f"{where} card {x.number} shows the result {facts['result']!r}")
                    for key in ("cpu", "gpu"):
                        if not re.fullmatch(r"\d+ (s|min)( \(\w+\))?|\d+ h \d\d min|not measured yet|no GPU needed", facts[key]):
                            problems.append(f"{where} card {x.number}'s {key} time is not a short figure: {facts[key]!r}")
                    if x.real and not re.fullmatch(r"\d+ (s|min)|\d+ h \d\d min", facts["cpu"]):
                        problems.append(f"{where} card {x.number} ran in full on a CPU but shows {facts['cpu']!r}")
                if full.stem not in page.locator(".md-content").inner_text() and full.number not in page.locator(
                        ".md-content").inner_text():
                    problems.append(f"{where} the statement of what the pages show names no lesson")
            if name in (full.html, smoke_lesson.html, f"{solutions.stem}_solutions.html"):
                page.set_viewport_size(site.SCREEN_SIZES["phone"])
                page.wait_for_timeout(200)
                wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                if wide > 1:
                    problems.append(f"{where} a phone must scroll sideways by {wide} px to read it")
                page.screenshot(path=str(SCREENSHOTS / name.replace(".html", "-phone.png")))
                page.set_viewport_size({"width": 1280, "height": 900})
            whole_page_checks(where, name)
            page.evaluate("window.scrollTo(0, 0)")  # else the sticky header and sidebar show up mid-page
            page.wait_for_timeout(300)
            page.screenshot(path=str(SCREENSHOTS / name.replace(".html", "-full.jpg")), full_page=True, quality=60)
            problems += [f"{where} {m}" for m in messages]
            problems += [f"{where} asked for {url} (outside this site)" for url in outside]

        # The 404 page, as a static host serves it for a missing address deep in the site.
        messages.clear()
        response = page.goto(f"{base}no/such/lesson.html", wait_until="networkidle")
        if response.status != 404 or "Page not found" not in page.locator("h1").first.inner_text():
            problems.append(f"404: a missing address gets HTTP {response.status}, not the 404 page")
        home_link = page.locator('a[data-404="home"]')
        if home_link.get_attribute("href") and not page.request.get(home_link.evaluate("a => a.href")).ok:
            problems.append("404: its link to the home page is broken")
        whole_page_checks("404.html (at no/such/lesson.html):", "404.html")
        if page.evaluate("() => getComputedStyle(document.querySelector('.md-header')).position") not in ("sticky", "fixed"):
            problems.append("404: the site's stylesheet did not load")
        # the page's own 404 is what the host answers (the browser logs it once); any other 404 is a broken part
        missing = [m for m in messages if m.startswith("HTTP 404")]
        logged = [m for m in messages if m == "console error: Failed to load resource: the server responded with a "
                                              "status of 404 (Not Found)"]
        if missing != [f"HTTP 404: {base}no/such/lesson.html"] or len(logged) != 1:
            problems.append(f"404: parts of the page are missing: {missing}")
        problems += [f"404: {m}" for m in messages if m not in missing + logged]
        page.screenshot(path=str(SCREENSHOTS / "404.png"))
        browser.close()
    browse_seconds = time.perf_counter() - started
    print(f"\nsite: {len(pages) + 1} pages, built in {build_seconds:.1f} s, read in Chromium in {browse_seconds:.1f} s, "
          f"{len(checked_links)} links followed; screenshots in {SCREENSHOTS}/")
    assert {base + name for name in pages} <= set(checked_links), "every page is linked, and its links were followed"
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_screenshots_command_writes_small_pngs_of_each_kind_of_page(build, tmp_path):
    """`python -m course site --screenshots DIR`: home, a full lesson, a smoke lesson, a solutions page, at a
    desktop and a phone width (what docs/screenshots/ holds)."""
    _chromium_or_skip()
    from PIL import Image

    _write_run(build, mode="full", skip=STEMS[1:], special={STEMS[0]: {"solutions": True}}, folder=build / runner.FULL_COPIES)
    _write_run(build, mode="full", skip=STEMS[1:], special={STEMS[0]: {"solutions": True}})
    _write_run(build, mode="smoke", skip=STEMS[:1])
    from course.__main__ import main

    assert main(["site", "--screenshots", str(tmp_path / "shots")]) == 0
    shots = {p.name: p for p in (tmp_path / "shots").glob("*.png")}
    assert set(shots) == {f"{kind}-{size}.png" for kind in ("home", "lesson-full", "lesson-smoke", "solutions")
                          for size in site.SCREEN_SIZES}
    for name, path in shots.items():
        width = Image.open(path).size[0]
        assert width == (1280 if name.endswith("desktop.png") else 2 * 390), name
        assert path.stat().st_size < 400_000, name


# --- JupyterLab --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_jupyterlab_opens_and_saves_every_lesson_without_changing_it(tmp_path):
    """Open each lesson in JupyterLab, let it connect to its kernel, save it unedited: JupyterLab marks nothing as
    changed and the file stays byte for byte the same (git sees no change). Found this way: with the display
    name "Python 3" a lesson opened as changed, and saving wrote the kernel's name and full language_info."""
    chromium = _chromium_or_skip()
    import platform

    from playwright.sync_api import sync_playwright

    lessons = runner.notebooks()
    if platform.python_version() != json.loads(lessons[0].read_text())["metadata"]["language_info"]["version"]:
        pytest.skip(f"the lessons carry the reference Python's language_info; this is Python {platform.python_version()}, "
                    "whose version JupyterLab would write")
    work = tmp_path / "lab"
    work.mkdir()
    for lesson in lessons:
        shutil.copy(lesson, work / lesson.name)
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    env.pop("MPLBACKEND", None)
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                               "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=course-test", "--allow-root",
                               f"--ServerApp.root_dir={work}", "--LabApp.news_url=",
                               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    problems = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=site.CHROMIUM_ARGS)
            for lesson in lessons:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                # offline, as the tests are: a lesson's web images (its Colab badges) fail, nothing else may
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort())
                page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 500 else None)
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{lesson.name}?token=course-test&reset")
                page.wait_for_selector(".jp-Notebook", timeout=90_000)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
                page.wait_for_timeout(3000)  # kernel info and spec arrive, and are written into the model
                tab = page.locator(f"li[data-type='document-title'][title^='Name: {lesson.name}']")
                if "jp-mod-dirty" in (tab.get_attribute("class") or ""):
                    problems.append(f"{lesson.name}: JupyterLab marks it as changed right after opening it")
                saves = log_path.read_text().count(f"Saving file at /{lesson.name}")
                page.locator(".jp-Notebook").first.click()
                page.keyboard.press("Control+s")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and log_path.read_text().count(f"Saving file at /{lesson.name}") == saves:
                    time.sleep(0.5)
                page.wait_for_timeout(1000)
                if log_path.read_text().count(f"Saving file at /{lesson.name}") == saves:
                    problems.append(f"{lesson.name}: JupyterLab did not save it")
                api = f"http://127.0.0.1:{port}/api/sessions"
                for session in page.request.get(f"{api}?token=course-test").json():  # one kernel at a time
                    page.request.delete(f"{api}/{session['id']}?token=course-test")
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    for lesson in lessons:
        if (work / lesson.name).read_bytes() != lesson.read_bytes():
            diff = subprocess.run(["diff", "-u", str(lesson), str(work / lesson.name)], capture_output=True, text=True)
            problems.append(f"{lesson.name}: saving it unedited changed it:\n{diff.stdout[:2000]}")
    # the server's own errors: an HTTP 5xx it answered ("] 500 GET /api/..."), a traceback
    problems += [line for line in log_path.read_text().splitlines() if re.search(r"\] 5\d\d [A-Z]+ /|Traceback", line)]
    assert not problems, "\n".join(problems)


# --- a command deletes nothing it did not make (held-back cause 1) ---------------------------------------------


@pytest.mark.parametrize("make", [
    lambda out: (out / "notes.md").write_text("my notes"),                        # a folder in use
    lambda out: ((out / "docs").mkdir(), (out / "docs" / "index.md").write_text("mine")),  # someone's docs/
    lambda out: (out / ".hidden").write_text("x"),                               # only a hidden file
])
def test_the_site_is_never_built_over_a_folder_it_did_not_make(build, tmp_path, capsys, make):
    from course.__main__ import main

    _write_run(build)
    out = tmp_path / "theirs"
    out.mkdir()
    make(out)
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert main(["site", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out} already holds files the course did not make") and "Traceback" not in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before, "nothing of theirs was touched"


def test_the_current_folder_is_refused_as_the_output(build, tmp_path, monkeypatch, capsys):
    from course.__main__ import main

    _write_run(build)
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("months of work")
    monkeypatch.chdir(work)
    assert main(["site", "--out", "."]) == 2 and (work / "thesis.tex").read_text() == "months of work"
    assert "already holds files the course did not make" in capsys.readouterr().err


def test_a_new_or_empty_folder_is_used_its_own_site_replaced_and_a_failed_rebuild_keeps_it(build, tmp_path,
                                                                                          monkeypatch):
    _write_run(build)
    out = tmp_path / "published"
    out.mkdir()  # an empty folder is the site's to fill
    assert site.build(out=out) == out and (out / "index.html").exists()
    (out / "stale.html").write_text("from an older build")
    site.build(out=out)  # its own earlier build: replaced whole
    assert (out / "index.html").exists() and not (out / "stale.html").exists()
    pages = sorted(p.name for p in out.iterdir())
    for stop in (RuntimeError("mkdocs broke"), KeyboardInterrupt()):
        def broken(config_file, stop=stop):
            (Path(str(config_file)).parent / "half-written").write_text("x")
            raise stop

        monkeypatch.setattr(site, "_mkdocs", broken)
        with pytest.raises(type(stop)):
            site.build(out=out)
        assert sorted(p.name for p in out.iterdir()) == pages, "the previous site is whole"
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".published")] == [], "no staging left"


def test_ctrl_c_while_building_the_site_is_one_line_and_exit_130(build, monkeypatch, capsys):
    from course.__main__ import main

    _write_run(build)

    def interrupted(config_file):
        raise KeyboardInterrupt

    monkeypatch.setattr(site, "_mkdocs", interrupted)
    assert main(["site"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().startswith("Stopped (Ctrl-C).")


def test_an_unreadable_executed_copy_is_shown_as_not_run(build, capsys):
    _write_run(build)
    (build / f"{STEMS[1]}.ipynb").write_text('{"cells": [')  # cut short by a full disk
    out = site.build()
    assert f"{STEMS[1]}.ipynb cannot be read" in capsys.readouterr().out and (out / "index.html").exists()


@pytest.mark.parametrize("ename, status", [("StopRunAll", "completed"), ("ValueError", "failed")])
def test_a_full_run_that_stopped_at_the_solutions_guard_completed(ename, status):
    """Full runs end at `lesson.stop_run_all()` (papermill records its StopRunAll as the run's exception): the
    lesson ran to its end. Any other exception is a failure."""
    nb = {"metadata": {"papermill": {"exception": True, "duration": 12.0}},
          "cells": [{"cell_type": "code", "metadata": {"papermill": {"status": "completed"}},
                     "outputs": [{"output_type": "error", "ename": ename, "evalue": "x", "traceback": []}]}]}
    assert site.run_facts(nb).status == status


def test_a_record_written_meanwhile_by_a_run_in_the_other_mode_is_not_this_runs(course_env):
    """Two runners at once in one build folder (a smoke run while a full run ends): the full lesson's page keeps
    its own numbers, not the smoke run's that landed in build/metrics/ a few seconds later."""
    from datetime import datetime

    start = datetime.now(UTC)
    run = site.RunFacts(mode="full", started=start, seconds=30.0)
    path = site.metrics_path(STEMS[3])
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"notebook": STEMS[3], "mode": "smoke", "metrics": {"test_accuracy": 0.5}}))
    full = {"notebook": STEMS[3], "mode": "full", "metrics": {"test_accuracy": 0.86},
            "saved": (start.astimezone()).strftime("%Y-%m-%d %H:%M:%S")}
    record, _ = site._own_record(STEMS[3], run, [full])
    assert record["metrics"] == {"test_accuracy": 0.86}
    path.write_text(json.dumps({"notebook": STEMS[3], "mode": "full", "metrics": {"test_accuracy": 0.87}}))
    assert site._own_record(STEMS[3], run, [full])[0]["metrics"] == {"test_accuracy": 0.87}
