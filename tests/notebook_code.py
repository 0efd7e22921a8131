"""A lesson's own code in a unit test: the definitions of one code cell, without the cell's demo code."""

import ast
import json
import linecache
import types

from course import paths


def code_cell(notebook: str, marker: str) -> str:
    """The source of the first code cell of `notebooks/<notebook>.ipynb` that contains `marker`."""
    cells = json.loads((paths.REPO_ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code" and marker in "".join(c["source"]))


def _definition(node) -> bool:
    """An import, function or class, or a constant: `NAME = "a literal"` or an f-string."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return True
    return (isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.JoinedStr))
            and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets))


def notebook_functions(notebook: str, marker: str, namespace: dict) -> dict:
    """Run the definitions of the first code cell of `notebook` containing `marker` in `namespace`, which
    supplies the names they read (`tf`, `ROOT`, ...); returns `namespace`."""
    source = code_cell(notebook, marker)
    keep = [node for node in ast.parse(source).body if _definition(node)]
    filename = f"<{notebook}: {marker}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)  # autograph reads it
    namespace.setdefault("lesson", types.SimpleNamespace(seed=42))  # default arguments read lesson.seed
    exec(compile(ast.Module(body=keep, type_ignores=[]), filename, "exec"), namespace)
    return namespace
