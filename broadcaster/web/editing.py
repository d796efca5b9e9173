"""Bulletins: the list, the script editor with the reading shown as you type, rendering and
listening, what changed since the last approved version, and approval (submit, approve, send back)."""

from __future__ import annotations

import asyncio
import difflib
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from broadcaster.config.model import PRIORITY_WORDS
from broadcaster.config.places import villages_of
from broadcaster.engines import engine_names
from broadcaster.errors import BroadcasterError
from broadcaster.fsutil import atomic_write_bytes, project_lock, sha256_file
from broadcaster.i18n import N_, _
from broadcaster.render.sidecar import read_sidecar
from broadcaster.records.accounts import AccessError
from broadcaster.records.approval import pin, slots_of, source_of, state_of, submit
from broadcaster.daemon.renderer import render_in_child
from broadcaster.web.common import Page, address, json_body, render, targets_within, urgent_refused
from broadcaster.web.uploads import MAX_UPLOAD, take_upload

MAX_SCRIPT = 200_000   # characters of one script edited in the browser
STATE_WORDS = {"not-needed": "", "approved": N_("approved"), "changed": N_("changed since approval"),
               "submitted": N_("submitted"), "returned": N_("sent back"), "never": N_("not approved yet"),
               "rescheduled": N_("new times wait for approval")}


def _script_path(cfg, rel: str) -> Path | None:
    """A script path from the browser, resolved and kept inside scripts/ (None if it leaves it)."""
    if "\0" in rel:
        return None
    root = cfg.paths.scripts.resolve()
    path = (root / rel).resolve()
    return path if path.is_relative_to(root) and path.suffix.lower() == ".txt" else None


def _bulletin_of(cfg, path: Path):
    return next((b for b in cfg.bulletins.values() if b.script and b.script.resolve() == path), None)


async def bulletins(request: Request) -> Response:
    console = request.app.state.console
    cfg = console.cfg()
    items = []
    for b in cfg.bulletins.values():
        side = read_sidecar(b.sidecar_path(cfg.paths)) or {} if b.rendered else {}
        st = state_of(cfg, console.accounts, b)
        rel = b.script.resolve().relative_to(cfg.paths.scripts.resolve()).as_posix() \
            if b.script and b.script.resolve().is_relative_to(cfg.paths.scripts.resolve()) else None
        items.append({"b": b, "side": side, "state": st.state, "script": rel,
                      "stale": b.rendered and side.get("script_sha256") not in (None, sha256_file(b.script))})
    return render(request, "bulletins.html", items=items, state_words=STATE_WORDS)


async def edit(request: Request) -> Response:
    console = request.app.state.console
    cfg = console.cfg()
    rel = request.path_params["path"]
    path = _script_path(cfg, rel)
    if path is None:
        console.accounts.audit(request.state.user.name, address(request), "refused", f"script path {rel!r}")
        return PlainTextResponse(_("refused: scripts are edited only inside {folder}", request.state.lang,
                                   folder=cfg.paths.scripts.name), 403)
    b = _bulletin_of(cfg, path)
    saved = None
    if request.method == "POST":
        form = await request.form()
        text = str(form.get("text", ""))[:MAX_SCRIPT].replace("\r\n", "\n")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return PlainTextResponse(_("the text has characters that cannot be saved", request.state.lang), 400)
        with project_lock(cfg.path):
            atomic_write_bytes(path, text.encode("utf-8"))
        console.accounts.audit(request.state.user.name, address(request), "edit", rel)
        saved = True
        action = form.get("action")
        if action in ("render", "submit") and b is not None:
            ok, said = await asyncio.to_thread(_render, console, b.id)
            if not ok:
                return render(request, "edit.html", rel=rel, text=text, b=b, saved=saved, error=said, diff=[],
                              state=state_of(cfg, console.accounts, b), state_words=STATE_WORDS)
            if action == "submit":
                submit(cfg, console.accounts, b, request.state.user.name)
                console.accounts.audit(request.state.user.name, address(request), "submit", b.id)
        return RedirectResponse(f"/scripts/{rel}?saved=1", 303)
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    state = state_of(cfg, console.accounts, b) if b else None
    approved_text = state.approved.text if state and state.approved and state.approved.text else None
    diff = list(difflib.unified_diff((approved_text or "").splitlines(), text.splitlines(), lineterm="", n=1))[2:] \
        if approved_text is not None else []
    return render(request, "edit.html", rel=rel, text=text, b=b, saved=request.query_params.get("saved"),
                  error=None, diff=diff, state=state, state_words=STATE_WORDS)


