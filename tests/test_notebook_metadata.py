"""What every lesson file carries at its top level, so that JupyterLab and Colab open it without changing it.

Found by opening the lessons in JupyterLab 4 (headless Chromium, see `test_jupyterlab_saves_a_lesson_unchanged`
in tests/test_site.py): on connecting to its kernel, JupyterLab writes the kernel's own `kernelspec` (display
name "Python 3 (ipykernel)", as ipykernel installs it) and marks the notebook changed when it differs, and it
writes the kernel's full `language_info` when the notebook is saved. A lesson that already carries both, in
the exact form JupyterLab writes files (`nbformat.writes`: one-space indentation, keys sorted, a final
newline), is saved byte for byte as it was. `language_info.version` is the Python of the course's reference
environment: saved from another Python, that one line changes.

Colab reads `accelerator` (and `colab.gpuType`) to offer a GPU runtime: only the lessons that gain from one ask.
"""

import json

import nbformat
import pytest

from course import runner

LESSONS = runner.notebooks()
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
REFERENCE_PYTHON = "3.11.7"
LANGUAGE_INFO = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                 "pygments_lexer": "ipython3", "version": REFERENCE_PYTHON}
#: Lessons that train convolutional or pretrained networks: a GPU saves learners real time. 01 trains a small
#: dense network, 03 measures a CPU input pipeline: Colab's CPU runtime serves both as well.
GPU_LESSONS = {"02", "04", "05", "06"}


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_kernel_metadata_is_what_jupyterlab_writes(path):
    meta = json.loads(path.read_text())["metadata"]
    assert meta["kernelspec"] == KERNELSPEC
    assert meta["language_info"] == LANGUAGE_INFO


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_file_is_in_the_form_jupyterlab_saves(path):
    """Byte for byte what Jupyter's contents manager writes for this notebook (nbformat 4.5)."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert text == nbformat.writes(nb) + "\n", f"rewrite it: python -c \"import nbformat as n; p='{path}'; " \
                                               "open(p,'w').write(n.writes(n.read(p, 4)) + '\\n')\""


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_colab_asks_for_a_gpu_only_where_it_helps(path):
    meta = json.loads(path.read_text())["metadata"]
    if path.name[:2] in GPU_LESSONS:
        assert meta.get("accelerator") == "GPU"
        assert meta["colab"].get("gpuType") == "T4", "Colab's free GPU"
    else:
        assert "accelerator" not in meta and "gpuType" not in meta.get("colab", {})


def test_the_gpu_lessons_are_lessons():
    assert GPU_LESSONS <= {p.name[:2] for p in LESSONS}
