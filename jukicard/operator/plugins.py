"""The vein plugin registry: plugins found by entry point, admitted only through an allow-list.

Plugins (capture drivers, matchers, stores) are arbitrary code from other distributions, so
they are loaded only when a configured :class:`AllowList` names them exactly — the
entry-point **name**, the **distribution** that provides it and that distribution's
**version** (optionally the entry point's object reference too).  Everything is decided from
the installed metadata *before* the plugin's module is imported; a plugin that is installed
but not allowed is never imported.

The allow-list is configuration, never code: a TOML or JSON file (:meth:`AllowList.load`)
or a frozen object built by the caller::

    # allow-list.toml
    [[device]]
    name = "sim"
    distribution = "jukicard-vein-sim"
    version = "0.1.0"

    [[matcher]]
    name = "mc-miura"
    distribution = "jukicard"
    version = "0.1.0"
    object = "jukicard.operator.matching:MaxCurvatureMiura"   # optional, exact

Distribution names compare by the packaging rule (PEP 503: case, ``-``, ``_`` and ``.``
are the same), versions as exact strings.  The identity of every plugin loaded (group,
name, distribution, version, object) is logged at INFO on ``jukicard.operator.plugins``.

This is the one module of the package allowed to use :mod:`importlib` — only
:mod:`importlib.metadata`, never ``import_module``: plugins are outside the import graph by
definition (``tests/unit/test_layering.py`` keeps that exception this narrow).
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from jukicard.errors import (
    JukiError,
    PluginError,
    PluginNotAllowed,
    PluginNotFound,
    UsageError,
)
from jukicard.operator.api import DEVICE_GROUP, MATCHER_GROUP, STORE_GROUP

__all__ = [
    "KINDS",
    "AllowedPlugin",
    "AllowList",
    "InstalledPlugin",
    "LoadedPlugin",
    "installed",
    "load_plugin",
    "instantiate",
    "normalise_distribution",
    "default_allow_list",
    "DEFAULT_ALLOW_LIST",
]

log = logging.getLogger("jukicard.operator.plugins")

#: The allow-list's section names and the entry-point groups they admit from.
KINDS: Mapping[str, str] = {"device": DEVICE_GROUP, "matcher": MATCHER_GROUP,
                            "store": STORE_GROUP}
_FIELDS = frozenset({"name", "distribution", "version", "object"})
_MAX_FILE = 1 << 20


def normalise_distribution(name: str) -> str:
    """A distribution name by the packaging rule (PEP 503): lower case, runs of ``-_.``
    as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class AllowedPlugin:
    """One allow-list entry.

    :ivar group: the entry-point group (:data:`~jukicard.operator.api.DEVICE_GROUP`...).
    :ivar name: the entry-point name.
    :ivar distribution: the distribution that must provide it.
    :ivar version: that distribution's exact version.
    :ivar object: the entry point's ``module:attr`` reference, or ``None`` for any.
    """

    group: str
    name: str
    distribution: str
    version: str
    object: str | None = None

    def admits(self, plugin: InstalledPlugin) -> bool:
        """True when ``plugin`` is exactly this entry."""
        return (plugin.group == self.group and plugin.name == self.name
                and normalise_distribution(plugin.distribution)
                == normalise_distribution(self.distribution)
                and plugin.version == self.version
                and (self.object is None or plugin.object == self.object))

    def describe(self) -> str:
        what = f"{self.name} from {self.distribution} {self.version}"
        return what if self.object is None else f"{what} ({self.object})"