def _render(console, bulletin: str) -> tuple[bool, str]:
    """Render a bulletin in a child process, as the daemon does (the console stays small)."""
    proc = render_in_child(console.config_path, console.cfg().root, console.allow_outside, bulletin)
    return proc.returncode == 0, (proc.stderr.strip().splitlines() or [""])[-1]


async def reading(request: Request) -> Response:
    """What `normalize` says for the text being typed: each line, its reading and its warnings."""
    from broadcaster.text.reading import doubt_words
    from broadcaster.text.textnorm import Normalizer, load_lexicon, unspeakable
    cfg = request.app.state.console.cfg()
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("text", ""), str):
        return PlainTextResponse(_('send the text as JSON: {{"text": "..."}}', request.state.lang), 400)
    text = body.get("text", "")[:MAX_SCRIPT]
    from broadcaster.config.lexiconedit import project_lexicon
    lexicon = project_lexicon(cfg)

    def work():
        norm = Normalizer(load_lexicon(lexicon))
        out = []
        for line in text.split("\n"):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                out.append({"line": line, "spoken": "", "warnings": []})
                continue
            spoken, log = norm.explain(stripped)
            out.append({"line": line, "spoken": spoken, "warnings": unspeakable(spoken) + doubt_words(
                [r for r in log if r.doubt])})
        return out
    return JSONResponse({"lines": await asyncio.to_thread(work)})


async def audio(request: Request) -> Response:
    cfg = request.app.state.console.cfg()
    b = cfg.bulletins.get(request.path_params["bulletin"])
    if b is None or not b.output_path(cfg.paths).is_file():
        return PlainTextResponse("not rendered", 404)
    return FileResponse(b.output_path(cfg.paths))


async def approval(request: Request) -> Response:
    console = request.app.state.console
    cfg = console.cfg()
    if request.method == "POST":
        form = await request.form()
        b = cfg.bulletins.get(str(form.get("bulletin")))
        if b is None:
            return PlainTextResponse("no such bulletin", 404)
        approve = form.get("decision") == "approve"
        try:
            source = source_of(cfg, b)
            sha = sha256_file(source) if source is not None else None
            if source is None or form.get("script_sha256") != sha:   # the approver decides on what the page showed, or nothing
                raise AccessError(_("the text of {bulletin} changed since you opened it: read it again, then decide",
                                    request.state.lang, bulletin=b.id))
            console.accounts.may_decide(b.id, sha, request.state.user.name)
            audio_path = str(pin(cfg, b)) if approve else None   # pinned only once the decision is allowed
            console.accounts.decide(b.id, sha, request.state.user.name, approve, str(form.get("comment", ""))[:2000],
                                    audio_path)
        except (AccessError, BroadcasterError) as e:
            return render(request, "approval.html", items=_pending(cfg, console), error=e.message, status_code=409,
                          request_words=STATE_WORDS)
        console.accounts.audit(request.state.user.name, address(request), "approve" if approve else "send back", b.id)
        return RedirectResponse("/approval", 303)
    return render(request, "approval.html", items=_pending(cfg, console), error=None, request_words=STATE_WORDS)


def _pending(cfg, console) -> list[dict]:
    out = []
    for b in cfg.bulletins.values():
        latest = console.accounts.latest(b.id)
        if latest is None:
            continue
        st = state_of(cfg, console.accounts, b)
        approved = st.approved.text if st.approved else None
        diff = list(difflib.unified_diff((approved or "").splitlines(), (latest.text or "").splitlines(),
                                         lineterm="", n=1))[2:]
        out.append({"b": b, "latest": latest, "state": st.state, "diff": diff,
                    "schedule": _schedule_words(cfg, b, st.approved)})
    return out


def _schedule_words(cfg, b, approved) -> list[tuple[str, bool]]:
    """(what the slot says, whether it is new since the approved version) for each of b's own slots."""
    import json
    from broadcaster.records.approval import slot_key
    known = set(json.loads(approved.slots)) if approved is not None and approved.slots else None
    out = []
    for s in cfg.slots:
        if s.origin != "local" or s.source or s.bulletin != b.id:
            continue
        when = ", ".join(t.strftime("%H:%M") for t in s.at) or s.cron
        words = dict((*DAY_WORDS, *ORDINALS))   # in the reader's language: "T3", not "tue"
        said = lambda text: re.sub(r"[a-z0-9]+", lambda m: _(words.get(m[0], m[0])), text)   # noqa: E731
        parts = [when, said(s.days or ""), f"{_('monthly')} {said(s.monthly)}" if s.monthly else "",
                 _("every {n} weeks", n=s.weeks) if s.weeks != 1 else "",
                 f"{s.start or '…'} → {s.end or '…'}" if s.start or s.end else "",
                 f"{len(s.zones)} {_('zone(s)')}", _(PRIORITY_WORDS[s.priority]) if s.priority != "normal" else ""]
        out.append((" · ".join(p for p in parts if p), known is not None and slot_key(s) not in known))
    return out


