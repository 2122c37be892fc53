"""The CLI's Hydra config groups: ours, joined by every installed plugin's.

A plugin package declares the folder that holds its ``env/``, ``reward/``, ``agent/``
and ``experiment/`` options with an entry point naming that folder as a package::

    [project.entry-points."incentives.configs"]
    shortcut = "shortcut_incentives.conf"

Hydra finds search-path plugins only in its ``hydra_plugins`` namespace package; ours is
registered by hand instead (``join_plugin_configs``), with Hydra's public
``Plugins.register``, so that every part of Hydra sees the plugins' options: runs,
multiruns and their launchers, ``--help``, ``--cfg`` and the compose API. The search
path is then ``hydra``'s own configs, ours (``main``), each plugin's in name order, and
any ``hydra.searchpath`` given on the command line; the first folder that has an option
wins, so a plugin cannot shadow one of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin

__all__ = [
    "CONFIG_GROUP",
    "GROUPS",
    "PluginConfigs",
    "config_dir",
    "group_options",
    "join_plugin_configs",
    "plugin_searchpath",
]

#: Entry point group: ``name = "package.holding.the.config.groups"``.
CONFIG_GROUP = "incentives.configs"
#: The config groups a run is composed of (``conf/<group>/<option>.yaml``).
GROUPS = ("env", "reward", "agent", "experiment")


def config_dir() -> str:
    """Our Hydra config folder: inside the package when installed, else the checkout's."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "_conf"
    return str(packaged if packaged.is_dir() else package.parent / "conf")


def plugin_searchpath() -> list[tuple[str, str]]:
    """Each installed plugin's config folder as (provider, Hydra search path), by name.

    A ``ValueError`` names an entry point that is not a package name, or a name that
    two packages declare with different folders.
    """
    found: dict[str, str] = {}
    for point in entry_points(group=CONFIG_GROUP):
        if point.attr or not point.module:
            raise ValueError(
                f"{CONFIG_GROUP}: entry point {point.name!r} = {point.value!r}; accepted: "
                "the package that holds the config groups, e.g. 'my_plugin.conf'"
            )
        other = found.get(point.name)
        if other is not None and other != point.module:
            raise ValueError(
                f"{CONFIG_GROUP}: the name {point.name!r} is declared twice ({other} and "
                f"{point.module}); accepted: one package per name"
            )
        found[point.name] = point.module
    return [(f"{CONFIG_GROUP}:{name}", f"pkg://{found[name]}") for name in sorted(found)]


class PluginConfigs(SearchPathPlugin):
    """Adds every installed plugin's config folder to Hydra's search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        """Append the plugins' folders after ours."""
        for provider, path in plugin_searchpath():
            search_path.append(provider=provider, path=path)


def join_plugin_configs() -> None:
    """Make Hydra search the installed plugins' configs (idempotent).

    Call it before Hydra composes anything: ``incentives-train`` does, and so do tests
    that use the compose API.
    """
    plugins = Plugins.instance()
    plugin_searchpath()  # a broken declaration is one clear error, before Hydra starts
    if PluginConfigs not in plugins.discover(SearchPathPlugin):
        plugins.register(PluginConfigs)


def group_options(
    group: str, conf: str | Path | None = None, extra: Sequence[str] = ()
) -> list[str]:
    """The options of a config group (``env``, ``hydra/launcher``...) on the full search
    path: Hydra's, ours (or ``conf``), the plugins' and the ``extra`` search paths.

    Example:
        >>> group_options("env")
        ['chess', 'qa', 'text']
    """
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.utils import create_config_search_path

    join_plugin_configs()
    search_path = create_config_search_path(str(conf or config_dir()))
    for path in extra:
        search_path.append(provider="hydra.searchpath in command-line", path=path)
    repository = ConfigRepository(search_path)
    return sorted(repository.get_group_options(group, ObjectType.CONFIG))
