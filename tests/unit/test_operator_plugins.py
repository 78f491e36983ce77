"""The vein plugin registry (issue 12): entry points admitted only by an exact allow-list.

Real entry points throughout: a throwaway distribution is installed into a temporary
directory put on ``sys.path`` (a ``.dist-info`` with ``entry_points.txt``); importlib is not
mocked.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from vein_standins import FakeDeviceStandIn, FakeMatcherStandIn, install_distribution

from jukicard.errors import PluginError, PluginNotAllowed, PluginNotFound, UsageError
from jukicard.operator import DEVICE_GROUP, MATCHER_GROUP
from jukicard.operator.plugins import (
    DEFAULT_ALLOW_LIST,
    AllowedPlugin,
    AllowList,
    default_allow_list,
    installed,
    instantiate,
    load_plugin,
)

DIST = "jukicard-vein-standin"
VERSION = "1.0.3"
TRIPWIRE = "jk_standin_tripwire"
#: A module that says when it is imported (a plugin that is not allowed never is).
TRIPWIRE_SOURCE = "import sys\nsys.modules[__name__].imported = True\nclass Device:\n    pass\n"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    install_distribution(
        site, DIST, VERSION,
        {DEVICE_GROUP: {"standin": "vein_standins:FakeDeviceStandIn",
                        "tripwire": f"{TRIPWIRE}:Device",
                        "broken": "jk_standin_missing_module:Nothing"},
         MATCHER_GROUP: {"standin": "vein_standins:FakeMatcherStandIn"}},
        modules={TRIPWIRE: TRIPWIRE_SOURCE})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, TRIPWIRE, raising=False)
    return site


def _allow(name: str = "standin", distribution: str = DIST, version: str = VERSION,
           group: str = DEVICE_GROUP, obj: str | None = None) -> AllowList:
    return AllowList((AllowedPlugin(group, name, distribution, version, obj),))


def test_an_allowed_plugin_is_loaded_and_its_identity_logged(
        site: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jukicard.operator.plugins")
    plugin = load_plugin(DEVICE_GROUP, "standin", _allow())
    assert plugin.factory is FakeDeviceStandIn
    assert (plugin.identity.distribution, plugin.identity.version) == (DIST, VERSION)
    assert plugin.identity.object == "vein_standins:FakeDeviceStandIn"
    assert f"standin from distribution {DIST} {VERSION}" in caplog.text
    assert repr(plugin) == (f"LoadedPlugin({DEVICE_GROUP}: standin from {DIST} {VERSION} "
                            "(vein_standins:FakeDeviceStandIn))")
    matcher = load_plugin(MATCHER_GROUP, "standin", _allow(group=MATCHER_GROUP))
    assert isinstance(instantiate(matcher, {}), FakeMatcherStandIn)


def test_distribution_names_compare_by_the_packaging_rule(site: Path) -> None:
    assert load_plugin(DEVICE_GROUP, "standin",
                       _allow(distribution="Jukicard_Vein.Standin")).factory is FakeDeviceStandIn


@pytest.mark.parametrize(("allow", "why"), [
    (dict(version="1.0.4"), "wrong version"),
    (dict(version="1.0"), "version prefix is not the version"),
    (dict(distribution="jukicard-vein-other"), "wrong distribution"),
    (dict(name="other"), "another entry-point name"),
    (dict(group=MATCHER_GROUP), "allowed as a matcher, asked as a device"),
    (dict(obj="vein_standins:FakeMatcherStandIn"), "another object"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_anything_not_exactly_allowed_is_refused(site: Path, allow: dict[str, str],
                                                 why: str) -> None:
    with pytest.raises(PluginNotAllowed) as info:
        load_plugin(DEVICE_GROUP, "standin", _allow(**allow))
    message = str(info.value)
    assert f"installed standin from {DIST} {VERSION}" in message, why
    assert "allowed" in message


def test_a_plugin_not_allowed_is_never_imported(site: Path) -> None:
    with pytest.raises(PluginNotAllowed, match="nothing of that name"):
        load_plugin(DEVICE_GROUP, "tripwire", _allow())
    assert TRIPWIRE not in sys.modules
    load_plugin(DEVICE_GROUP, "tripwire", _allow(name="tripwire"))  # the tripwire works
    assert sys.modules[TRIPWIRE].imported is True  # type: ignore[attr-defined]


def test_missing_plugin_is_not_found_and_lists_what_is_installed(site: Path) -> None:
    with pytest.raises(PluginNotFound) as info:
        load_plugin(DEVICE_GROUP, "nosuch", _allow())
    assert "standin" in str(info.value) and "tripwire" in str(info.value)
    assert [p.name for p in installed(DEVICE_GROUP) if p.distribution == DIST] == [
        "broken", "standin", "tripwire"]


def test_an_allowed_plugin_that_cannot_be_imported_is_a_typed_error(site: Path) -> None:
    with pytest.raises(PluginError, match="could not be imported"):
        load_plugin(DEVICE_GROUP, "broken", _allow(name="broken"))


def test_two_distributions_offering_the_same_name(tmp_path: Path, site: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A second distribution offering ``standin`` does not shadow the allowed one."""
    other = tmp_path / "other"
    install_distribution(other, "jukicard-vein-impostor", "1.0.3",
                         {DEVICE_GROUP: {"standin": f"{TRIPWIRE}:Device"}})
    monkeypatch.syspath_prepend(str(other))
    assert load_plugin(DEVICE_GROUP, "standin", _allow()).factory is FakeDeviceStandIn
    with pytest.raises(PluginNotAllowed) as info:
        load_plugin(DEVICE_GROUP, "standin", _allow(distribution="jukicard-vein-nobody"))
    assert "jukicard-vein-impostor" in str(info.value) and DIST in str(info.value)