@dataclass(frozen=True)
class AllowList:
    """The plugins that may be loaded (immutable)."""

    entries: tuple[AllowedPlugin, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "allow-list") -> AllowList:
        """Build from ``{"device": [{name, distribution, version[, object]}...], "matcher":
        [...], "store": [...]}``.

        :raises UsageError: an unknown section or field, a missing or non-string value.
        """
        entries: list[AllowedPlugin] = []
        for kind, items in data.items():
            if kind not in KINDS:
                raise UsageError(f"{source}: unknown section {kind!r} (known: "
                                 f"{', '.join(KINDS)})")
            if not isinstance(items, list):
                raise UsageError(f"{source}: [{kind}] must be a list of tables")
            for i, item in enumerate(items):
                where = f"{source}: {kind} entry {i + 1}"
                if not isinstance(item, Mapping):
                    raise UsageError(f"{where} is not a table")
                unknown = set(item) - _FIELDS
                if unknown:
                    raise UsageError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
                values: dict[str, str | None] = {}
                for key in sorted(_FIELDS):
                    value = item.get(key)
                    if value is None and key == "object":
                        values[key] = None
                        continue
                    if not isinstance(value, str) or not value.strip():
                        raise UsageError(f"{where}: {key!r} must be a non-empty string")
                    values[key] = value
                entries.append(AllowedPlugin(KINDS[kind], str(values["name"]),
                                             str(values["distribution"]),
                                             str(values["version"]), values["object"]))
        return cls(tuple(entries))

    @classmethod
    def load(cls, path: str | Path) -> AllowList:
        """Read an allow-list file: TOML (``.toml``) or JSON (any other suffix).

        :raises UsageError: the file cannot be read or does not parse.
        """
        path = Path(path)
        try:
            with path.open("rb") as fh:
                raw = fh.read(_MAX_FILE + 1)
        except OSError as exc:
            raise UsageError(f"allow-list {path}: cannot be read ({exc.strerror})") from None
        if len(raw) > _MAX_FILE:
            raise UsageError(f"allow-list {path}: larger than {_MAX_FILE} bytes")
        try:
            text = raw.decode("utf-8")
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"allow-list {path}: does not parse ({exc})") from None
        if not isinstance(data, dict):
            raise UsageError(f"allow-list {path}: not a table of sections")
        return cls.from_mapping(data, source=f"allow-list {path}")

    def for_group(self, group: str, name: str) -> tuple[AllowedPlugin, ...]:
        return tuple(e for e in self.entries if e.group == group and e.name == name)


@dataclass(frozen=True)
class InstalledPlugin:
    """An installed entry point, read from metadata (nothing imported)."""

    group: str
    name: str
    distribution: str
    version: str
    object: str

    def describe(self) -> str:
        return f"{self.name} from {self.distribution} {self.version} ({self.object})"

    def to_json(self) -> dict[str, str]:
        """The identity an audit record or a ``--json`` output carries."""
        return {"name": self.name, "distribution": self.distribution,
                "version": self.version}


@dataclass(frozen=True)
class LoadedPlugin:
    """An admitted and loaded plugin: its identity and the object the entry point names
    (a class or factory the caller instantiates)."""

    identity: InstalledPlugin
    factory: Any

    @property
    def name(self) -> str:
        return self.identity.name

    def __repr__(self) -> str:
        return f"LoadedPlugin({self.identity.group}: {self.identity.describe()})"


#: The allow-list used when none is configured: the bundled simulated device and the
#: built-in matcher (a data file shipped with the package, not code).
DEFAULT_ALLOW_LIST = Path(__file__).with_name("allow-list.default.toml")


def default_allow_list() -> AllowList:
    """The shipped default allow-list (:data:`DEFAULT_ALLOW_LIST`)."""
    return AllowList.load(DEFAULT_ALLOW_LIST)


def _entry_points(group: str) -> list[tuple[InstalledPlugin, metadata.EntryPoint]]:
    """Every entry point of ``group`` in every distribution on ``sys.path``.

    Not :func:`importlib.metadata.entry_points`: it keeps only the *first* distribution of
    each name, so a copy of an allowed distribution (same name and version) earlier on the
    path would silently replace the real one.  Here both are seen, and an entry point two
    of them offer is refused as ambiguous when they name different objects.  The same
    distribution reached twice (a directory twice on ``sys.path``) counts once.
    """
    found = []
    seen: set[tuple[str, str, str]] = set()
    for dist in metadata.distributions():
        eps = [ep for ep in dist.entry_points if ep.group == group]
        if not eps:
            continue
        dist_name = dist.name or "?"
        version = dist.version or "?"
        where = (normalise_distribution(dist_name), version,
                 str(Path(str(dist.locate_file(""))).resolve()))
        if where in seen:
            continue
        seen.add(where)
        for ep in eps:
            found.append((InstalledPlugin(group, ep.name, dist_name, version, ep.value), ep))
    return found


