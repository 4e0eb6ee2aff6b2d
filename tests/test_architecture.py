"""The import graph of src/shoal has no cycle (issue 17; the floors themselves are
import-linter's contract in pyproject.toml, run by .ci/run).

The graph is the one that runs: ``if TYPE_CHECKING:`` imports are left out (shoal.codec
names shoal.models' types for mypy, and shoal.models imports shoal.codec).
"""

from __future__ import annotations

import grimp


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The modules of each import cycle of ``graph`` (its strongly connected components of
    more than one module, or a module importing itself), each sorted."""
    imports = {
        module: sorted(graph.find_modules_directly_imported_by(module) & graph.modules)
        for module in graph.modules
    }
    order: dict[str, int] = {}  # Tarjan's algorithm, iterative (no recursion limit)
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(imports):
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            module, i = work.pop()
            if i == 0:
                order[module] = low[module] = len(order)
                stack.append(module)
                on_stack.add(module)
            if i < len(imports[module]):
                work.append((module, i + 1))
                nxt = imports[module][i]
                if nxt not in order:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[module] = min(low[module], order[nxt])
                continue
            if low[module] == order[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1 or module in imports[module]:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
    return sorted(cycles)


def test_no_import_cycle_between_shoal_modules() -> None:
    graph = grimp.build_graph("shoal", exclude_type_checking_imports=True)
    assert len(graph.modules) > 50  # the whole package was read
    assert import_cycles(graph) == []


def test_import_cycles_finds_direct_and_indirect_cycles() -> None:
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c", "p.d", "p.e"):
        graph.add_module(module)
    for importer, imported in (
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),  # a -> b -> c -> a
        ("p.d", "p.e"),
        ("p.e", "p.d"),  # d <-> e
        ("p.c", "p.d"),  # one way between the two cycles: no third one
    ):
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"], ["p.d", "p.e"]]
