"""The in-memory bulk API (:mod:`jukicard.pki.bulk`): every answer equals the per-item strict
path (``signature verify``: :func:`jukicard.services.signatures.verify_signature`), over
generated cases (valid, revoked, expired, weak key, wrong key, tampered document, unknown
issuer, SHA-1, CMS attached/detached/other signer, raw in three encodings, digests,
malformed inputs), under both presets and at two times."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pytest

from jukicard.errors import UsageError
from jukicard.pki.bulk import BulkItem, BulkReason, BulkVerifier, ItemResult
from jukicard.pki.certs import load_certificate
from jukicard.pki.policy import ValidationPolicy
from jukicard.services.signatures import SignatureOptions, verify_signature
from jukicard.services.verify import VerifyOptions
from jukicard.testing.bulkgen import ANCHORS, AT, CRLS, PKI, Case, digest_items, write_corpus

#: What the bulk path answers where the per-item path stops with a usage error (exit 2).
USAGE_ANSWERS = {"unusable-input", "unreadable-input", "malformed-certificate"}
LATER = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)  # the leaf certificates have expired


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case]]:
    folder = tmp_path_factory.mktemp("bulk")
    return folder, write_corpus(folder)


def options(preset: str, at: dt.datetime, lenient: bool = False) -> VerifyOptions:
    return VerifyOptions(anchors=tuple(str(PKI / a) for a in ANCHORS),
                         crls=tuple(str(PKI / c) for c in CRLS), at=at, preset=preset,
                         allow_test_anchors=preset == "jpki", lenient=lenient)


def item(folder: Path, line: dict) -> BulkItem:
    cert = (folder / line["certificate"]).read_bytes() if "certificate" in line else None
    return BulkItem(line["id"], (folder / line["signature"]).read_bytes(), cert,
                    document=str(folder / line["document"]) if "document" in line else None,
                    digest=bytes.fromhex(line["digest"]) if "digest" in line else None)


def reference(folder: Path, line: dict, opts: VerifyOptions) -> tuple[bool, str] | None:
    """``signature verify``'s (valid, reason), ``None`` when it stops with a usage error."""
    if "digest" in line:
        data, mode = folder / f"{line['id']}.digest", "digest"
        data.write_bytes(bytes.fromhex(line["digest"]))
    else:
        data, mode = folder / line["document"], "message"
    cert = str(folder / line["certificate"]) if "certificate" in line else None
    try:
        report = verify_signature(str(data), str(folder / line["signature"]),
                                  SignatureOptions(certificate=cert, mode=mode), opts)
    except UsageError:
        return None
    return report.valid, report.data["reason"]


def bulk_verifier(opts: VerifyOptions) -> BulkVerifier:
    from jukicard.services.bulk import build_verifier

    return build_verifier(opts)


@pytest.mark.parametrize(("preset", "at", "lenient"), [
    ("jpki", AT, False), ("rfc5280", AT, False), ("jpki", LATER, False), ("rfc5280", AT, True)])
def test_every_answer_equals_the_strict_per_item_path(corpus, preset, at, lenient) -> None:
    folder, cases = corpus
    opts = options(preset, at, lenient)
    verifier = bulk_verifier(opts)
    results = verifier.verify_many([item(folder, c.line) for c in cases])
    kinds = set()
    for case, got in zip(cases, results, strict=True):
        want = reference(folder, case.line, opts)
        assert got.id == case.line["id"]
        if want is None:
            assert not got.valid and got.reason in USAGE_ANSWERS, case.kind
        else:
            assert (got.valid, got.reason) == want, case.kind
        kinds.add((case.kind, got.reason))
    if at == AT and preset == "jpki":  # the corpus covers what the brief lists
        reasons = {r for _k, r in kinds}
        assert {"ok", "revoked", "certificate-expired", "bad-signature", "weak-key",
                "no-valid-issuer-or-name-chaining", "weak-hash", "signer-not-found",
                "unusable-input", "unreadable-input", "malformed-certificate"} <= reasons


def test_workers_threads_and_processes_give_the_same_answers(corpus) -> None:
    folder, cases = corpus
    verifier = bulk_verifier(options("jpki", AT))
    items = [item(folder, c.line) for c in cases] * 3
    one = verifier.verify_many(items)
    assert verifier.verify_many(items, workers=2, executor="thread", chunk_size=4) == one
    assert verifier.verify_many(items, workers=2, executor="process", chunk_size=7) == one
    # a list is read by forked workers from the memory they inherit; any other iterable
    # crosses the pipes in chunks: both answer alike
    assert verifier.verify_many(iter(items), workers=2, executor="process",
                                chunk_size=5) == one
    assert list(verifier.iter_verify(items, workers=2, chunk_size=6)) == one


def test_a_pickled_verifier_is_rebuilt_from_its_inputs_and_answers_the_same(corpus) -> None:
    folder, cases = corpus
    verifier = bulk_verifier(options("jpki", AT))
    copy = pickle.loads(pickle.dumps(verifier))
    assert copy is not verifier and copy.policy == verifier.policy
    items = [item(folder, c.line) for c in cases]
    assert copy.verify_many(items) == verifier.verify_many(items)


