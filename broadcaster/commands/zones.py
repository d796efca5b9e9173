"""`broadcaster zones`: the zones (loudspeaker clusters) of the project, and importing a cluster list."""

from __future__ import annotations

from pathlib import Path

import click

from broadcaster.commands.common import Context
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _


@click.group()
def zones() -> None:
    """The zones (loudspeaker clusters): import a cluster list."""


@zones.command(name="import")
@click.argument("csv_file", metavar="CLUSTERS.csv", type=click.Path(dir_okay=False))
@click.option("--group", metavar="NAME", help=N_("also put the imported clusters in this group"))
@click.pass_obj
def import_(obj: Context, csv_file: str, group: str | None) -> None:
    """Add the clusters of a CSV file (id, name, village, lat, lon, kind, station, address) to schedule.toml
    as zones, or update their place; checked as `check` does, written only when all is well."""
    from broadcaster.config import find_config
    from broadcaster.config.clusters import read_clusters
    from broadcaster.config.schema import _valid_id
    from broadcaster.fsutil import project_lock
    if group is not None and not _valid_id(group):
        raise click.BadParameter(_("a group name may use only letters a-z, digits, '-' and '_'"), param_hint="--group")
    path = find_config(obj.config_option)
    clusters = read_clusters(Path(csv_file))
    with project_lock(path):   # read, changed and replaced by one writer at a time
        _import(obj, path, clusters, group)


def _import(obj: Context, path: Path, clusters, group: str | None) -> None:
    from broadcaster.config import display_path, load_config
    from broadcaster.config.clusters import with_clusters
    from broadcaster.fsutil import atomic_path
    text, added, updated = with_clusters(path.read_text(encoding="utf-8-sig"), clusters, group)
    # the new file is checked whole, beside the old one, before it takes its place
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        try:
            load_config(tmp, allow_outside=obj.allow_outside)
        except ConfigError as e:
            said = [p.replace(display_path(tmp), display_path(path)) for p in e.problems]
            raise ConfigError(_("schedule.toml would not be valid with these clusters: {reason}", reason=said[0]),
                              problems=[_("schedule.toml would not be valid with these clusters: {reason}",
                                          reason=p) for p in said], hint=_("nothing was changed")) from None
    click.echo(_("{added} cluster(s) added, {updated} updated in {path}", added=added, updated=updated,
                 path=path.name) + (_("; group {group} has them", group=group) if group else "."))
    from broadcaster.config.clusters import new_commune
    for c in clusters:   # an old address: say which commune it belongs to since July 2025
        now = new_commune(c.address) if c.address else None
        if now and now.split(",")[0].strip().lower() not in c.address.lower():
            click.echo(_("  {id}: \"{address}\" is in {commune} since 1/7/2025 (add the old name to aliases = "
                         "[...] if people still use it)", id=c.id, address=c.address, commune=now))
