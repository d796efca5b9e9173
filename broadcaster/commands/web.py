"""`broadcaster web`: the console, served on this PC."""

from __future__ import annotations

import click

from broadcaster.commands.common import Context
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _


@click.command()
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help=N_("where the console listens (another address than 127.0.0.1 is reachable from the network)"))
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help=N_("TLS certificate (PEM), with --key"))
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help=N_("TLS private key (PEM)"))
@click.option("--proxied", is_flag=True,
              help=N_("behind a reverse proxy on this PC that serves HTTPS (trust its X-Forwarded headers)"))
@click.option("--idle", default=30, show_default=True, type=click.IntRange(1, 24 * 60), metavar="MINUTES",
              help=N_("log out after this long without a request"))
@click.pass_obj
def web(obj: Context, listen: str, cert: str | None, key: str | None, proxied: bool, idle: int) -> None:
    """Serve the web console (log in with an account from `broadcaster user add`)."""
    import uvicorn
    from broadcaster.records.accounts import Accounts
    from broadcaster.web.app import create_app
    cfg = obj.config()
    host, _sep, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise click.BadParameter(_("give it as HOST:PORT, like 127.0.0.1:8080 (a port from 1 to 65535)"),
                                 param_hint="--listen")
    if bool(cert) != bool(key):
        raise click.BadParameter(_("--cert and --key go together"), param_hint="--cert/--key")
    accounts = Accounts(cfg.paths.state)
    try:
        if not accounts.users():
            raise ConfigError(_("there are no accounts yet, so nobody could log in"),
                              hint=_("add one first: broadcaster user add NAME --role admin"))
    finally:
        accounts.close()
    app = create_app(cfg.path, allow_outside=obj.allow_outside, secure=bool(cert) or proxied, idle_minutes=idle)
    sock = _listening(host.strip("[]"), int(port), listen)   # before saying where: a port taken is said plainly
    scheme = "https" if cert else "http"
    click.echo(_("The console is at {url} (Ctrl+C stops it).", url=f"{scheme}://{host}:{port}/"))
    config = uvicorn.Config(app, ssl_certfile=cert, ssl_keyfile=key, log_level="warning", proxy_headers=proxied,
                            forwarded_allow_ips="127.0.0.1" if proxied else None, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def _listening(host: str, port: int, listen: str):
    """A socket bound to ``host:port`` for the server, or one line that says why it cannot be."""
    import errno
    import socket
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                 flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise ConfigError(_("the console cannot listen on {listen}: {host} is not an address of this PC ({reason})",
                            listen=listen, host=host, reason=getattr(e, "strerror", None) or e),
                          hint=_("give --listen 127.0.0.1:8080, or this PC's address on the network")) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(_("the console cannot listen on {listen}: another program (perhaps another console) "
                                "uses that port", listen=listen),
                              hint=_("stop it, or choose another port with --listen")) from None
        raise ConfigError(_("the console cannot listen on {listen}: {reason}", listen=listen, reason=e.strerror),
                          hint=_("give --listen 127.0.0.1:8080, or this PC's address on the network")) from None
    sock.set_inheritable(True)
    return sock
