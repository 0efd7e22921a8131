"""Every numbered notebook follows the course template and is stored clean.

(nbval executes the notebooks themselves; these checks are about their shape.)
"""

import json
import re

import pytest

from course import paths, runner

NOTEBOOKS = runner.notebooks()
EXPECTED = [
    "01_mnist_dense",
    "02_fashion_mnist_cnns",
    "03_image_augmentation",
    "04_hotdog_fine_tuning",
    "05_grocery_retrain",
    "06_hub_transfer_learning",
]


def _load(path):
    return json.loads(path.read_text())


def _source(cell):
    return "".join(cell["source"])


def _setup_cell(nb):
    return next(_source(c) for c in nb["cells"] if c["cell_type"] == "code")


def test_only_course_notebooks_are_numbered():
    assert NOTEBOOKS, "no notebooks found"
    assert set(p.stem for p in NOTEBOOKS) <= set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    nb = _load(path)
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
    assert not dirty, f"cells {dirty} carry outputs: run `nbstripout {path}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_follows_the_template(path):
    nb = _load(path)
    cells = nb["cells"]
    text = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert _source(cells[0]).startswith("# "), "first cell: the title as the only H1"
    assert f"colab.research.google.com/github/{paths.REPO_SLUG}/blob/main/notebooks/{path.name}" in text
    assert f"github.com/{paths.REPO_SLUG}/blob/main/notebooks/{path.name}" in text
    for heading in ("## Overview", "## Setup", "## Parameters", "## What changed from the original tutorial",
                    "## Exercises"):
        assert re.search(rf"^{re.escape(heading)}", text, re.M), f"missing section {heading!r}"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_is_the_shared_one(path):
    setup = _setup_cell(_load(path))
    assert setup == _setup_cell(_load(NOTEBOOKS[-1])), "every notebook opens with the same setup cell"
    assert f'REPO = "https://github.com/{paths.REPO_SLUG}"' in setup
    assert "utils.setup()" in setup


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_has_one_parameters_cell_with_the_learners_values(path):
    tagged = [c for c in _load(path)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters` (papermill injects overrides after it)"
    assert not re.search(r"SMOKE|is_smoke|test_run", _source(tagged[0])), \
        "the test runs' sizes live in course/params.py (SMOKE), not in the learner's parameters cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_says_which_lesson_it_is_and_records_its_results_once(path):
    nb = _load(path)
    assert nb["metadata"]["course"] == {"lesson": path.stem}, "the runner recognises lessons by this metadata"
    code = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")
    assert len(re.findall(rf'lesson = utils\.start\("{path.stem}", globals\(\)\)', code)) == 1
    assert len(re.findall(r"(?<![\w.])lesson\.record\(", code)) == 1, "one line records the results"


def _h2_sections(nb):
    """(heading, markdown text) of every `## ` section, in order; text runs to the next H2."""
    sections = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in _source(cell).splitlines(keepends=True):
            if line.startswith("## "):
                sections.append([line.strip(), ""])
            elif sections:
                sections[-1][1] += line
        if sections:
            sections[-1][1] += "\n"
    return sections


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ends_with_what_changed_summary_exercises_solutions(path):
    headings = [h for h, _ in _h2_sections(_load(path))]
    assert headings[-4:] == ["## What changed from the original tutorial", "## Summary", "## Exercises",
                             "## Solutions"], headings


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_hint_and_a_solution(path):
    nb = _load(path)
    sections = dict(_h2_sections(nb))
    exercises = sections.get("## Exercises", "")
    numbers = [int(n) for n in re.findall(r"^(\d+)\. \*\*", exercises, re.M)]
    assert numbers and numbers == list(range(1, len(numbers) + 1)), f"exercises numbered 1..n: {numbers}"
    # each exercise is followed by its own hint, before the next exercise
    blocks = re.split(r"^\d+\. \*\*", exercises, flags=re.M)[1:]
    unhinted = [n for n, block in zip(numbers, blocks) if "<details><summary>Hint</summary>" not in block]
    assert not unhinted, f"exercises without a <details> hint: {unhinted}"
    solved = set()
    solutions = sections.get("## Solutions", "")
    for first, second in re.findall(r"^### Solutions? (\d+)(?: and (\d+))?: \S", solutions, re.M):
        solved |= {int(first)} | ({int(second)} if second else set())
    assert solved == set(numbers), f"`### Solution N: title` headings for exercises {set(numbers) - solved}"


def _code_cells(nb):
    return [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_checked_in_the_next_cell(path):
    cells = _load(path)["cells"]
    (index,) = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    following = next(_source(c) for c in cells[index + 1:] if c["cell_type"] == "code")
    assert following.startswith(f'lesson = utils.start("{path.stem}", globals())'), \
        "papermill's injected values are checked at once"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_plumbing_or_bit_exact_checks_in_the_lesson(path):
    code = "\n".join(_code_cells(_load(path)))
    for pattern, why in [
        (r"\bRUN_EAGERLY\b", "utils.setup() runs functions eagerly in smoke mode"),
        (r"strategy\.scope\(", "the lessons build models without a distribution strategy"),
    ]:
        assert not re.search(pattern, code), f"{pattern}: {why}"
    # a reloaded or converted model computes in another order (GPU kernels, mixed precision, TFLite):
    # its outputs are compared with tolerances, never bit for bit (equal seeds or frozen statistics may be)
    exact = [line.strip() for line in code.splitlines()
             if re.search(r"array_equal\(|agreement\s*==\s*1", line)
             and re.search(r"predict|reload|interpreter|tflite|agreement", line, re.I)]
    assert not exact, f"bit-exact comparison of a model's outputs: {exact}"


def _title(path):
    return _source(_load(path)["cells"][0]).splitlines()[0].removeprefix("# ").strip()


def test_the_readme_names_each_lesson_by_its_title():
    readme = (paths.REPO_ROOT / "README.md").read_text()
    linked = {stem: title for title, stem in re.findall(r"\[([^\]]+)\]\(notebooks/(\d\d_\w+)\.ipynb\)", readme)}
    titles = {p.stem: _title(p) for p in NOTEBOOKS}
    assert linked == titles, "the README's lesson table should use each notebook's H1 as its link text"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_image_from_the_web_in_the_lesson(path):
    """Offline (local Jupyter, the site) a web image is a broken icon: the Colab and GitHub links are text."""
    text = "\n".join(_source(c) for c in _load(path)["cells"] if c["cell_type"] == "markdown")
    assert not re.search(r"<img[^>]+src=[\"']https?:|!\[[^\]]*\]\(https?:", text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_lesson_calls_few_utils_names_and_never_the_courses_machinery(path):
    """What a lesson is about is written in it: `utils` only finds things (at most 8 names per lesson), and the
    course's machinery (`course`: runner, site, checks) is never imported by a lesson."""
    code = "\n".join(_code_cells(_load(path)))
    names = set(re.findall(r"(?<![\w.])utils\.(\w+)", code))
    assert len(names) <= 8, f"{len(names)} utils names: {sorted(names)}"
    assert not re.search(r"^\s*(from|import)\s+course\b", code, re.M)
