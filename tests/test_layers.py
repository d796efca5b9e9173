"""The package's layers, as folders: a lower layer imports nothing from an upper one, no module
imports itself back through others, and every module imports on its own.

Imports are read with ``ast`` (the ones inside functions too: a lazy import is still a
dependency); only those under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "broadcaster"

# lowest first; a module may import from its own layer and the ones before it
LAYERS = [
    ("core", ["broadcaster", "broadcaster.errors", "broadcaster.i18n", "broadcaster.fsutil",
              "broadcaster.tomllines", "broadcaster.workers"]),
    ("text", ["broadcaster.text"]),
    ("audio", ["broadcaster.audio"]),
    ("engines", ["broadcaster.engines"]),
    ("config", ["broadcaster.config"]),
    ("render", ["broadcaster.render"]),
    ("records", ["broadcaster.records"]),
    ("daemon", ["broadcaster.daemon"]),
    ("fleet", ["broadcaster.fleet"]),
    ("dispatch", ["broadcaster.dispatch"]),
    ("web", ["broadcaster.web"]),
    ("commands", ["broadcaster.commands", "broadcaster.cli", "broadcaster.__main__"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_name, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best and (p != "broadcaster" or module == p):
                best, rank = len(p), i
    if rank is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {Path(__file__).name}")
    return rank


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports (a name imported from a package counts as
    that submodule when there is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    me = module_name(path)
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "broadcaster":
                continue
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "broadcaster")
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: use absolute imports (from broadcaster.… import …)")
    out.discard(me)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(p, known) for m, p in known.items()}


def test_every_module_has_a_layer():
    for m in modules():
        layer_of(m)


def test_lower_layers_import_nothing_from_upper_ones():
    wrong = []
    for m, deps in graph().items():
        for d in deps:
            if layer_of(d) > layer_of(m):
                wrong.append(f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})")
    assert not wrong, "\n".join(sorted(wrong))


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle_inside_the_package():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_checks_catch_what_they_look_for():
    """The cycle finder and the layer rule are shown to fail on a made-up package."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer_of("broadcaster.daemon.daemon") > layer_of("broadcaster.config.model")
    assert layer_of("broadcaster.text.textnorm.core") < layer_of("broadcaster.audio.files")
    with pytest.raises(AssertionError, match="belongs to no layer"):
        layer_of("broadcaster.somewhere_new")


def test_every_module_imports_on_its_own():
    """Each module imported first, in a fresh set of the package's modules (third-party ones stay
    loaded, so this takes seconds): an import that only works after another module is caught."""
    names = sorted(modules())
    code = (
        "import importlib, sys\n"
        f"names = {names!r}\n"
        "bad = []\n"
        "for n in names:\n"
        "    for k in [k for k in sys.modules if k == 'broadcaster' or k.startswith('broadcaster.')]:\n"
        "        del sys.modules[k]\n"
        "    try:\n"
        "        importlib.import_module(n)\n"
        "    except Exception as e:\n"
        "        bad.append(f'{n}: {type(e).__name__}: {e}')\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_module_is_much_over_400_lines():
    long = {m: n for m, p in modules().items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420}
    assert not long, long


def test_the_development_guide_lists_the_layers_as_the_folders_are():
    """docs/development.md's table of layers names every layer in LAYERS, in order, and every folder of the
    package (a package with modules) is one of them or inside one."""
    table = [line.split("|")[1].strip() for line in (REPO / "docs" / "development.md").read_text().splitlines()
             if line.startswith("| ") and not line.startswith("| layer") and not line.startswith("| ---")]
    assert table == [name for name, _prefixes in LAYERS], table
    folders = {f"broadcaster.{p.parent.relative_to(PACKAGE).as_posix().replace('/', '.')}"
               for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE}
    for folder in folders:
        layer_of(folder)
