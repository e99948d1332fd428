"""The package's module-level imports form no cycle (the io <-> learner cycle of release 1 is gone).

Every ``import`` / ``from ... import`` at module level (not inside functions, which are lazy by
design) inside ``src/provable_mha`` is an edge; the test fails on any cycle and names it.
"""

import ast
from pathlib import Path

import networkx as nx

PKG = Path(__file__).parents[1] / "src" / "provable_mha"


def _module(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges():
    for path in PKG.rglob("*.py"):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.parse(path.read_text()).body:  # module level only
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.startswith("provable_mha"):
                    for alias in node.names:  # "from . import x" imports the submodule x
                        sub = f"{target}.{alias.name}"
                        yield name, sub if (PKG.parent / (sub.replace(".", "/") + ".py")).exists() \
                            or (PKG.parent / sub.replace(".", "/")).is_dir() else target
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("provable_mha"):
                        yield name, alias.name


def test_no_import_cycle_among_modules():
    g = nx.DiGraph()
    g.add_edges_from((a, b) for a, b in _edges() if a != b)
    cycles = list(nx.simple_cycles(g))
    assert not cycles, cycles[:5]
    assert g.number_of_edges() > 50  # the walk found the imports


def test_io_does_not_import_the_learner():
    assert not any(a == "provable_mha.io" and b.startswith("provable_mha.learner") for a, b in _edges())
