"""The command line: parse, call, print. The one place errors become messages and exit codes.

Exit status: 0 success; 1 something failed that is not the user's input (a voice
could not be reached, a device is missing); 2 the input needs fixing (config,
script, jingle, arguments). No traceback reaches the user for any of these.
"""

from __future__ import annotations

import inspect
import os
import sys

import click

from broadcaster import __version__
from broadcaster.commands import desk, fleet, live, people, plan, render, station, text, web, zones
from broadcaster.commands.common import Context
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import LANGUAGES, N_, _, gettext, set_language


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", metavar="FILE",
              help=N_("the schedule.toml to use (default: $BROADCASTER_CONFIG, else ./schedule.toml)"))
@click.option("--allow-outside", is_flag=True,
              help=N_("let paths in the config and on the command line point outside the project folder"))
@click.option("--lang", type=click.Choice(LANGUAGES), expose_value=False,  # applied by run(), before parsing
              help=N_("the language of messages: en or vi (default: from the locale)"))
@click.version_option(__version__, prog_name="broadcaster")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, allow_outside: bool) -> None:
    """broadcaster: turns announcement scripts into broadcast-ready audio and airs them on schedule."""
    ctx.obj = Context(config_path, allow_outside)


for command in (render.build, render.say, text.normalize, text.voices, plan.check, plan.next_airings,
                desk.report, desk.preview, station.daemon, station.play, station.show_log, station.status,
                station.devices, live.live, fleet.fleet, fleet.publish, people.user, people.token, people.submit, people.approve,
                web.web, zones.zones):
    cli.add_command(command)


def localize(command: click.Command) -> None:
    """Put the help texts of ``command`` and everything under it in the current language.

    The English originals (the message ids) are kept on the objects, so this can be done again
    with another language. Click's own words (Usage, Options, its errors) come through
    the same catalogue: Click asks the module-level ``_`` in each of its modules.
    """
    for obj in [command, *command.params]:
        if not hasattr(obj, "help"):
            continue  # arguments have no help text of their own
        if not hasattr(obj, "_msgid_help"):
            obj._msgid_help = inspect.cleandoc(obj.help) if obj.help else obj.help
        if obj._msgid_help:
            obj.help = gettext(obj._msgid_help)
    if getattr(command, "_help_option", None) is not None:
        command._help_option = None  # Click keeps the --help option it made, with its words of then
    for sub in getattr(command, "commands", {}).values():
        localize(sub)


def _lang_argument(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        value = args[i + 1] if a == "--lang" and i + 1 < len(args) else a[7:] if a.startswith("--lang=") else None
        if value in LANGUAGES:
            return value
    return None


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def _teach_click() -> None:
    import click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.termui, click.types
    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.termui,
                   click.types):
        if hasattr(module, "_"):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext


def run(argv: list[str] | None = None) -> int:
    """Run a command line; every BroadcasterError becomes one line and an exit status."""
    args = sys.argv[1:] if argv is None else argv
    set_language(_lang_argument(args))  # before parsing: Click makes some help texts as it parses
    _teach_click()
    localize(cli)
    try:
        return _main(argv)
    finally:
        set_language(None)  # the choice was for this command line only


def _main(argv: list[str] | None) -> int:
    nul = next((a for a in (argv or []) if "\0" in a), None)
    if nul is not None:  # no shell can pass one; no file system takes one (os.stat raises ValueError)
        click.secho(f"{_('error')}: " + _('the argument "{value}" has a NUL character in it', value=nul.replace("\0", "\\0")),
                    fg="red", err=True)
        return 2
    try:
        rv = cli.main(args=argv, prog_name="broadcaster", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("Stopped."), err=True)
        return 130
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except BroadcasterError as e:
        for line in str(e).splitlines():
            click.secho(f"{_('error')}: {line}", fg="red", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo(_("Stopped."), err=True)
        return 130
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception as e:  # a bug: one line for the technician, the traceback on request
        if os.environ.get("BROADCASTER_DEBUG"):
            raise
        click.secho(_("internal error: {kind}: {detail}", kind=type(e).__name__, detail=e), fg="red", err=True)
        click.echo(_("This is a bug in broadcaster. Run again with BROADCASTER_DEBUG=1 "
                     "and send the output to the developers."), err=True)
        return 70
    return rv if isinstance(rv, int) else 0


def main() -> None:
    nice = os.environ.get("BROADCASTER_NICE", "")
    if nice.isdigit() and hasattr(os, "nice"):      # a render the daemon started: airings first
        os.nice(int(nice))
    sys.exit(run())

