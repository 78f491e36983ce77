"""``jukicard operator vein``: enrol and verify an operator's finger vein, list and revoke
references, create and rotate the deployment key (issue 12).

Plugins: ``--device NAME`` (default ``sim``) and ``--matcher NAME`` (default ``mc-miura``)
are entry points, loaded only if the allow-list admits them: ``--allow-list FILE`` (TOML or
JSON, see :mod:`jukicard.operator.plugins`), default the shipped one (the bundled simulated
device from ``jukicard-vein-sim`` and the built-in matcher).  ``--device-option KEY=VALUE``
(repeatable; the value is read as JSON when it parses, else as a string) is passed to the
device's constructor (e.g. the simulated device's ``seed`` and ``preset``).  With a
simulated device, ``--present SUBJECT[:FINGER]`` says whose finger is on the sensor and
``--simulate-attack SPECIES`` makes it a presentation attack (refused for a real device).
The matcher gets the deployment's template-protection key from the key file
(``protection_key=``), so stored templates are the keyed, irreversible transform.

Store: ``--store PATH`` (``$JUKICARD_VEIN_STORE``; SQLite, created on first use) and
``--key-file PATH`` (``$JUKICARD_VEIN_KEY_FILE``; created by ``keygen``, mode 0600).

Exit status as every command (``jukicard --help``); ``verify`` exits 0 on a match and 5 on
no match (the result is printed either way).  ``evaluate`` runs
:mod:`jukicard.operator.evaluate` on the allow-listed simulated device
(:mod:`jukicard.services.vein_eval`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from jukicard.cli._common import JukiGroup, json_option, notice, out
from jukicard.cli._text import escape
from jukicard.errors import UsageError

if TYPE_CHECKING:
    from jukicard.operator import VeinDevice, VeinMatcher
    from jukicard.operator.kek import KeyFile
    from jukicard.operator.store import SqliteTemplateStore

__all__ = ["operator", "vein", "EXIT_NO_MATCH"]

F = TypeVar("F", bound=Callable[..., Any])
#: ``verify`` without a match (a failed check, as a failed validation).
EXIT_NO_MATCH = 5


@click.group("operator", cls=JukiGroup, help="the operator check at terminal login "
             "(静脈認証: finger vein)", short_help="operator check (finger vein)")
def operator() -> None:
    pass


@operator.group("vein", cls=JukiGroup, help="finger-vein enrolment, verification and the "
                "protected template store (plugins admitted by an allow-list)")
def vein() -> None:
    pass


# --------------------------------------------------------------------------- options
def _store_options(f: F) -> F:
    options = [
        click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False),
                     envvar="JUKICARD_VEIN_KEY_FILE", default=None,
                     help="deployment key file, mode 0600 (default: "
                     "$JUKICARD_VEIN_KEY_FILE; create one with 'keygen')"),
        click.option("--store", type=click.Path(path_type=Path, dir_okay=False),
                     envvar="JUKICARD_VEIN_STORE", default=None,
                     help="template store, a SQLite file created on first use (default: "
                     "$JUKICARD_VEIN_STORE)"),
    ]
    for option in options:
        f = option(f)
    return f


def _plugin_options(f: F) -> F:
    options = [
        click.option("--simulate-attack", metavar="SPECIES", default=None,
                     help="simulated device only: present an attack of this species "
                     "(e.g. printed)"),
        click.option("--present", metavar="SUBJECT[:FINGER]", default=None,
                     help="simulated device only: whose finger is presented"),
        click.option("--device-option", "device_options", multiple=True, metavar="KEY=VALUE",
                     help="passed to the device's constructor (repeatable; JSON values)"),
        click.option("--allow-list", type=click.Path(path_type=Path, dir_okay=False),
                     default=None, help="plugin allow-list, TOML or JSON (default: the shipped "
                     "one: device 'sim' from jukicard-vein-sim, matcher 'mc-miura')"),
        click.option("--matcher", default="mc-miura", show_default=True,
                     help="matcher plugin (entry point in jukicard.vein.matchers)"),
        click.option("--device", default="sim", show_default=True,
                     help="capture device plugin (entry point in jukicard.vein.devices)"),
    ]
    for option in options:
        f = option(f)
    return f


def _device_options(pairs: tuple[str, ...]) -> dict[str, object]:
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError("--device-option must be KEY=VALUE (KEY a Python identifier)")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def _open_store(store: Path | None, key_file: Path | None
                ) -> tuple[SqliteTemplateStore, KeyFile]:
    from jukicard.operator.kek import KeyFile
    from jukicard.operator.store import SqliteTemplateStore

    if store is None:
        raise UsageError("no template store: give --store PATH or set JUKICARD_VEIN_STORE")
    if key_file is None:
        raise UsageError("no key file: give --key-file PATH or set JUKICARD_VEIN_KEY_FILE")
    keys = KeyFile(key_file)
    return SqliteTemplateStore(store, keys), keys


def _load_plugins(device: str, matcher: str, allow_list: Path | None,
                  device_options: tuple[str, ...], protection_key: bytes
                  ) -> tuple[VeinDevice, VeinMatcher, dict[str, object]]:
    from jukicard.operator import DEVICE_GROUP, MATCHER_GROUP
    from jukicard.operator.plugins import AllowList, default_allow_list, instantiate, load_plugin

    allow = default_allow_list() if allow_list is None else AllowList.load(allow_list)
    dev_plugin = load_plugin(DEVICE_GROUP, device, allow)
    match_plugin = load_plugin(MATCHER_GROUP, matcher, allow)
    identity: dict[str, object] = {"device": dev_plugin.identity.to_json(),
                                   "matcher": match_plugin.identity.to_json()}
    matcher_obj = instantiate(match_plugin, {"protection_key": protection_key})
    device_obj = instantiate(dev_plugin, _device_options(device_options))
    return device_obj, matcher_obj, identity


def _device_json(device: VeinDevice, present: str | None,
                 attack: str | None) -> dict[str, object]:
    """Describe the device; with a simulated one, say so and script the presentation."""
    info = device.info()
    if info.simulated:
        notice(f"simulated device ({info.driver_name} {info.driver_version}): synthetic "
               "images, no real finger; every figure is simulated")
    if present is not None or attack is not None:
        scripted = getattr(device, "present", None)
        if not info.simulated or not callable(scripted):
            raise UsageError("--present and --simulate-attack need a simulated device")
        if present is None:
            raise UsageError("--simulate-attack needs --present")
        subject, _sep, finger = present.partition(":")
        if not subject.isdigit() or not (finger.isdigit() or finger == ""):
            raise UsageError("--present must be SUBJECT[:FINGER] (numbers)")
        try:
            scripted(int(subject), int(finger or 0), attack=attack)
        except ValueError as exc:
            raise UsageError(f"--present/--simulate-attack: {exc}") from None
    return {"driver": info.driver_name, "driver_version": info.driver_version,
            "model": info.model, "simulated": info.simulated}


def _with_plugins(f: F) -> F:
    """Load the plugins and the store, open the device; the command gets ``device``,
    ``matcher``, ``store`` and ``identity`` (the plugins and device, for the JSON)."""
    @functools.wraps(f)
    def wrapper(*args: Any, device: str, matcher: str, allow_list: Path | None,
                device_options: tuple[str, ...], present: str | None,
                simulate_attack: str | None, store: Path | None, key_file: Path | None,
                **kwargs: Any) -> Any:
        template_store, keys = _open_store(store, key_file)
        device_obj, matcher_obj, identity = _load_plugins(
            device, matcher, allow_list, device_options, keys.protection_key())
        with device_obj:
            identity["device_info"] = _device_json(device_obj, present, simulate_attack)
            return f(*args, device=device_obj, matcher=matcher_obj, store=template_store,
                     identity=identity, **kwargs)
    return _plugin_options(_store_options(wrapper))  # type: ignore[return-value]


# --------------------------------------------------------------------------- commands
@vein.command("keygen", short_help="create a deployment key file (0600)",
              help="Create a new deployment key file (mode 0600; never overwrites "
              "one). Keep it off backups the store goes to.")
@click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False),
              envvar="JUKICARD_VEIN_KEY_FILE", required=True,
              help="the file to create (default: $JUKICARD_VEIN_KEY_FILE)")
@json_option()
def keygen(key_file: Path, as_json: bool) -> int:
    from jukicard.operator.kek import KeyFile

    KeyFile.create(key_file)
    if as_json:
        out().json({"key_file": str(key_file), "created": True})
    else:
        out().text(escape(f"created key file {key_file} (mode 0600)"))
    return 0


@vein.command("enroll", short_help="enrol an operator's finger (approved)",
              help="Enrol one finger of an operator (an administrator approves: "
              "--approved-by). Captures 3-5 images, fuses them into one protected template "
              "and stores it sealed; no image is kept.")
@click.option("--operator-id", required=True, help="the operator (from their IC card)")
@click.option("--finger", "finger_id", type=click.IntRange(0, 10), required=True,
              help="finger position (ISO/IEC 39794: 1-10, 0 unknown)")
@click.option("--approved-by", required=True, help="the approving administrator")
@click.option("--captures", type=click.IntRange(3, 5), default=3, show_default=True,
              help="enrolment captures fused into the template")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 600), default=15.0,
              show_default=True, help="seconds to wait for each capture")
@_with_plugins
@json_option()
def enroll(device: VeinDevice, matcher: VeinMatcher, store: SqliteTemplateStore,
           identity: dict[str, object], operator_id: str, finger_id: int, approved_by: str,
           captures: int, timeout_s: float, as_json: bool) -> int:
    from jukicard.services.vein import enrol_operator

    result = enrol_operator(device, matcher, store, operator_id, finger_id, approved_by,
                            captures=captures, timeout_s=timeout_s,
                            guidance=notice)
    if as_json:
        out().json({**result.to_json(), "plugins": identity})
    else:
        out().text(escape(
            f"enrolled finger {finger_id} of operator {operator_id} as {result.record_id} "
            f"(matcher {result.matcher_id} {result.matcher_version}, {result.captures} "
            f"captures, {result.fta_count} refused for quality)"))
    return 0


@vein.command("verify", short_help="verify an operator's finger (1:1)",
              help="Verify an operator's finger vein against their references "
              "(1:1) at --max-fmr. Exit 0 on a match, 5 on no match; a presentation attack "
              "is exit 5 with no decision.")
@click.option("--operator-id", required=True, help="the operator (from their IC card)")
@click.option("--max-fmr", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=1e-4, show_default=True, help="maximum false-match rate per comparison")
@click.option("--attempts", type=click.IntRange(1, 10), default=3, show_default=True,
              help="captures compared before the answer is no match")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 600), default=15.0,
              show_default=True, help="seconds to wait for each capture")
@_with_plugins
@json_option()
def verify(device: VeinDevice, matcher: VeinMatcher, store: SqliteTemplateStore,
           identity: dict[str, object], operator_id: str, max_fmr: float, attempts: int,
           timeout_s: float, as_json: bool) -> int:
    from jukicard.services.vein import verify_operator

    result = verify_operator(device, matcher, store, operator_id, max_fmr=max_fmr,
                             attempts=attempts, timeout_s=timeout_s,
                             guidance=notice)
    if as_json:
        out().json({**result.to_json(), "plugins": identity})
    else:
        pad = "none" if result.pad is None else result.pad.decision.value
        out().text(escape(
            f"{'MATCH' if result.match else 'NO MATCH'}: operator {operator_id}, score "
            f"{result.score:.4f} (threshold {result.threshold:.4f}, achieved FMR "
            f"{result.achieved_fmr:.2e} for max {result.max_fmr:.0e}), quality "
            f"{result.quality}, PAD {pad}, record {result.record_id}, attempts "
            f"{result.attempts}, {result.fta_count} refused for quality"))
    return 0 if result.match else EXIT_NO_MATCH


@vein.command("list", short_help="list references and tombstones",
              help="List the references (active and revoked tombstones); no "
              "template or key data.")
@_store_options
@json_option()
def list_(store: Path | None, key_file: Path | None, as_json: bool) -> int:
    records = _open_store(store, key_file)[0].inventory()
    if as_json:
        out().json({"records": [r.to_json() for r in records]})
        return 0
    for r in records:
        state = (f"revoked {r.revoked_at} by {r.revoked_by}: {r.revoke_reason}"
                 if r.revoked else "active")
        out().text(escape(f"{r.record_id}  {r.operator_id}  finger {r.finger_id}  "
                          f"{r.matcher_id} {r.template_format}  {r.created_at}  "
                          f"approved by {r.approved_by}  {state}"))
    return 0


@vein.command("revoke", short_help="revoke a reference (crypto-shredding)",
              help="Revoke one reference (a rec-... id) or every active reference "
              "of an operator: the record's key is destroyed, a tombstone kept, then the "
              "keys are rotated ('rotate-keys'), which retires the key-encryption key: a "
              "copy of the record made earlier (a backup) never opens again.")
@click.argument("target", metavar="RECORD_ID|OPERATOR_ID")
@click.option("--approved-by", required=True, help="the approving administrator")
@click.option("--reason", required=True, help="why (kept in the tombstone)")
@click.option("--rotate/--no-rotate", default=True, show_default=True,
              help="rotate the keys right after (--no-rotate: an earlier copy of the "
              "record opens until the next 'rotate-keys')")
@_store_options
@json_option()
def revoke(target: str, approved_by: str, reason: str, rotate: bool, store: Path | None,
           key_file: Path | None, as_json: bool) -> int:
    template_store = _open_store(store, key_file)[0]
    count = template_store.revoke(target, approved_by, reason)
    rewrapped = None
    if rotate:
        notice(f"revoked {count} reference(s); rotating the keys")
        rewrapped = template_store.rotate_keys()
    if as_json:
        out().json({"revoked": count, "rewrapped": rewrapped})
    else:
        out().text(f"revoked {count} reference(s)" + (
            "" if rewrapped is None else
            f"; re-wrapped {rewrapped} record key(s) under a new key-encryption key"))
    return 0


@vein.command("rotate-keys", short_help="re-wrap every record under a new key",
              help="Make a new key-encryption key current and re-wrap every "
              "record's key under it (one transaction); the old key is then retired.")
@_store_options
@json_option()
def rotate_keys(store: Path | None, key_file: Path | None, as_json: bool) -> int:
    count = _open_store(store, key_file)[0].rotate_keys()
    if as_json:
        out().json({"rewrapped": count})
    else:
        out().text(f"re-wrapped {count} record key(s) under a new key-encryption key")
    return 0


@vein.command("evaluate", short_help="evaluate the matcher on the simulated device (EER, "
              "FNMR, DET)",
              help="Evaluate the matcher on the simulated device (ISO/IEC 19795-1 "
              "enrol/probe: subjects split into development and evaluation halves; captures "
              "0-2 fused, the rest probes). Writes results.json, det.png and det.csv to --out; "
              "--json prints the figures (EER, FNMR at FMR 1e-2/1e-3 with Clopper-Pearson "
              "95 % intervals, FTA/FTE, simulated PAD figures). SYNTHETIC data: the figures "
              "say nothing about real fingers or devices.")
@click.option("--preset", type=click.Choice(["clean", "standard", "hard"]),
              default="standard", show_default=True,
              help="the simulated device's capture-variation preset")
@click.option("--subjects", type=click.IntRange(4, 1000), default=100, show_default=True,
              help="subjects (the first half picks thresholds, the second half reports)")
@click.option("--captures", type=click.IntRange(4, 100), default=10, show_default=True,
              help="captures per subject (3 fused into the reference, the rest probes)")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="worker processes")
@click.option("--protected", is_flag=True,
              help="evaluate the protected (keyed, cancellable) template format")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="where to write the files (default: ./vein-eval-PRESET)")
@click.option("--device", default="sim", show_default=True,
              help="simulated device plugin (entry point in jukicard.vein.devices)")
@click.option("--allow-list", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              default=None, help="plugin allow-list, TOML or JSON (default: the shipped one)")
@json_option()
def evaluate_(preset: str, subjects: int, captures: int, workers: int, protected: bool,
              out_dir: Path | None, device: str, allow_list: Path | None,
              as_json: bool) -> int:
    from jukicard.operator.plugins import AllowList, default_allow_list
    from jukicard.services.vein_eval import run_evaluation

    allow = default_allow_list() if allow_list is None else AllowList.load(allow_list)
    target = out_dir if out_dir is not None else Path(f"vein-eval-{preset}")
    notice(f"evaluating {subjects} simulated subjects x {captures} captures ({preset}) on "
           f"{workers} worker(s); synthetic data")
    result = run_evaluation(device=device, allow=allow, preset=preset, subjects=subjects,
                            captures=captures, out_dir=target, workers=workers,
                            protected=protected)
    figures = result.figures
    if as_json:
        out().json(figures)
        return 0
    ev = figures["eval"]
    lines = [f"SIMULATED evaluation, preset {preset}, {ev['counts']['genuine_trials']} "
             f"genuine / {ev['counts']['impostor_trials']} impostor comparisons "
             f"(config {figures['config_hash'][:12]})",
             f"EER {ev['eer'] * 100:.3f} %"]
    for name, point in ev["operating_points"].items():
        fnmr = point["fnmr"]
        low, high = fnmr["ci95"]
        ci = "" if low is None or high is None else \
            f" (95 % CI {low * 100:.2f}-{high * 100:.2f} %)"
        bound = f", {fnmr['zero_errors_bound']}" if "zero_errors_bound" in fnmr else ""
        lines.append(f"FNMR at FMR {name.replace('_', ' ')}: {fnmr['errors']}/"
                     f"{fnmr['trials']}{ci}{bound}")
    lines.append(f"files: {result.json_path}, {result.det_png}, {result.det_csv}")
    for line in lines:
        out().text(escape(line))
    return 0
