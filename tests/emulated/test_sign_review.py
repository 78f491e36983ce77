"""Issue 13 review of the signing side (``sign --cms``, ``sign --pdf``) on the emulated card.

Each test names the defect it pins down and fails on the code before the fix.  The emulated
card ``mynumber-01`` stands in for a real card; the autouse PIN ledger asserts one VERIFY
with data per signing, with the PIN the test gave.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, Emulated, ForeignTransport, MakeCard, PinLedger
from test_cli_card import Cli, cli  # noqa: F401 - the CLI fixture

from jukicard.services.cmssign import sign_cms
from jukicard.services.interaction import ScriptedInteraction
from jukicard.services.pdfsign import sign_pdf
from jukicard.testing.hostilepdf import minimal_pdf
from jukicard.testing.tsa import TsaServer
from jukicard.transport.loopback import LoopbackTransport

PDF = minimal_pdf("application form")


def _shared(card: Emulated, kind: str) -> Any:
    if kind == "pcsc-shared-mode":  # a connection that does not see all the card's traffic
        return LoopbackTransport(card.card, shared=True)
    return ForeignTransport(card.transport)  # a caller's own Transport implementation


@pytest.mark.parametrize("kind", ["pcsc-shared-mode", "foreign-transport"])
@pytest.mark.parametrize("what", ["cms", "cms-pss", "pdf"])
def test_sign_key_documents_work_on_a_shared_connection(make_card: MakeCard, pins: PinLedger,
                                                        kind: str, what: str) -> None:
    """Old code: the sign password was VERIFYed (it opens the sign certificate) in one card
    operation and the signature sent in the next; on a connection that does not see all
    the card's traffic (PC/SC shared mode, which ``share="auto"`` falls back to when another
    program holds the card, or any Transport that is not jukicard's) the second operation
    selected the AP again, which logged the password out: ``SecurityStatusError`` after the
    PIN was spent, and no signed document ever.  Now VERIFY, certificate and signature are
    one card operation: one VERIFY, one signature, a document."""
    card = make_card("mynumber-01")
    transport = _shared(card, kind)
    it = ScriptedInteraction([pins.submit(PINS["sign"])])
    if what == "pdf":
        res: Any = sign_pdf(transport, it, PDF)
        assert res.pdf.startswith(PDF)
    else:
        res = sign_cms(transport, it, b"form", scheme="pss" if what == "cms-pss" else
                       "pkcs1v15")
        assert res.cms
    assert len(it.requests) == 1 and card.card.stats.signatures == 1


def test_pdf_card_transaction_ends_before_the_time_stamp_request(mynumber: Emulated,
                                                                pins: PinLedger) -> None:
    """The card operation that keeps the password verified (see above) is released as soon
    as the card has signed: the TSA exchange (network, up to its deadline) never holds the
    card.  Old code: no transaction at all (the test above failed instead)."""
    depths: list[int] = []
    transport = LoopbackTransport(mynumber.card, shared=True)
    with TsaServer() as tsa:
        original = tsa.answer

        def answer(query: bytes) -> tuple[int, str, bytes]:
            depths.append(transport.transaction_depth)
            return original(query)

        tsa.answer = answer  # type: ignore[method-assign]
        res = sign_pdf(transport, ScriptedInteraction([pins.submit(PINS["sign"])]), PDF,
                       tsa_url=tsa.url)
    assert res.level == "B-T" and len(depths) == 2  # the probe, then the signature's token
    assert depths == [0, 0]


# --------------------------------------------------------------------------- CLI JSON
@pytest.mark.parametrize("what", ["cms", "pdf"])
def test_cli_sign_json_describes_the_sign_certificate_as_signature_verify_does(
        cli: Cli, pins: PinLedger, tmp_path: Path, what: str) -> None:  # noqa: F811
    """Old code: ``sign --cms --json`` and ``sign --pdf --json`` printed
    ``"signer_subject": "CN=…,L=Chiyoda-ku,L=Tokyo-to,C=JP"`` — the holder's municipality
    — while ``signature verify --json`` describes a JPKI sign certificate without its
    subject.  Now both print the same ``"signer"`` object; times end in ``Z`` as there."""
    if what == "pdf":
        doc, out = tmp_path / "form.pdf", tmp_path / "signed.pdf"
        doc.write_bytes(PDF)
        argv = ["sign", str(doc), "--pdf", "-o", str(out)]
        verify = ["signature", "verify", str(out), "--json"]
    else:
        doc, out = tmp_path / "form.txt", tmp_path / "form.p7s"
        doc.write_bytes(b"application form\n")
        argv = ["sign", str(doc), "--cms", "-o", str(out)]
        verify = ["signature", "verify", str(doc), str(out), "--json"]
    res = cli.run(*argv, "--emulated", "--pin-stdin", "--json",
                  stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    for text in ("Chiyoda", "Tokyo", "L="):
        assert text not in res.out and text not in res.err
    summary = json.loads(res.out)
    assert "signer_subject" not in summary
    ver = cli.run(*verify)
    assert ver.rc == 0, ver.out + ver.err
    assert summary["signer"] == json.loads(ver.out)["signatures"][0]["signer"]
    if what == "pdf":
        assert summary["signing_time"].endswith("Z")