ORDINALS = (("1st", N_("1st")), ("2nd", N_("2nd")), ("3rd", N_("3rd")), ("4th", N_("4th")), ("last", N_("last")))
DAY_WORDS = (("mon", N_("Mon")), ("tue", N_("Tue")), ("wed", N_("Wed")), ("thu", N_("Thu")), ("fri", N_("Fri")),
             ("sat", N_("Sat")), ("sun", N_("Sun")))


async def compose(request: Request) -> Response:
    """A new announcement: its text with the reading shown as it is typed, when and where; saved as a
    script and a bulletin with its slot (config.compose), or shown again with what is wrong beside each field."""
    from broadcaster.config import PRIORITY_WORDS, load_config
    from broadcaster.config.compose import Announcement, ComposeError, save_announcement
    from broadcaster.records.accounts import allowed_zones
    console = request.app.state.console
    cfg = console.cfg()
    user = request.state.user
    allowed = allowed_zones(user, cfg.zones, cfg.groups)
    lang = request.state.lang
    context = dict(**targets_within(cfg, allowed),
                   stations={s: cfg.zones_of(s) for s in (cfg.stations() if not user.places else ())},
                   priorities={p: w for p, w in PRIORITY_WORDS.items() if p != "urgent" or user.may("play")},
                   day_words=[(d, _(w, lang)) for d, w in DAY_WORDS], errors={},
                   engines=sorted(engine_names()), ordinals=ORDINALS,
                   form={"title": "", "text": "", "times": "", "days": [], "start": "", "end": "", "except": "",
                         "places": [], "priority": "normal", "repeat": "weekly", "once": "", "weeks": "1",
                         "nth": "1st", "weekday": "mon", "engine": ""})
    if request.method == "GET":
        return render(request, "compose.html", **context)
    f = await request.form()
    split = (lambda v: [x.strip() for x in str(v or "").split(",") if x.strip()])
    keys = ("title", "times", "start", "end", "except", "repeat", "once", "weeks", "nth", "weekday", "engine")
    form = {**{k: str(f.get(k) or "")[:200] for k in keys}, "text": str(f.get("text", ""))[:MAX_SCRIPT],
            "days": [str(d) for d in f.getlist("days")], "places": [str(p) for p in f.getlist("place")],
            "priority": str(f.get("priority", "normal"))}
    repeat = form["repeat"] if form["repeat"] in ("once", "weekly", "monthly") else "weekly"
    weeks = (int(form["weeks"]) if form["weeks"].isascii() and form["weeks"].isdigit() else 0) if form["weeks"] else 1
    # a village or a station stands for its zones; groups stay groups in schedule.toml
    places, villages = [], villages_of(cfg.zones)
    for p in form["places"]:
        kind, _colon, name = p.partition(":")
        places += (villages.get(name, [p]) if kind == "village"
                   else cfg.zones_of(name) or [p] if kind == "station" else [p])
    ann = Announcement(title=form["title"], text=form["text"], times=split(form["times"]), zones=places,
                       days=form["days"], start=form["start"] or None, end=form["end"] or None,
                       skip=split(form["except"]), priority=form["priority"],
                       once=(form["once"] or "?") if repeat == "once" else None,
                       weeks=weeks if repeat == "weekly" else 1,
                       monthly=f"{form['nth']} {form['weekday']}" if repeat == "monthly" else None,
                       engine=form["engine"] or None)
    upload = f.get("recording")
    if hasattr(upload, "filename") and upload.filename:
        ann.recording, why = await take_upload(cfg, upload, lang)
        if why:
            return render(request, "compose.html", status_code=400, **{**context, "form": form,
                                                                       "errors": {"recording": why}})
    from broadcaster.config.places import expand_targets
    if any(z not in allowed for z in expand_targets(ann.zones, cfg.zones, cfg.groups)[0]):
        console.accounts.audit(user.name, address(request), "refused", "new bulletin outside its places")
        return PlainTextResponse(_("{name} may play only on {places}", lang, name=user.name,
                                   places=", ".join(user.places)), 403)
    if (why := urgent_refused(user, ann.priority, lang)) is not None:
        console.accounts.audit(user.name, address(request), "refused", "new bulletin at urgent priority")
        return render(request, "compose.html", status_code=403, **{**context, "form": form,
                                                                   "errors": {"priority": why}})
    try:
        if f.get("action") == "preview":   # the effective calendar of the next two weeks; nothing written
            preview = await asyncio.to_thread(_preview, cfg, ann)
            return render(request, "compose.html", **{**context, "form": form, "preview": preview})
        aid = await asyncio.to_thread(save_announcement, cfg, ann,
                                      lambda p: load_config(p, allow_outside=console.allow_outside))
    except ComposeError as e:
        return render(request, "compose.html", status_code=400, **{**context, "form": form, "errors": e.fields})
    except BroadcasterError as e:   # another writer held schedule.toml too long: nothing was written
        return render(request, "compose.html", status_code=503, **{**context, "form": form,
                                                                   "errors": {"schedule": str(e)}})
    console.accounts.audit(user.name, address(request), "new bulletin", aid)
    new_cfg = console.cfg()
    b = new_cfg.bulletins[aid]
    if b.script is None:   # a recording: nothing to edit or render; submitted for approval at once
        if new_cfg.approval_required:
            submit(new_cfg, console.accounts, b, user.name)
            console.accounts.audit(user.name, address(request), "submit", aid)
        return RedirectResponse("/bulletins", 303)
    rel = b.script.relative_to(cfg.paths.scripts.resolve()).as_posix()
    return RedirectResponse(f"/scripts/{rel}?saved=1", 303)


