"""The course website (`python -m course site`): built offline, and read in a real browser.

The first tests build the site from small executed notebooks written here (no TensorFlow, a few seconds
each). The slow test runs every lesson in smoke mode, builds the site from that run and opens every page
in headless Chromium (Debian's `chromium`, driven by Playwright): no console errors, no request that
leaves the machine, every output image shown, the navigation, the Colab and source links and the run
banner present. It saves screenshots into `build/site-screenshots/`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import io
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from course import paths, runner, site

STEMS = [p.stem for p in runner.notebooks()]
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium as root, in a closed network: the flags that keep it from calling home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = paths.REPO_ROOT / "build" / "site-screenshots"


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


def _executed(stem, mode="smoke", error=None, solutions=False, offline=True, start="2026-11-20T10:00:00+00:00"):
    """An executed notebook shaped like the course template, as papermill leaves it in build/."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    title = f"Lesson {stem}: a subtitle"
    cells = [
        new_markdown_cell(f"# {title}\n\n<table><td><a href=\"https://colab.research.google.com/x\"><img "
                          f"src=\"https://www.tensorflow.org/images/colab_logo_32px.png\" />Run in Google Colab</a></td></table>"),
        new_markdown_cell("## Overview\n\nWhat this lesson is; try [the exercises](#Exercises-for-you).\n\n**You will learn to**\n- read a plot;\n"
                          "- write a model\n  over two lines.\n\n**Prerequisites**: none.\n\n"
                          "**Runtime**: about 2 minutes on a 2-core CPU, 20 s on a GPU."),
        new_code_cell("utils.setup()", outputs=[
            new_output("stream", name="stderr", text="WARNING: All log messages before absl::InitializeLog() is called "
                       "are written to STDERR\nI0000 00:00:1795938687.184445    7842 port.cc:153] oneDNN custom "
                       "operations are on.\n"),
            new_output("stream", name="stdout", text="Python 3.11.7 | TensorFlow 2.21.0 | Keras 3.15.1 (local)\n"
                       "Device: CPU only (2 cores) | float32, no XLA (both pay off only on a GPU)\n"
                       f"Mode: {mode.upper()}" + (" (tiny subsets)" if mode == "smoke" else "")
                       + (" | offline" if offline else "") + "\nData: mirror=/m, cache=/c\n"),
            new_output("stream", name="stderr", text="/x.py:74: UserWarning: a real warning\n"),
        ]),
        new_markdown_cell("## 1. A plot with `plot()`\n\nThe rule: $y = a x^2$."),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"})]),
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
    cells.append(new_code_cell(f'utils.record_results("{stem}", accuracy=0.5)'))
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "papermill": {"start_time": start, "end_time": start, "duration": 12.5, "exception": bool(error),
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


def _write_run(build, mode="smoke", skip=(), special=None):
    special = special or {}
    records = []
    for stem in STEMS:
        if stem in skip:
            continue
        (build / f"{stem}.ipynb").write_text(_executed(stem, mode=mode, **special.get(stem, {})))
        records.append({"notebook": stem, "mode": mode, "data": f"{stem}data: real, mirror $COURSE_DATA_DIR/x",
                        "metrics": {"accuracy": 0.5}, "seconds": 13.0})
    (build / "results.json").write_text(json.dumps(records))


def _page(out, name):
    return (out / name).read_text()


# --- the site, built from small notebooks ---------------------------------------------------------------------------


def test_smoke_site_has_every_page_a_warning_banner_and_no_web_resources(build):
    first, last = STEMS[0], STEMS[-1]
    _write_run(build, special={first: {"solutions": True}, last: {"error": "no weights offline"}})
    with no_network() as attempts:
        out = site.build()
    assert attempts == []

    pages = {p.name for p in out.glob("*.html")}
    assert {"index.html", "data.html", "workshop.html", f"{first}_solutions.html"} | {f"{s}.html" for s in STEMS} <= pages
    for name in pages - {"404.html"}:
        text = _page(out, name)
        assert 'id="course-run"' in text and 'data-run-mode="smoke"' in text and "SMOKE RUN" in text, name
        assert "course-run--smoke" in text, name
        # Nothing a reader's browser would fetch from the web: scripts, styles, images, fonts.
        assert not re.findall(r"""<(?:script|img|link|source|iframe)\b[^>]*(?:src|href)=["']?(?:https?:)?//""", text), name

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
    assert "stopped with an error" in failed and "no weights offline" in failed
    assert 'id="papermill-error-cell"' in failed and "An Exception was encountered" not in failed

    home = _page(out, "index.html")
    assert "about 2 minutes on a 2-core CPU, 20 s on a GPU" in home  # the lesson's own Runtime line
    assert "write a model over two lines." in home  # its "You will learn to" list
    assert f"{first}_solutions.html" in home and f"{first}.html" in home
    assert "The runs shown on this site" in home


def test_full_site_is_labelled_full_only_when_every_lesson_ran_in_full_mode(build):
    _write_run(build, mode="full")
    out = site.build()
    text = _page(out, "index.html")
    assert 'data-run-mode="full"' in text and "course-run--full" in text and "Full run of 2026-11-20" in text
    assert "Not real results" not in _page(out, f"{STEMS[0]}.html")

    (build / f"{STEMS[1]}.ipynb").write_text(_executed(STEMS[1], mode="smoke"))
    text = _page(site.build(), "index.html")
    assert "course-run--smoke" in text and "MIXED RUN" in text


def test_full_builds_from_the_kept_full_runs_after_a_later_smoke_run(build):
    """`python -m course site --full` shows the last good full runs (build/full/), also when a smoke run
    (pytest, a quick check) has since replaced build/NN.ipynb."""
    with pytest.raises(site.SiteError, match="python -m course run --full"):
        site.build(full=True)
    _write_run(build, mode="full")
    kept = build / runner.FULL_COPIES
    kept.mkdir()
    for stem in STEMS:
        (kept / f"{stem}.ipynb").write_text((build / f"{stem}.ipynb").read_text())
    _write_run(build, mode="smoke")  # the latest attempts are smoke runs now
    assert "course-run--smoke" in _page(site.build(), "index.html")
    text = _page(site.build(full=True), "index.html")
    assert 'data-run-mode="full"' in text and "MIXED RUN" not in text


def test_a_lesson_whose_mode_cannot_be_told_is_never_shown_as_full(build):
    _write_run(build, mode="full")
    nb = json.loads(_executed(STEMS[0], mode="full"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout":
                out["text"] = "no banner here\n"
    (build / f"{STEMS[0]}.ipynb").write_text(json.dumps(nb))
    lessons, _ = site.collect()
    assert lessons[0].mode == "unknown"
    run = site.run_summary(lessons)
    assert run["style"] == "smoke" and "not real results" in run["headline"] and "Full run" not in run["headline"]


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
    assert "course-run--smoke" in text and f"not run: {STEMS[2][:2]}" in text
    assert "not run: no outputs" in _page(out, f"{STEMS[2]}.html")


def test_page_markers_are_all_known():
    parts = {"run": "R", "course-map": "M", "results": "T", "per-lesson": "P"}
    for name in ("index.md", "workshop.md"):
        text = (site.DOCS_DIR / name).read_text()
        assert "<!-- site:" in text
        assert "<!-- site:" not in site.fill(text, parts, name)
    with pytest.raises(site.SiteError, match="unknown marker"):
        site.fill("<!-- site:nope -->", parts, "x.md")


def test_data_sources_are_classified():
    kinds = site.data_kinds("mnist: real, mirror $COURSE_DATA_DIR/mnist (1 train); hotdog: STAND-IN (digits); "
                            "imagenet:resnet50: RANDOM weights (stand-in: none offline); grocery: real, downloaded to /c; "
                            "flowers: real, cache /c/flowers")
    assert kinds == {"mnist": "mirror", "hotdog": "stand-in", "imagenet:resnet50": "stand-in", "grocery": "downloaded",
                     "flowers": "cache"}


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


def test_a_network_fallback_is_not_read_as_a_download_or_a_mirror():
    """A fallback's reason has '; ' and the words 'mirror' and 'download' in it: it named a phantom
    'COURSE_OFFLINE=1' source 'downloaded' in the banner of an offline run that downloaded nothing."""
    description = ("choice:efficientnetv2-b0-21k-ft1k: mobilenet_025 instead: efficientnetv2-b0-21k-ft1k cannot be "
                   "loaded (it cannot be downloaded (COURSE_OFFLINE=1)); choice:mobilenet_025:top: mobilenet_100 "
                   "instead: mobilenet_025's weights cannot be had (not in the mirror or Keras' cache; "
                   "COURSE_OFFLINE=1: no download tried); hotdog: real, mirror $COURSE_DATA_DIR/hotdog; "
                   "imagenet:mobilenet_100:top: ImageNet weights with its ImageNet top, mirror $COURSE_DATA_DIR/x.h5")
    assert site.data_kinds(description) == {
        "efficientnetv2-b0-21k-ft1k → mobilenet_025": "fallback", "mobilenet_025 → mobilenet_100": "fallback",
        "hotdog": "mirror", "imagenet:mobilenet_100:top": "mirror"}


# --- in a real browser -----------------------------------------------------------------------------------------


def _chromium_or_skip():
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":  # set by .ci/run: CI must never skip this test
        pytest.fail(f"no Chromium at {CHROMIUM}, and COURSE_REQUIRE_BROWSER=1 (CI): apt-get install chromium")
    pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian) to run the browser test")


@contextlib.contextmanager
def serve(folder: Path):
    """The site over HTTP on 127.0.0.1 (a free port), as a reader would get it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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
    folder to use instead (quicker while working on the site, and the way to screenshot a full-mode build)."""
    earlier = os.environ.get("COURSE_SITE_TEST_RUN")
    if earlier:
        for item in Path(earlier).glob("[0-9][0-9]_*.ipynb"):
            shutil.copy(item, build)
        # build/full/ (the kept full runs) has no results.json of its own: it is in the build folder above
        records = next(p for p in (Path(earlier), Path(earlier).parent) if (p / "results.json").exists())
        shutil.copy(records / "results.json", build)
        if (Path(earlier) / "metrics").is_dir():
            shutil.copytree(Path(earlier) / "metrics", build / "metrics")
        return False
    # conftest.py sets MPLBACKEND=Agg for the test suite; kernels that inherit it draw no figures at all.
    run_env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run([sys.executable, "-m", "course", "run"], cwd=paths.REPO_ROOT, capture_output=True, text=True,
                          env={**run_env, "COURSE_BUILD_DIR": str(build), "COURSE_SMOKE": "1"}, timeout=1500)
    assert list(build.glob("[0-9][0-9]_*.ipynb")), f"`python -m course run` left no notebooks:\n{proc.stdout[-3000:]}"
    return True


@pytest.mark.slow
def test_every_page_reads_in_chromium_from_a_smoke_run(build):
    chromium = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    smoke = _smoke_run(build)
    started = time.perf_counter()
    with no_network() as attempts:
        out = site.build()
    build_seconds = time.perf_counter() - started
    assert attempts == [], f"the site build reached for the network: {attempts}"
    lessons, _ = site.collect()
    run = site.run_summary(lessons)
    if smoke:
        assert run["mode"] == "smoke" and run["style"] == "smoke", run
    src = build / "site-src" / "docs"
    pages = ["index.html", "data.html", "workshop.html"]
    for lesson in lessons:
        pages.append(f"{lesson.stem}.html")
        if (src / lesson.solutions_page).exists():
            pages.append(f"{lesson.stem}_solutions.html")

    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    problems: list[str] = []
    started = time.perf_counter()
    with serve(out) as base, sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        browser = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
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
        for name in pages:
            messages.clear()
            outside.clear()
            page.goto(f"{base}/{name}", wait_until="load")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SCREENSHOTS / name.replace(".html", ".png")))
            where = f"{name}:"
            banner = page.locator("#course-run")
            if not banner.is_visible() or run["headline"] not in " ".join(banner.inner_text().split()):
                problems.append(f"{where} no visible banner saying {run['headline']!r}")
            if smoke and "SMOKE RUN" not in banner.inner_text():
                problems.append(f"{where} the banner does not say SMOKE RUN")
            stripes = page.evaluate("() => getComputedStyle(document.querySelector('.md-banner')).backgroundImage")
            if (run["style"] == "smoke") != ("repeating-linear-gradient" in stripes):
                problems.append(f"{where} the banner of a {run['style']} build has background {stripes!r}")
            for target in pages[:3] + [f"{x.stem}.html" for x in lessons]:
                if page.locator(f'nav.md-nav--primary a[href$="{target}"]').count() == 0:
                    problems.append(f"{where} the navigation has no link to {target}")
            dangling = page.evaluate("""() => [...document.querySelectorAll('nav a.md-nav__link[href^="#"], article a[href^="#"]')]
                .map(a => a.getAttribute('href')).filter(h => h.length > 1 && !document.getElementById(h.slice(1)))""")
            if dangling:
                problems.append(f"{where} links within the page that lead nowhere: {sorted(set(dangling))}")
            stem = name.removesuffix(".html").removesuffix("_solutions")
            if stem in STEMS:
                for key, url in (("colab", f"https://colab.research.google.com/github/{paths.REPO_SLUG}/blob/main/notebooks/"
                                           f"{stem}.ipynb"),
                                 ("source", f"https://github.com/{paths.REPO_SLUG}/blob/main/notebooks/{stem}.ipynb")):
                    link = page.locator(f'a[data-site-link="{key}"]')
                    if link.count() != 1 or link.get_attribute("href") != url or not link.is_visible():
                        problems.append(f"{where} no visible {key} link to {url}")
                images = page.locator(".jupyter-wrapper .jp-OutputArea-output img")
                expected = site.figures(json.loads((src / name.replace(".html", ".ipynb")).read_text()))
                if images.count() != expected:
                    problems.append(f"{where} {images.count()} output images shown, the notebook has {expected}")
                lesson = next(x for x in lessons if x.stem == stem)
                if name == f"{stem}.html" and not lesson.error and not expected:
                    problems.append(f"{where} a lesson that ran to the end shows no figure at all")
                for i in range(images.count()):
                    images.nth(i).scroll_into_view_if_needed()
                    if not images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"):
                        problems.append(f"{where} output image {i} does not display")
                if any(x.stem == stem and x.error for x in lessons) and name == f"{stem}.html":
                    if not page.locator(".admonition.failure").is_visible() or not page.locator("#papermill-error-cell").count():
                        problems.append(f"{where} the lesson failed, but the page does not say so and show where")
                if page.locator(".lesson-run mjx-container").count():
                    problems.append(f"{where} MathJax typeset the run facts ($COURSE_DATA_DIR ... $) as a formula")
                if _formulas(src / name.replace(".html", ".ipynb")) and not page.locator("mjx-container").count():
                    problems.append(f"{where} has formulas but MathJax rendered none")
            page.evaluate("window.scrollTo(0, 0)")  # else the sticky header and sidebar show up mid-page
            page.wait_for_timeout(300)
            page.screenshot(path=str(SCREENSHOTS / name.replace(".html", "-full.jpg")), full_page=True, quality=60)
            problems += [f"{where} {m}" for m in messages]
            problems += [f"{where} asked for {url} (outside this site)" for url in outside]
        browser.close()
    browse_seconds = time.perf_counter() - started
    print(f"\nsite: {len(pages)} pages, built in {build_seconds:.1f} s, read in Chromium in {browse_seconds:.1f} s; "
          f"screenshots in {SCREENSHOTS}/")
    assert not problems, "\n".join(problems)