def installed(group: str) -> list[InstalledPlugin]:
    """Every entry point installed in ``group`` (from metadata; nothing is imported)."""
    return sorted((p for p, _ep in _entry_points(group)),
                  key=lambda p: (p.name, p.distribution, p.version))


def _metadata_place(ep: metadata.EntryPoint) -> str:
    """Where an entry point's distribution metadata sits (for messages; never raises)."""
    try:
        dist = ep.dist
        return str(dist.locate_file("")) if dist is not None else "?"
    except Exception:  # noqa: BLE001 - a message helper over arbitrary metadata
        return "?"


def load_plugin(group: str, name: str, allow: AllowList) -> LoadedPlugin:
    """Find the entry point ``name`` in ``group`` and load it if ``allow`` admits it.

    :raises PluginNotFound: no installed entry point has that name in the group.
    :raises PluginNotAllowed: one exists but no allow-list entry names exactly its
        distribution and version (the message says what is installed and what is allowed),
        or several installed ones naming different objects are admitted
        (ambiguous).
    :raises PluginError: the admitted plugin's module could not be imported.
    """
    candidates = [(p, ep) for p, ep in _entry_points(group) if p.name == name]
    if not candidates:
        others = sorted({p.name for p, _ep in _entry_points(group)})
        raise PluginNotFound(f"no plugin {name!r} is installed in {group} (installed: "
                             f"{', '.join(others) or 'none'})")
    wanted = allow.for_group(group, name)
    admitted = [(p, ep) for p, ep in candidates if any(e.admits(p) for e in wanted)]
    # Copies that agree on distribution, version and object load the very same module
    # (the import system, not the metadata, picks the file): one plugin, not ambiguous.
    if len({(normalise_distribution(p.distribution), p.version, p.object)
            for p, _ep in admitted}) == 1:
        admitted = admitted[:1]
    if len(admitted) != 1:
        have = "; ".join(p.describe() for p, _ep in candidates)
        allowed = "; ".join(e.describe() for e in wanted) or "nothing of that name"
        why = "ambiguous: several installed copies match" if admitted else \
            "not on the allow-list"
        where = "; ".join(_metadata_place(ep) for _p, ep in admitted)
        raise PluginNotAllowed(f"plugin {name!r} in {group} is {why}: installed {have}; "
                               f"allowed {allowed}" + ("" if not admitted else
                               f" (a second copy of a distribution on the import path is "
                               f"never chosen between: remove one; metadata in {where})"))
    plugin, ep = admitted[0]
    try:
        factory = ep.load()
    except Exception as exc:  # noqa: BLE001 - arbitrary plugin code: one typed error
        raise PluginError(f"plugin {plugin.describe()} in {group} could not be imported "
                          f"({type(exc).__name__})") from exc
    log.info("loaded %s plugin %s from distribution %s %s (%s)", group, plugin.name,
             plugin.distribution, plugin.version, plugin.object)
    return LoadedPlugin(plugin, factory)


def instantiate(plugin: LoadedPlugin, options: Mapping[str, object]) -> Any:
    """Call the plugin's factory with ``options`` (keyword arguments).

    :raises UsageError: the factory does not take these options.
    :raises PluginError: it failed otherwise (the library's own errors pass through).
    """
    try:
        return plugin.factory(**options)
    except JukiError:
        raise
    except TypeError as exc:
        raise UsageError(f"plugin {plugin.name!r} does not accept the options "
                         f"{', '.join(sorted(options)) or '(none)'}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - arbitrary plugin code: one typed error
        raise PluginError(f"plugin {plugin.name!r} could not be started "
                          f"({type(exc).__name__})") from exc