def test_instantiate_types_its_failures(site: Path) -> None:
    plugin = load_plugin(DEVICE_GROUP, "standin", _allow())
    assert instantiate(plugin, {"subject": 4}).subject == 4
    with pytest.raises(UsageError, match="does not accept the options colour"):
        instantiate(plugin, {"colour": "red"})


# --------------------------------------------------------------------------- the file
def test_allow_list_files_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "allow.toml"
    toml.write_text('[[device]]\nname = "sim"\ndistribution = "d"\nversion = "1"\n'
                    '[[matcher]]\nname = "m"\ndistribution = "e"\nversion = "2"\n'
                    'object = "e.m:M"\n', encoding="utf-8")
    as_json = tmp_path / "allow.json"
    as_json.write_text(json.dumps({"device": [{"name": "sim", "distribution": "d",
                                               "version": "1"}],
                                   "matcher": [{"name": "m", "distribution": "e",
                                                "version": "2", "object": "e.m:M"}]}))
    expected = AllowList((AllowedPlugin(DEVICE_GROUP, "sim", "d", "1"),
                          AllowedPlugin(MATCHER_GROUP, "m", "e", "2", "e.m:M")))
    assert AllowList.load(toml) == AllowList.load(as_json) == expected


@pytest.mark.parametrize("text", [
    '[[camera]]\nname = "x"\ndistribution = "d"\nversion = "1"\n',   # unknown section
    '[[device]]\nname = "x"\ndistribution = "d"\n',                   # no version
    '[[device]]\nname = "x"\ndistribution = "d"\nversion = 1\n',      # not a string
    '[[device]]\nname = "x"\ndistribution = "d"\nversion = "1"\nany = true\n',
    '[device]\nname = "x"\n',                                          # not a list
    'device = [',                                                      # does not parse
])
def test_bad_allow_lists_are_usage_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "allow.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match="allow-list"):
        AllowList.load(path)


def test_missing_allow_list_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot be read"):
        AllowList.load(tmp_path / "none.toml")


def test_the_default_allow_list_is_a_shipped_file() -> None:
    """Configuration, not code: the bundled sim device and the built-in matcher."""
    assert DEFAULT_ALLOW_LIST.suffix == ".toml" and DEFAULT_ALLOW_LIST.is_file()
    entries = {(e.group, e.name, e.distribution) for e in default_allow_list().entries}
    assert entries == {(DEVICE_GROUP, "sim", "jukicard-vein-sim"),
                       (MATCHER_GROUP, "mc-miura", "jukicard")}


