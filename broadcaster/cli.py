"""The command line: parse, call, print. The one place errors become messages and exit codes.

Exit status: 0 success; 1 something failed that is not the user's input (a voice
could not be reached, a device is missing); 2 the input needs fixing (config,
script, jingle, arguments). No traceback reaches the user for any of these.
"""

from __future__ import annotations

import os
import sys

import click

from broadcaster import __version__
from broadcaster.commands import plan, render, station, text
from broadcaster.commands.common import Context
from broadcaster.errors import BroadcasterError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", metavar="FILE",
              help="the schedule.toml to use (default: $BROADCASTER_CONFIG, else ./schedule.toml)")
@click.option("--allow-outside", is_flag=True,
              help="let paths in the config and on the command line point outside the project folder")
@click.version_option(__version__, prog_name="broadcaster")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, allow_outside: bool) -> None:
    """broadcaster: turns announcement scripts into broadcast-ready audio and airs them on schedule."""
    ctx.obj = Context(config_path, allow_outside)


for command in (render.build, render.say, text.normalize, text.voices, plan.check, plan.next_airings,
                station.daemon, station.play, station.show_log, station.status, station.devices):
    cli.add_command(command)


def run(argv: list[str] | None = None) -> int:
    """Run a command line; every BroadcasterError becomes one line and an exit status."""
    try:
        rv = cli.main(args=argv, prog_name="broadcaster", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Stopped.", err=True)
        return 130
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except BroadcasterError as e:
        for line in str(e).splitlines():
            click.secho(f"error: {line}", fg="red", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
        return 130
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception as e:  # a bug: one line for the technician, the traceback on request
        if os.environ.get("BROADCASTER_DEBUG"):
            raise
        click.secho(f"internal error: {type(e).__name__}: {e}", fg="red", err=True)
        click.echo("This is a bug in broadcaster. Run again with BROADCASTER_DEBUG=1 "
                   "and send the output to the developers.", err=True)
        return 70
    return rv if isinstance(rv, int) else 0


def main() -> None:
    sys.exit(run())
