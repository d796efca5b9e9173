"""Accounts and approval from the terminal: `user add|list|passwd|remove`, `submit`, `approve`."""

from __future__ import annotations

import click

from broadcaster.commands.common import Context, require_known
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _


def _accounts(obj: Context):
    """The accounts, for a ``with`` block (closed at its end, whatever happens)."""
    from contextlib import closing
    from broadcaster.records.accounts import Accounts
    return closing(Accounts(obj.config().paths.state))


def _ask(prompt: str) -> str:
    """A password, never echoed on a terminal; read as a line from a pipe (for scripts)."""
    import sys
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, err=True)
    click.echo(prompt + ": ", err=True, nl=False)
    return sys.stdin.readline().rstrip("\r\n")


def _new_password() -> str:
    first = _ask(_("Password (at least 10 characters)"))
    if _ask(_("Again")) != first:
        raise ConfigError(_("the two passwords differ"), hint=_("type the same password twice"))
    return first


def _role(help_text: str):
    return click.option("--role", required=True, type=click.Choice(["admin", "approver", "editor", "technician",
                                                                     "viewer"]), help=help_text)


_places_option = click.option("--places", default="", metavar="ZONES",
                              help=N_("only these zones and groups, like \"group:thon_1,cum_3\" (default: everywhere)"))


def _places(obj: Context, places: str) -> tuple[str, ...]:
    from broadcaster.records.accounts import parse_places
    return parse_places(places, obj.config().zones, obj.config().groups) if places else ()


@click.group()
def user() -> None:
    """Accounts of the web console: who may see, edit, approve, play or manage."""


@user.command(name="add")
@click.argument("name")
@_role(N_("what the account may do (see docs/console.md: Accounts)"))
@_places_option
@click.pass_obj
def user_add(obj: Context, name: str, role: str, places: str) -> None:
    """Add an account; the password is asked twice (never on the command line)."""
    from broadcaster.records.accounts import check_name
    check_name(name)
    chosen = _places(obj, places)
    with _accounts(obj) as accounts:
        accounts.add(name, role, _new_password(), chosen)
        accounts.audit(None, "terminal", "user add", f"{name} ({role})")
    click.echo(_("Account {name} added ({role}).", name=name, role=role))


@user.command(name="list")
@click.pass_obj
def user_list(obj: Context) -> None:
    """The accounts and their roles."""
    from broadcaster.records.accounts import ROLE_WORDS
    with _accounts(obj) as accounts:
        users = accounts.users()
    if not users:
        click.echo(_("No accounts yet: broadcaster user add NAME --role admin"))
    for u in users:
        click.echo(f"{u.name:<24} {_(ROLE_WORDS[u.role]):<16} {', '.join(u.places) or _('everywhere')}".rstrip())


@user.command(name="passwd")
@click.argument("name")
@click.pass_obj
def user_passwd(obj: Context, name: str) -> None:
    """Set an account's password (its open sessions end)."""
    with _accounts(obj) as accounts:
        if accounts.get(name) is None:
            raise ConfigError(_('there is no account "{name}"', name=name))
        accounts.set_password(name, _new_password())
        accounts.audit(None, "terminal", "user passwd", name)
    click.echo(_("Password of {name} changed.", name=name))


@user.command(name="remove")
@click.argument("name")
@click.pass_obj
def user_remove(obj: Context, name: str) -> None:
    """Remove an account."""
    with _accounts(obj) as accounts:
        accounts.remove(name)
        accounts.audit(None, "terminal", "user remove", name)
    click.echo(_("Account {name} removed.", name=name))


def _login(accounts, name: str):
    password = _ask(_("Password of {name}", name=name))
    return accounts.authenticate(name, password, "terminal")


