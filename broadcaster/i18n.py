"""The language broadcaster speaks to people in: English or Vietnamese, from one catalogue.

Messages are written in English in the code and marked ``_("...")`` (translated now)
or ``N_("...")`` (marked only: constants translated where they are shown); the
Vietnamese catalogue is ``broadcaster/locale/vi.po``, a standard gettext file that
translators can open in Poedit. English is the message id, so a message missing from
the catalogue still reads in English; a test fails if the code and the catalogue
disagree. The language is process-wide, like the locale it comes from: ``--lang``,
else $BROADCASTER_LANG, else the locale (LC_ALL, LC_MESSAGES, LANG, then the
system's, which is how Windows says it) — but while the console answers a request,
the request's own (``speaking``), so that everything on a page is in one language.
"""

from __future__ import annotations

import locale
import os
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "vi")
CATALOGUE_DIR = Path(__file__).parent / "locale"

_chosen: list[str] = []  # set by --lang; empty means "from the environment"
_here: ContextVar[str | None] = ContextVar("broadcaster_language", default=None)   # a console request's


def set_language(lang: str | None) -> None:
    """Use ``lang`` ('en' or 'vi') from now on; None goes back to the environment's."""
    _chosen.clear()
    if lang:
        _chosen.append(lang)


@contextmanager
def speaking(lang: str | None):
    """``lang`` for what runs inside, in this context (a console request, and the threads it starts),
    whatever the process's own language."""
    token = _here.set(lang)
    try:
        yield
    finally:
        _here.reset(token)


def language(environ=os.environ) -> str:
    """'vi' or 'en': the language of the request being answered, else the --lang choice, else
    $BROADCASTER_LANG, else the locale."""
    if (here := _here.get()) is not None:
        return here
    if _chosen:
        return _chosen[0]
    for var in ("BROADCASTER_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var)
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    try:
        name = locale.getlocale()[0] or ""
    except ValueError:
        name = ""
    return "vi" if name.lower().startswith(("vi", "vietnamese")) else "en"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid → translation for ``lang`` (empty for English, the language of the code)."""
    if lang == "en":
        return {}
    import polib
    po = polib.pofile(str(CATALOGUE_DIR / f"{lang}.po"))
    return {e.msgid: e.msgstr for e in po if e.msgstr and not e.obsolete}


def gettext(msgid: str, lang: str | None = None) -> str:
    return catalogue(lang or language()).get(msgid, msgid)


def _(msgid: str, lang: str | None = None, /, **values) -> str:
    """``msgid`` in the current language, with ``{name}`` fields filled from ``values``."""
    template = gettext(msgid, lang)
    return template.format(**values) if values else template


def N_(msgid: str) -> str:
    """Marks a constant for the catalogue; translate it with ``_`` where it is shown."""
    return msgid


def when(t: datetime, lang: str | None = None, seconds: bool = False) -> str:
    """A date and time as people write it: '17:00 ngày 05/8/2020' or '2020-08-05 17:00'."""
    clock = t.strftime("%H:%M:%S" if seconds else "%H:%M")
    if (lang or language()) == "vi":
        return f"{clock} ngày {day(t, 'vi')}"
    return f"{day(t, 'en')} {clock}"


def day(d: date, lang: str | None = None) -> str:
    """A date: '05/8/2020' in Vietnamese (day first, the month unpadded), '2020-08-05' in English."""
    if (lang or language()) == "vi":
        return f"{d.day:02d}/{d.month}/{d.year}"
    return d.strftime("%Y-%m-%d")
