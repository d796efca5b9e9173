"""The message catalogue's upkeep: which English messages the code uses, and vi.po kept in step.

    python tools/messages.py          # list what vi.po lacks and what it has that nobody uses
    python tools/messages.py --update # add the missing ones to vi.po (empty, for a translator)

Messages are the first argument of ``_("...")`` and ``N_("...")`` in broadcaster/, the
docstrings of Click commands (their --help text), and Click's own messages.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "broadcaster"
CATALOGUE = PACKAGE / "locale" / "vi.po"
TEMPLATE_MESSAGE = re.compile(r"""\b_\(\s*(["'])((?:(?!\1)[^\\]|\\.)*)\1""")


def _calls(tree: ast.AST, names: tuple[str, ...]) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            for arg in node.args[: 2 if node.func.id == "ngettext" else 1]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.append(arg.value)
    return out


def _command_docstrings(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        # @click.command(), @click.group(), and a group's own @user.command(name="add")
        if isinstance(node, ast.FunctionDef) and any(
                re.search(r"\.(command|group)\b", ast.unparse(d)) for d in node.decorator_list):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append(doc)
    return out


def ours() -> dict[str, str]:
    """Every message in the package → the file that first uses it."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # (a reading rule's name is shown to people: `normalize --explain` tags each rewrite with it)
        for msgid in _calls(tree, ("_", "N_", "rule", "lexicon_rule")) + _command_docstrings(tree):
            found.setdefault(msgid, str(path.relative_to(ROOT)))
    for path in sorted(PACKAGE.rglob("templates/*.html")):   # the console's pages: {{ _("...") }}
        for m in TEMPLATE_MESSAGE.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(m.group(2), str(path.relative_to(ROOT)))
    return found


def clicks() -> dict[str, str]:
    """Click's own messages (it asks gettext for them): the ones a user of ours can meet."""
    import click
    found: dict[str, str] = {}
    for path in sorted(Path(click.__file__).parent.glob("*.py")):
        if path.name in ("shell_completion.py", "_termui_impl.py", "testing.py"):
            continue
        for msgid in _calls(ast.parse(path.read_text(encoding="utf-8")), ("_", "ngettext")):
            found.setdefault(msgid, f"click/{path.name}")
    return found


def catalogue() -> dict[str, str]:
    import polib
    return {e.msgid: e.msgstr for e in polib.pofile(str(CATALOGUE)) if not e.obsolete}


def main(argv: list[str]) -> int:
    import polib
    wanted = {**clicks(), **ours()}
    have = catalogue()
    missing = [m for m in wanted if not have.get(m)]
    unused = [m for m in have if m not in wanted]
    for m in missing:
        print(f"missing ({wanted[m]}): {m!r}")
    for m in unused:
        print(f"unused: {m!r}")
    if "--update" in argv:
        po = polib.pofile(str(CATALOGUE))
        known = {e.msgid for e in po}
        for m in missing:
            if m not in known:
                po.append(polib.POEntry(msgid=m, msgstr="", occurrences=[(wanted[m], "")]))
        po.save(str(CATALOGUE))
        print(f"added {len([m for m in missing if m not in known])} empty entries to {CATALOGUE.relative_to(ROOT)}")
    return 1 if missing or unused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