# --------------------------------------------------------------------------- review (rv-vein)
def test_a_copy_of_the_allowed_distribution_earlier_on_the_path_is_refused(
        tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: ``importlib.metadata.entry_points`` keeps only the first
    distribution of a name, so a second ``jukicard-vein-standin 1.0.3`` put earlier on
    ``sys.path`` (a user site, a PYTHONPATH entry, the working directory of ``python -m``)
    replaced the allowed one and its object was imported — the ambiguity check never saw
    two.  Fails on the old code: the shadow's tripwire module was imported."""
    shadow = tmp_path / "shadow"
    install_distribution(shadow, DIST, VERSION, {DEVICE_GROUP: {"standin": f"{TRIPWIRE}:Device"}})
    monkeypatch.syspath_prepend(str(shadow))
    with pytest.raises(PluginNotAllowed, match="several installed copies match") as info:
        load_plugin(DEVICE_GROUP, "standin", _allow())
    assert f"{TRIPWIRE}:Device" in str(info.value)
    assert TRIPWIRE not in sys.modules
    # the same directory twice on the path is one distribution, not two
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(shadow)])
    assert load_plugin(DEVICE_GROUP, "standin", _allow()).factory is FakeDeviceStandIn


def test_the_default_allow_list_pins_the_objects() -> None:
    """Review: the shipped allow-list names each entry point's object too, so a
    distribution of the right name and version pointing elsewhere is refused (defence in
    depth beside the duplicate check).  Fails on the old code (no object pinned)."""
    objects = {e.name: e.object for e in default_allow_list().entries}
    assert objects == {"sim": "jukicard_vein_sim.device:SimulatedVeinDevice",
                       "mc-miura": "jukicard.operator.matching:MaxCurvatureMiura"}
    assert load_plugin(DEVICE_GROUP, "sim", default_allow_list()).name == "sim"
    assert load_plugin(MATCHER_GROUP, "mc-miura", default_allow_list()).name == "mc-miura"


def test_an_ambiguous_plugin_names_where_the_copies_are(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal says where each copy's metadata sits (the message named only two
    identical-looking plugins, so nobody could tell which folder to clean up)."""
    for where, obj in (("one", "FakeDeviceStandIn"), ("two", "FakeMatcherStandIn")):
        install_distribution(tmp_path / where, "dup-dist", "1.0",
                             {DEVICE_GROUP: {"dup": f"vein_standins:{obj}"}})
        monkeypatch.syspath_prepend(str(tmp_path / where))
    allow = AllowList((AllowedPlugin(DEVICE_GROUP, "dup", "dup-dist", "1.0"),))
    with pytest.raises(PluginNotAllowed) as info:
        load_plugin(DEVICE_GROUP, "dup", allow)
    text = str(info.value)
    assert str(tmp_path / "one") in text and str(tmp_path / "two") in text


# --------------------------------------------------------------------------- review (rv-vein2)
def test_identical_copies_of_the_allowed_distribution_are_one_plugin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (rv-vein2): a left-over metadata copy of the same distribution, version and
    entry-point object (the ``*.egg-info`` an in-tree ``pip install .`` leaves in a source
    folder that ``python -m`` then puts on ``sys.path``) was refused as ambiguous, though
    both copies load the very same module: the import system, not the metadata, picks the
    file, so refusing bought nothing.  Fails on the old code (PluginNotAllowed)."""
    for where in ("installed", "left-over"):
        install_distribution(tmp_path / where, "dup-dist", "1.0",
                             {DEVICE_GROUP: {"dup": "vein_standins:FakeDeviceStandIn"}})
        monkeypatch.syspath_prepend(str(tmp_path / where))
    allow = AllowList((AllowedPlugin(DEVICE_GROUP, "dup", "dup-dist", "1.0"),))
    assert load_plugin(DEVICE_GROUP, "dup", allow).factory is FakeDeviceStandIn
    # copies that name different objects stay ambiguous
    install_distribution(tmp_path / "other", "dup-dist", "1.0",
                         {DEVICE_GROUP: {"dup": "vein_standins:FakeMatcherStandIn"}})
    monkeypatch.syspath_prepend(str(tmp_path / "other"))
    with pytest.raises(PluginNotAllowed, match="several installed copies match"):
        load_plugin(DEVICE_GROUP, "dup", allow)