@click.command()
@click.argument("bulletin")
@click.option("--user", "name", required=True, help=N_("the editor submitting it (asked for the password)"))
@click.pass_obj
def submit(obj: Context, bulletin: str, name: str) -> None:
    """Submit a bulletin's current script for approval."""
    from broadcaster.records.accounts import AccessError
    from broadcaster.records.approval import source_of
    from broadcaster.records.approval import submit as submit_
    cfg = obj.config()
    require_known("bulletin", (bulletin,), cfg)
    b = cfg.bulletins[bulletin]
    if source_of(cfg, b) is None:
        raise ConfigError(_("{bulletin} is a ready-made recording: there is no script to approve", bulletin=bulletin))
    with _accounts(obj) as accounts:
        u = _login(accounts, name)
        if not u.may("edit"):
            raise AccessError(_("{name} ({role}) may not do that", name=name, role=u.role))
        submit_(cfg, accounts, b, name)
        accounts.audit(name, "terminal", "submit", bulletin)
    click.echo(_("{bulletin} submitted for approval.", bulletin=bulletin))


@click.command()
@click.argument("bulletin")
@click.option("--user", "name", required=True, help=N_("the approver (asked for the password)"))
@click.option("--send-back", "comment", metavar="COMMENT", help=N_("send it back to the editor with this comment"))
@click.pass_obj
def approve(obj: Context, bulletin: str, name: str, comment: str | None) -> None:
    """Approve the submitted version of a bulletin (its audio is kept aside and airs), or send it back."""
    from broadcaster.commands.render import build
    from broadcaster.fsutil import sha256_file
    from broadcaster.records.accounts import AccessError
    from broadcaster.records.approval import pin, source_of
    cfg = obj.config()
    require_known("bulletin", (bulletin,), cfg)
    b = cfg.bulletins[bulletin]
    with _accounts(obj) as accounts:
        u = _login(accounts, name)
        if not u.may("approve"):
            raise AccessError(_("{name} ({role}) may not do that", name=name, role=u.role))
        source = source_of(cfg, b)
        if source is None:
            raise ConfigError(_("{bulletin} is a ready-made recording: there is no script to approve",
                                bulletin=bulletin))
        sha = sha256_file(source)
        accounts.may_decide(bulletin, sha, name)   # before anything is built or kept aside
        audio = None
        if comment is None and b.script is not None:
            click.get_current_context().invoke(build, bulletins=(bulletin,), engine=None, force=False)
        if comment is None:
            audio = str(pin(cfg, b))
        accounts.decide(bulletin, sha, name, approve=comment is None, comment=comment or "", audio=audio)
        accounts.audit(name, "terminal", "approve" if comment is None else "send back", bulletin)
    click.echo(_("{bulletin} approved: this version airs from now on.", bulletin=bulletin) if comment is None
               else _("{bulletin} sent back to the editor.", bulletin=bulletin))


@click.group()
def token() -> None:
    """Bearer tokens for programs (the provincial system) using the console's JSON API."""


@token.command(name="add")
@click.argument("name")
@_role(N_("what the program may do (as an account of that role)"))
@_places_option
@click.pass_obj
def token_add(obj: Context, name: str, role: str, places: str) -> None:
    """Make a token; it is shown once (only its hash is kept): give it to the program now."""
    chosen = _places(obj, places)
    with _accounts(obj) as accounts:
        secret = accounts.add_token(name, role, chosen)
        accounts.audit(None, "terminal", "token add", f"{name} ({role})")
    click.echo(_("Token {name} ({role}); it is shown this once, keep it where the program reads it:", name=name,
                 role=role))
    click.echo(secret)


@token.command(name="list")
@click.pass_obj
def token_list(obj: Context) -> None:
    """The tokens, their roles and places (never the tokens themselves)."""
    from broadcaster.records.accounts import ROLE_WORDS
    with _accounts(obj) as accounts:
        for t in accounts.tokens():
            click.echo(f"{t.name[len('token:'):]:<24} {_(ROLE_WORDS[t.role]):<16} "
                       f"{', '.join(t.places) or _('everywhere')}".rstrip())


@token.command(name="remove")
@click.argument("name")
@click.pass_obj
def token_remove(obj: Context, name: str) -> None:
    """Remove a token: the program using it is refused from now on."""
    with _accounts(obj) as accounts:
        accounts.remove_token(name)
        accounts.audit(None, "terminal", "token remove", name)
    click.echo(_("Token {name} removed.", name=name))
