"""The test-PKI generator split by concern (issue 8): one source of truth for the card facts,
profiles built from the emulator's dataclasses, the package entry point, module sizes."""

from __future__ import annotations

import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jukicard.apdu.apps import (
    Charset,
    CommonEf,
    JpkiCert,
    JpkiKey,
    JukiEf,
    PinSpec,
    TextEf,
    VisualEf,
    all_applications,
    find_application,
)
from jukicard.apdu.apps.jpki import TOKEN_EF
from jukicard.emulator.profile import CardProfile, PinFileSpec
from jukicard.testing import pkigen
from jukicard.testing.pkigen import readme
from jukicard.testing.pkigen.personas import CARD_PLANS, draw_resident
from jukicard.testing.pkigen.x509gen import SerialNumbers

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "jukicard" / "testing" / "pkigen"
VECTORS = ROOT / "vectors"


def _known_fids() -> set[int]:
    fids: set[int] = {TOKEN_EF}
    for app in all_applications():
        fids |= {p.ef for p in app.pins} | set(app.public_efs)
    for enum in (TextEf, VisualEf, CommonEf, JukiEf):
        fids |= {int(e) for e in enum}
    fids |= {c.spec.ef for c in JpkiCert} | {k.spec.ef for k in JpkiKey}
    return fids


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def written_out_facts(sources: list[Path]) -> list[str]:
    """AIDs and EF ids of known applications spelled out in string literals (docstrings
    aside) of ``sources``, as ``file:line: text``."""
    aids = {a.aid.hex().upper() for a in all_applications()}
    fids = "|".join(sorted(f"{f:04X}" for f in _known_fids()))
    fid_re = re.compile(rf"(?<![0-9A-Fa-f])(?:{fids})(?![0-9A-Fa-f])")
    found = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in skip):
                text = node.value
                hits = [a for a in aids if a in text.upper()] + fid_re.findall(text)
                found += [f"{path.name}:{node.lineno}: {h}" for h in hits]
    return found


def test_generator_writes_out_no_aid_or_fid() -> None:
    """AIDs and EF ids come from jukicard.apdu.apps only.  Fails on the code before the
    split (pkigen.py spelled out the 住基AP AID and every FID in its README texts)."""
    sources = sorted(PACKAGE.glob("*.py"))
    assert sources
    assert written_out_facts(sources) == []


def test_the_fact_scanner_sees_spelled_out_facts(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text('"""Docstring 0018 is fine."""\nA = "EF `0018` in D3921000310001010401"\n'
                   'B = "3BE000FF8131FE4514 2026-05-31"\n', encoding="utf-8")
    assert written_out_facts([src]) == ["m.py:2: D3921000310001010401", "m.py:2: 0018"]


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(sizes.values()) < 600, sizes


def test_python_dash_m_entry_point() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "jukicard.testing.pkigen", "--help"],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--new-keys" in done.stdout


# --------------------------------------------------------------------------- profiles
@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    keys = tmp_path_factory.mktemp("keys")
    for f in (VECTORS / "pki" / "keys").glob("*.pem"):
        shutil.copy(f, keys / f.name)
    pkigen.generate(out, key_dir=keys)
    return out / "cards"


def test_profiles_are_the_emulator_dataclasses_to_json(cards: Path) -> None:
    """Each profile file is exactly ``CardProfile.to_json()`` of what it parses to: no key,
    order or value the emulator's dataclasses would not write themselves."""
    for path in sorted(cards.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert CardProfile.from_json(raw).to_json() == raw, path.name


def test_every_pin_file_carries_its_facts(cards: Path) -> None:
    for path in sorted(cards.glob("*.json")):
        profile = CardProfile.parse(path.read_bytes())
        variant = "juki" if profile.card_type == "juki" else ""
        for app in profile.applications:
            facts = find_application(app.aid, variant)
            assert facts is not None and facts.name == app.name, (path.name, app.name)
            for f in app.files:
                if isinstance(f, PinFileSpec):
                    spec = facts.pin(f.fid)
                    assert spec is not None and f.format == spec, (path.name, app.name, f.fid)
                    assert (f.min_len, f.max_len, f.max_tries) == (
                        spec.min_len, spec.max_len, spec.max_tries)


# --------------------------------------------------------------------------- pieces
def test_residents_are_drawn_deterministically_and_hide_in_repr() -> None:
    a = [draw_resident(p, random.Random(1)) for p in CARD_PLANS]
    b = [draw_resident(p, random.Random(1)) for p in CARD_PLANS]
    assert a == b
    r1 = a[0]
    assert r1.name not in repr(r1) and r1.my_number not in repr(r1)
    assert r1.pin(r1.pins[0].spec) == pkigen.AUTH_PIN
    with pytest.raises(KeyError):
        a[-1].pin(r1.pins[2].spec)  # the 住基カード has no text AP


def test_serial_numbers_never_repeat_and_keep_their_size() -> None:
    serials = SerialNumbers(random.Random(3))
    drawn = [serials.draw(4) for _ in range(8)]
    assert sorted(drawn) == list(range(8, 16))


def test_readme_refuses_one_number_for_different_limits() -> None:
    base = PinSpec("x", 1, 4, 4, 3, Charset.DIGITS, "x", "x")
    other = PinSpec("y", 2, 4, 4, 5, base.charset, "y", "y")
    assert readme._tries(base, base) == 3
    with pytest.raises(ValueError):
        readme._tries(base, other)
