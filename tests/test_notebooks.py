"""Every numbered notebook follows the course template and is stored clean.

(nbval executes the notebooks themselves; these checks are about their shape.)
"""

import json
import re

import pytest

from utils import env, runner

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
    assert f"colab.research.google.com/github/{env.REPO_SLUG}/blob/main/notebooks/{path.name}" in text
    assert f"github.com/{env.REPO_SLUG}/blob/main/notebooks/{path.name}" in text
    for heading in ("## Overview", "## Setup", "## Parameters", "## What changed from the original tutorial",
                    "## Exercises"):
        assert re.search(rf"^{re.escape(heading)}", text, re.M), f"missing section {heading!r}"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_is_the_shared_one(path):
    setup = _setup_cell(_load(path))
    assert setup == _setup_cell(_load(NOTEBOOKS[-1])), "every notebook opens with the same setup cell"
    assert f'REPO = "https://github.com/{env.REPO_SLUG}"' in setup
    assert "utils.setup()" in setup


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_has_a_parameters_cell_with_smoke_sizes(path):
    tagged = [c for c in _load(path)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters` (papermill injects overrides after it)"
    assert "utils.is_smoke()" in _source(tagged[0]), "smoke sizes are chosen in the parameters cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_records_its_results_under_its_own_name(path):
    code = "\n".join(_source(c) for c in _load(path)["cells"] if c["cell_type"] == "code")
    assert re.search(rf'utils\.record_results\(\s*"{path.stem}"', code)
