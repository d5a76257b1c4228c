"""The layout of training/ (docs/training.md, "Layout"): no import cycles between its modules, none between its
sub-packages, and no module importing another of training/ inside a function, where a cycle would hide again.

Reads every module's source (imports at any depth, not only the top-level ones) instead of importing it, so it needs
neither torch nor onnx.
"""
from __future__ import annotations

import ast
import unittest
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def module_names() -> dict[str, Path]:
    """training.x.y -> its file, tests left out (nothing imports them)."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("training",) + path.relative_to(PACKAGE).with_suffix("").parts
        if "tests" in parts:
            continue
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported training module, line, inside a function) for every import statement of one module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join(up + ([base] if base else []))
                # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in child.names]
            found.extend((t, child.lineno, in_function) for t in targets if t in known and t != name)
            visit(child, nested)

    visit(ast.parse(path.read_text()), False)
    return found


def unit(name: str) -> str:
    """A sub-package (training.data) stands for all its modules; a top-level module (training.train) for itself."""
    return ".".join(name.split(".")[:2])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


class ImportGraphTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.known = module_names()
        cls.edges = {name: imports(name, path, cls.known) for name, path in cls.known.items()}

    def test_the_graph_sees_the_packages_imports(self):
        # a guard for the parser itself: these edges exist, so a graph without them would prove nothing
        graph = {name: {t for t, _, _ in found} for name, found in self.edges.items()}
        self.assertIn("training.common", graph["training.train"])
        self.assertIn("training.distill.teacher", graph["training.train"])
        self.assertIn("training.models.facerec", graph["training.models.registry"])
        self.assertIn("training.distill.ensemble", graph["training.__main__"])

    def test_no_module_import_cycle(self):
        graph = {name: {t for t, _, _ in found} for name, found in self.edges.items()}
        self.assertIsNone(find_cycle(graph))

    def test_no_subpackage_import_cycle(self):
        graph: dict[str, set[str]] = {}
        for name, found in self.edges.items():
            graph.setdefault(unit(name), set()).update(unit(t) for t, _, _ in found if unit(t) != unit(name))
        self.assertIsNone(find_cycle(graph))

    def test_no_module_of_training_is_imported_inside_a_function(self):
        hidden = [f"{name}:{line} imports {t}"
                  for name, found in self.edges.items() for t, line, inside in found if inside]
        self.assertEqual(hidden, [])

    def test_subpackage_inits_import_nothing(self):
        # running one of their modules with -m (python3 -m training.models.facerec) then loads it only once
        for name, path in self.known.items():
            if path.name == "__init__.py" and name != "training":
                with self.subTest(package=name):
                    self.assertEqual(self.edges[name], [])


if __name__ == "__main__":
    unittest.main()
