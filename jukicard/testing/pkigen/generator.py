"""One generator run: the steps in order, each handed what it needs.

The run's shared state is explicit: the output tree, the key store and one random source
(:class:`~jukicard.testing.pkigen.x509gen.SerialNumbers` holds it with the serials already
used).  The order of the steps is the order of the random draws, so it is part of the
output: roots; for each resident, their personal data then their certificates; CRLs; CV
certificates; card profiles; manifest; READMEs.
"""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path
from typing import Any

from jukicard.testing.pkigen.carddata import card_key_name, make_cv, sm_key_name
from jukicard.testing.pkigen.cardid import with_card_identity
from jukicard.testing.pkigen.crlgen import make_crls
from jukicard.testing.pkigen.keys import KeyStore, PublishedKeys
from jukicard.testing.pkigen.manifest import build_manifest
from jukicard.testing.pkigen.names import cv_path
from jukicard.testing.pkigen.output import OutputTree, dumps
from jukicard.testing.pkigen.personas import CARD_PLANS, Resident, draw_resident
from jukicard.testing.pkigen.profiles import PROFILE_PLANS, card_profile, write_profile
from jukicard.testing.pkigen.readme import cards_readme, pki_readme
from jukicard.testing.pkigen.x509gen import (
    IssuedCert,
    Revocation,
    SerialNumbers,
    issue_ee,
    make_cas,
)

__all__ = ["DEFAULT_SEED", "generate"]

log = logging.getLogger(__name__)

DEFAULT_SEED = 20250401
#: Sub-folders of ``pki/`` emptied before a run (``keys/`` is kept: keys are reused).
_GENERATED_DIRS = ("ca", "ee", "crl", "cv")


def generate(
    out: Path | str,
    seed: int = DEFAULT_SEED,
    *,
    key_dir: Path | str | None = None,
    new_keys: bool = False,
) -> dict[str, Any]:
    """Generate the test PKI, card data and card profiles under ``out``.

    :param out: output root (``pki/`` and ``cards/`` are created below it).
    :param seed: seed of the ``random.Random`` behind every non-key choice.
    :param key_dir: where test keys are loaded from / generated into
        (default ``<out>/pki/keys``); keys used are always copied to ``<out>/pki/keys``.
    :param new_keys: regenerate all keys.
    :returns: the manifest (also written to ``<out>/pki/manifest.json``).
    :raises ValueError: a stored key has the wrong size (use ``new_keys``).
    """
    tree = OutputTree(Path(out))
    store = KeyStore(Path(key_dir) if key_dir is not None else tree.keys, new_keys=new_keys)
    keys = PublishedKeys(store, tree.keys)
    serials = SerialNumbers(random.Random(seed))
    for sub in _GENERATED_DIRS:
        shutil.rmtree(tree.pki / sub, ignore_errors=True)

    cas = make_cas(tree, keys, serials)
    residents: list[Resident] = []
    issued: list[IssuedCert] = []
    for plan in CARD_PLANS:
        res = draw_resident(plan, serials.rng)
        residents.append(res)
        issued += [issue_ee(res, kind, cas, out=tree, keys=keys, serials=serials)
                   for kind in plan.jpki_keys]
    revoked: dict[str, list[Revocation]] = {}
    for ee in issued:
        if ee.revocation is not None:
            revoked.setdefault(ee.ca.id, []).append(ee.revocation)
    crls = make_crls(cas, revoked, out=tree, keys=keys, serials=serials)
    cv = make_cv(keys)
    for name, cvc in cv.certs.items():
        tree.write_pki(cv_path(name), bytes(cvc))

    by_id = {r.id: r for r in residents}
    profiles = []
    for pp in PROFILE_PLANS:
        res = by_id[pp.resident]
        own = {ee.kind: ee for ee in issued if ee.resident.id == res.id}
        card_key = None if res.plan.is_juki else keys.get(card_key_name(res))
        sm_key = None if res.plan.is_juki else keys.get(sm_key_name(res))
        profile = with_card_identity(card_profile(res, own, cv, pp, card_key, sm_key), res, cv,
                                     keys)
        write_profile(tree, profile)
        profiles.append(profile)

    manifest = build_manifest(seed=seed, cas=cas, issued=issued, cv=cv, crls=crls,
                              residents=residents, cards=PROFILE_PLANS)
    tree.write_text(tree.pki / "manifest.json", dumps(manifest))
    tree.write_text(tree.pki / "README.md", pki_readme(seed))
    mynumber = next(p for p in profiles if p.card_type == "mynumber")
    juki = next(p for p in profiles if p.card_type == "juki")
    tree.write_text(tree.cards / "README.md", cards_readme(residents, mynumber, juki))
    if store.generated:
        log.info("generated %d new test keys in %s", len(store.generated), store.key_dir)
    return manifest
