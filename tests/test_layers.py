"""The layers stay one-way (docs/design.md): the compiler and the emulated
stick are libraries, the NCSDK commands and the framework references sit
above them, and none of these imports the pipeline or the zoo.

Read from the source with ast, so a lazy import inside a function counts.
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# package -> top-level packages of ours it must not import
FORBIDDEN = {
    "ncsformat": {"compiler", "emulator", "ncsdk", "references", "mvnc",
                  "steps", "tasks", "zoo"},
    "compiler": {"emulator", "ncsdk", "references", "mvnc", "steps", "tasks",
                 "zoo"},
    "emulator": {"compiler", "ncsdk", "references", "steps", "tasks", "zoo",
                 "tfcompat"},
    "mvnc": {"compiler", "ncsdk", "references", "steps", "tasks", "zoo"},
    "references": {"ncsdk", "steps", "tasks", "zoo"},
    "ncsdk": {"steps", "tasks", "zoo"},
}


def imported_packages(path):
    """Top-level names of every import in a file (relative ones skipped)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0], node.lineno


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_it(package):
    bad = [f"{path.relative_to(REPO)}:{line} imports {name}"
           for path in sorted((REPO / package).rglob("*.py"))
           for name, line in imported_packages(path)
           if name in FORBIDDEN[package]]
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from steps import plan\n    import zoo.nets\n")
    assert [n for n, _ in imported_packages(bad)] == ["steps", "zoo"]