def _preview(cfg, ann) -> list[tuple]:
    """(day, time, zones) of the announcement's airings in the next 14 days, holidays and exceptions applied."""
    from dataclasses import replace
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    from broadcaster.config.compose import preview_slot
    from broadcaster.config.schedule import airings
    slot = preview_slot(cfg, ann)
    now = datetime.now(ZoneInfo(cfg.timezone))
    found = airings(replace(cfg, slots=(slot,), changes=()), now, now + timedelta(days=14))
    by_time: dict = {}
    for a in found:
        by_time.setdefault(a.time, []).append(a.zone)
    return [(t.date(), t.strftime("%H:%M"), zones) for t, zones in sorted(by_time.items())]


SECTION_WORDS = {"acronyms": N_("an abbreviation (in capitals)"), "words": N_("a word"),
                 "domains": N_("a part of a web or e-mail address")}


async def lexicon(request: Request) -> Response:
    """The commune's own readings (its project lexicon), and one taught: "XYZ" is said "…"."""
    import tomllib
    from broadcaster.config import load_config
    from broadcaster.config.lexiconedit import SECTIONS, check_entry, project_lexicon, teach
    console, lang = request.app.state.console, request.state.lang
    cfg = console.cfg()
    form, errors, taught, status = {"section": str(request.query_params.get("section", "acronyms")),
                                    "written": str(request.query_params.get("written", ""))[:40], "spoken": ""}, {}, None, 200
    if request.method == "POST":
        data = await request.form()
        form = {k: str(data.get(k, "")).strip() for k in ("section", "written", "spoken")}
        errors = check_entry(form["section"], form["written"], form["spoken"], lang)
        if not errors:
            try:
                teach(cfg, lambda p: load_config(p, allow_outside=console.allow_outside), form["section"],
                      form["written"], form["spoken"])
                console.accounts.audit(request.state.user.name, address(request), "lexicon",
                                       f'{form["section"]}: {form["written"]} = {form["spoken"]}')
                taught, form = dict(form), {"section": form["section"], "written": "", "spoken": ""}
                cfg = console.cfg()
            except BroadcasterError as e:
                errors = {"file": e.message}
        status = 400 if errors else 200
    entries, path = [], project_lexicon(cfg)
    if path is not None and path.is_file():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))
            entries = [(s, k, v) for s in SECTIONS for k, v in doc.get(s, {}).items() if isinstance(v, str)]
        except (OSError, tomllib.TOMLDecodeError, AttributeError):
            entries = []
    return render(request, "lexicon.html", status_code=status, form=form, errors=errors, taught=taught,
                  entries=entries, sections=[(s, SECTION_WORDS[s]) for s in SECTIONS], section_words=SECTION_WORDS)


ROUTES = [
    Page("/bulletins", bulletins, {"GET": "view"}),
    Page("/lexicon", lexicon, {"GET": "edit", "POST": "edit"}),
    Page("/scripts/{path:path}", edit, {"GET": "view", "POST": "edit"}, 4 * MAX_SCRIPT * 3),
    Page("/reading", reading, {"POST": "view"}, 4 * MAX_SCRIPT + 1000),
    Page("/audio/{bulletin}", audio, {"GET": "view"}),
    Page("/approval", approval, {"GET": "approve", "POST": "approve"}),
    Page("/compose", compose, {"GET": "edit", "POST": "edit"}, MAX_UPLOAD + 4 * MAX_SCRIPT * 3),
]
