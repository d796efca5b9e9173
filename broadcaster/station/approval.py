"""Approval before airing ([approval] required = true): only audio whose script version was approved
goes on the air. A changed script keeps airing its last approved audio, kept aside in
``<state>/approved/``, until the new version is approved."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from broadcaster.config import Bulletin, Config
from broadcaster.errors import PlaybackError
from broadcaster.fsutil import atomic_path, sha256_file
from broadcaster.i18n import _
from broadcaster.render.sidecar import read_sidecar
from broadcaster.station.accounts import Accounts, Approval


@dataclass(frozen=True)
class ApprovalState:
    state: str                  # not-needed | approved | changed | submitted | returned | never
    approved: Approval | None   # the version on the air
    latest: Approval | None

    @property
    def airs(self) -> bool:
        return self.state in ("not-needed", "approved", "changed", "submitted", "returned") and (
            self.state == "not-needed" or self.approved is not None)


def approved_path(cfg: Config, b: Bulletin, script_sha256: str) -> Path:
    return cfg.paths.state / "approved" / b.id / f"{script_sha256}.{b.audio.format}"


def state_of(cfg: Config, accounts: Accounts, b: Bulletin) -> ApprovalState:
    if not cfg.approval_required or not b.rendered:
        return ApprovalState("not-needed", None, None)
    approved, latest = accounts.approved(b.id), accounts.latest(b.id)
    current = sha256_file(b.script) if b.script and b.script.is_file() else None
    if approved is not None and approved.script_sha256 == current:
        return ApprovalState("approved", approved, latest)
    if latest is not None and latest.script_sha256 == current and latest.state in ("submitted", "returned"):
        return ApprovalState(latest.state, approved, latest)
    return ApprovalState("changed" if approved else "never", approved, latest)


def pin(cfg: Config, b: Bulletin) -> Path:
    """Keep aside the rendered audio of the script as it is now (for approving it)."""
    side = read_sidecar(b.sidecar_path(cfg.paths)) or {}
    out = b.output_path(cfg.paths)
    script_sha = sha256_file(b.script)
    if side.get("script_sha256") != script_sha or not out.is_file():
        raise PlaybackError(_("{bulletin} has not been rendered from its current script", bulletin=b.id),
                            hint=_("render it first (broadcaster build)"))
    target = approved_path(cfg, b, script_sha)
    with atomic_path(target) as tmp:
        shutil.copyfile(out, tmp)
    return target


def audio_to_air(cfg: Config, accounts: Accounts, b: Bulletin) -> Path:
    """The file an airing of ``b`` plays: the last approved version's when approval is required."""
    st = state_of(cfg, accounts, b)
    if st.state == "not-needed":
        return b.output_path(cfg.paths)
    if st.approved is None:
        raise PlaybackError(_("{bulletin} has no approved version yet: it does not air", bulletin=b.id),
                            hint=_("an approver approves it in the console or with broadcaster approve"))
    path = Path(st.approved.audio) if st.approved.audio else approved_path(cfg, b, st.approved.script_sha256)
    if not path.is_file():
        raise PlaybackError(_("the approved audio of {bulletin} is missing ({file})", bulletin=b.id, file=path.name),
                            hint=_("approve the current version again"))
    return path