def test_repeat_signers_validate_their_path_once_and_the_cache_is_bounded(monkeypatch) -> None:
    anchors = [load_certificate(str(PKI / a)) for a in ANCHORS]
    verifier = BulkVerifier(ValidationPolicy.jpki(anchors, allow_test_anchors=True),
                            crls=[str(PKI / c) for c in CRLS], at=AT, min_key_size=2048,
                            cache_size=1)
    calls = []
    real = verifier._validate
    monkeypatch.setattr(verifier, "_validate", lambda *a: calls.append(a) or real(*a))
    rows = digest_items(300, signers=2)
    results = verifier.verify_many(BulkItem(i, s, c, digest=d) for i, d, s, c in rows)
    assert all(r.valid for r in results) and len(results) == 300
    assert len(verifier._signers) == 1 and len(verifier._paths) == 1  # bounded
    # cache_size=1 with two signers one after the other: every switch evicts the other, but
    # a signer's raw path result travels with its cache entry: revalidation on each switch
    assert len(calls) >= 2
    big = BulkVerifier(verifier.policy, crls=[str(PKI / c) for c in CRLS], at=AT)
    monkeypatch.setattr(big, "_validate", lambda *a: calls.append(a) or real(*a))
    calls.clear()
    big.verify_many(BulkItem(i, s, c, digest=d) for i, d, s, c in rows)
    assert len(calls) == 2  # one path validation per signer, 300 documents


def test_an_item_never_raises() -> None:
    verifier = BulkVerifier(ValidationPolicy.jpki(
        [load_certificate(str(PKI / ANCHORS[0]))], allow_test_anchors=True), at=AT)
    cert = (PKI / "ee/r1-sign.cer").read_bytes()
    odd = [BulkItem("none", b"x", cert), BulkItem("both", b"x", cert, b"d", b"d"),
           BulkItem("nofile", b"\x00" * 256, cert, document="/nonexistent/doc"),
           BulkItem("dir", b"\x00" * 256, cert, document="/"),
           BulkItem("pem-junk", b"-----BEGIN PKCS7-----\n!!\n", cert, document=b"d"),
           BulkItem("cms-oid-junk", b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02",
                    cert, document=b"d")]
    results = [verifier.verify(i) for i in odd]
    assert [r.reason for r in results] == [
        BulkReason.UNUSABLE_INPUT, BulkReason.UNUSABLE_INPUT, "bad-signature",
        "bad-signature", "bad-signature", "bad-signature"]
    # the signature is checked before the document is read (as signature verify does)
    good = digest_items(1)[0]
    assert verifier.verify(BulkItem("nofile", good[2], good[3], document="/nonexistent")
                           ).reason == BulkReason.UNREADABLE_INPUT
    assert verifier.verify(BulkItem("dir", good[2], good[3], document="/")
                           ).reason == BulkReason.UNREADABLE_INPUT


def test_results_are_frozen_and_serialise() -> None:
    r = ItemResult("a", True, "ok", "m")
    with pytest.raises(AttributeError):  # an immutable named tuple
        r.valid = False  # type: ignore[misc]
    assert r.to_json() == {"id": "a", "valid": True, "reason": "ok", "message": "m"}


def test_bad_arguments_are_usage_errors() -> None:
    policy = ValidationPolicy.jpki([load_certificate(str(PKI / ANCHORS[0]))],
                                   allow_test_anchors=True)
    with pytest.raises(UsageError):
        BulkVerifier(policy, at=dt.datetime(2026, 6, 1))  # naive
    with pytest.raises(UsageError):
        BulkVerifier(policy, at=AT, cache_size=0)
    verifier = BulkVerifier(policy, at=AT)
    for kwargs in ({"workers": 0}, {"executor": "gpu", "workers": 2}, {"chunk_size": 0}):
        with pytest.raises(UsageError):
            verifier.verify_many([], **kwargs)


def test_signature_json_limit_is_one_constant_in_two_places() -> None:
    """``services.signatures`` keeps its own copy (it imports no pki at import time)."""
    from jukicard.pki import signatures as pki_signatures
    from jukicard.services import signatures as service_signatures

    assert service_signatures.MAX_SIGNATURE_JSON == pki_signatures.MAX_SIGNATURE_JSON


def test_cms_content_cap_is_signature_verifys(corpus) -> None:
    """A CMS's document is read whole, so it has ``signature verify``'s cap
    (``MAX_CMS_CONTENT``): one over it is ``unreadable-input`` naming the cap, refused from
    its size before a byte is read (a sparse file here).  Before the fix the bulk path read
    any document whole (256 MiB of zeros, then ``bad-signature``)."""
    from jukicard.services import inputs

    folder, cases = corpus
    line = next(c.line for c in cases if c.kind == "cms-detached")
    big = folder / "big-content.xml"
    with open(big, "wb") as f:
        f.truncate(inputs.MAX_CMS_CONTENT + 1)
    verifier = bulk_verifier(options("jpki", AT))
    result = verifier.verify(item(folder, line)._replace(document=str(big)))
    assert (result.valid, result.reason) == (False, "unreadable-input")
    assert "256 MiB limit" in result.message and "CMS content" in result.message
    # a raw signature's document is hashed as a stream: no cap (only read, not held)
    raw = next(c.line for c in cases if c.kind == "valid")
    result = verifier.verify(item(folder, raw)._replace(document=str(big)))
    assert result.reason == "bad-signature"
    from jukicard.pki import bulkitems  # pki keeps its own copy (pki imports no services)

    assert bulkitems.MAX_CMS_CONTENT == inputs.MAX_CMS_CONTENT


def test_any_sequence_type_works_with_worker_processes(corpus) -> None:
    """A deque (or another Sequence that cannot be sliced) is read lazily and pickled, not
    handed to forked workers (issue 10 verification review: TypeError)."""
    import collections

    folder, cases = corpus
    verifier = bulk_verifier(options("jpki", AT))
    items = [item(folder, c.line) for c in cases]
    one = verifier.verify_many(items)
    assert verifier.verify_many(collections.deque(items), workers=2, chunk_size=3) == one
    assert verifier.verify_many(tuple(items), workers=2, chunk_size=3) == one
