"""Bulk signature verification: many (document or digest, signature, certificate) items,
one frozen :class:`ItemResult` each, never an exception per item.

The answers are those of the per-item strict path (``signature verify``:
:func:`jukicard.services.signatures.verify_signature`, i.e. the signature check of
:mod:`jukicard.pki.signatures` / :mod:`jukicard.pki.cms` followed by the strict
:class:`~jukicard.pki.validate.Validator`); only the work that is the same for every
document is done once:

* per signer certificate (LRU-bounded, keyed by its DER; path results by its SHA-256): the
  parsed certificate, its RSA public key, key size and keyUsage, and its path-validation
  result at the verifier's fixed time (chain, validity, CRL lookup, JPKI profile);
* per hash algorithm: the DER ``DigestInfo`` prefix (built by asn1crypto, once).

Per raw PKCS#1 v1.5 item only the document is hashed and one RSA public operation runs
(the signed block is recovered and compared with the ``DigestInfo`` of the document's
hash: the same test ``verify`` makes, and it also tells which hash the signer used).  A
CMS item is verified in full by :class:`~jukicard.pki.cms.SignedData` (its signer's path
is cached like a raw signer's).

Codes besides :class:`~jukicard.pki.reasons.Reason` (:class:`BulkReason`) name what the
per-item path refuses as an operator's mistake (exit 2) rather than an invalid signature:
an unreadable file, a raw signature without a certificate, a digest of the wrong length.
The items, results and codes, and how a document file is read (hashed as a stream; a
CMS's content whole, capped like ``signature verify``'s) are in
:mod:`jukicard.pki.bulkitems` (re-exported here).

Workers: ``verify_many(items, workers=N)`` runs chunks in processes (default: they scale
whether or not the installed cryptography releases the GIL in RSA operations, which the
shared CI machine could not show: benchmarks/README.md) or threads.  A
:class:`BulkVerifier` pickles as its inputs (policy, certificates and CRLs as DER), so a
process pool or a Dask worker rebuilds it once and reuses it for every item.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import hmac
import itertools
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms as _cms_asn1
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.errors import JukiError, UsageError, ValidationError
from jukicard.pki.bulkitems import (
    VALID_MESSAGE,
    BulkItem,
    BulkReason,
    ItemProblem,
    ItemResult,
    failed,
    hash_document,
    read_content,
)
from jukicard.pki.certs import Certificate
from jukicard.pki.cms import SignedData
from jukicard.pki.crl import Crl
from jukicard.pki.policy import ValidationPolicy
from jukicard.pki.reasons import Reason
from jukicard.pki.revocation import CrlRevocationSource
from jukicard.pki.signatures import (
    HASHES,
    SignatureInvalidError,
    UnsupportedKeyError,
    WeakHashError,
    WeakKeyError,
    build_digest_info,
    decode_signature,
    load_certificate,
    parse_digest_info,
    rsa_public_key,
)
from jukicard.pki.validate import Validator

__all__ = ["BulkReason", "BulkItem", "ItemResult", "BulkVerifier", "VALID_MESSAGE"]

_DER = Encoding.DER
_NONE: frozenset[bytes] = frozenset()
_PKCS1 = padding.PKCS1v15()
#: First bytes of PEM armour (after optional white space).
_PEM_START = frozenset(b" \t\n\r\x0b\x0c-")
#: DER of the OID 1.2.840.113549.1.7.2 (id-signedData), built by asn1crypto.
_SIGNED_DATA_OID = _cms_asn1.ContentType("signed_data").dump()


@dataclass(slots=True)
class _Signer:
    """What a signer certificate gives every document it signed (cached)."""

    cert: Any  # cryptography x509.Certificate, None when unparsable
    error: ValidationError | None  # the certificate or its key is unusable
    key: rsa.RSAPublicKey | None
    size: int  # modulus bytes
    usage_error: UnsupportedKeyError | None  # keyUsage forbids signatures
    sha256: bytes  # of the certificate's DER (the path-result key)
    raw_path: tuple[bool, str, str] | None = None  # its path result for raw signatures


def _prefixes() -> dict[str, tuple[bytes, int]]:
    """hash name → (DER DigestInfo prefix, digest size), built by asn1crypto."""
    out = {}
    for name, cls in HASHES.items():
        size = cls().digest_size
        out[name] = (build_digest_info(name, bytes(size), allow_sha1=True)[:-size], size)
    return out


_PREFIXES = _prefixes()
#: DigestInfo length → (hash name, prefix, digest size): the lengths are all different.
_BY_LENGTH = {len(prefix) + size: (name, prefix, size)
              for name, (prefix, size) in _PREFIXES.items()}
assert len(_BY_LENGTH) == len(_PREFIXES)


def _split_digest_info(block: bytes) -> tuple[str, bytes]:
    """``(hash name, digest)`` of a recovered DigestInfo.

    :raises SignatureInvalidError: not a canonical DER DigestInfo of a known hash.
    """
    known = _BY_LENGTH.get(len(block))
    if known is not None and block.startswith(known[1]):
        return known[0], block[-known[2]:]
    return parse_digest_info(block)  # raises (the canonical forms are all above)


def _policy_state(policy: ValidationPolicy) -> dict[str, Any]:
    """The policy's fields with certificates as DER (the policy itself does not pickle)."""
    def plain(value: Any) -> Any:
        if isinstance(value, Certificate):
            return ("__cert__", value.der)
        if isinstance(value, tuple | frozenset):
            return type(value)(plain(v) for v in value)
        return value
    return {f.name: plain(getattr(policy, f.name)) for f in dataclasses.fields(policy)}


def _policy_from_state(state: dict[str, Any]) -> ValidationPolicy:
    def back(value: Any) -> Any:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "__cert__":
            return Certificate.parse(value[1])
        if isinstance(value, tuple | frozenset):
            return type(value)(back(v) for v in value)
        return value
    return ValidationPolicy(**{k: back(v) for k, v in state.items()})


class BulkVerifier:
    """Verify many signed documents against one policy, CRL set and time.

    :param policy: the strict :class:`ValidationPolicy` (anchors inside).
    :param intermediates: intermediate CA certificates (objects or DER/PEM bytes).
    :param crls: CRLs (:class:`~jukicard.pki.crl.Crl`, DER/PEM bytes or file paths),
        loaded once into one :class:`~jukicard.pki.revocation.CrlRevocationSource`.
    :param at: the validation time (timezone-aware), the same for every item.
    :param min_key_size: smallest signer RSA key for the document signature (bits);
        ``None`` = no rule (``signature verify`` uses 2048 under the jpki preset).
    :param allow_sha1: accept SHA-1 document signatures (old data).
    :param cache_size: most signer certificates (and their path results) kept.
    :param revocation: an existing CRL source to use instead of ``crls`` (e.g. the one
        :func:`jukicard.services.verify.build_validation` loaded: no second ingest); a
        pickled verifier carries the DER of the CRLs it holds.
    :raises UsageError: ``at`` naive, ``cache_size`` < 1, not a ValidationPolicy, or both
        ``crls`` and ``revocation``.
    :raises MalformedCrlError: / :raises MalformedCertificateError: an unparsable CRL or
        intermediate.
    """

    def __init__(self, policy: ValidationPolicy,
                 intermediates: Iterable[Certificate | bytes] = (),
                 crls: Iterable[Crl | bytes | str | os.PathLike[str]] = (), *,
                 at: _dt.datetime, min_key_size: int | None = None,
                 allow_sha1: bool = False, cache_size: int = 4096,
                 revocation: CrlRevocationSource | None = None) -> None:
        if not isinstance(at, _dt.datetime) or at.utcoffset() is None:
            raise UsageError("validation time 'at' must be a timezone-aware datetime")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise UsageError("cache_size must be a positive int")
        inter = [c if isinstance(c, Certificate) else Certificate.parse(c)
                 for c in intermediates]
        sources = [bytes(c) if isinstance(c, Crl) else c for c in crls]
        if revocation is not None and sources:
            raise UsageError("give the CRLs or a revocation source, not both")
        if revocation is None:
            revocation = CrlRevocationSource(sources)
        else:  # pickled as the DER of the CRLs it holds (fetched ones included)
            sources = [bytes(c) for c in revocation.store]
        self._args = (_policy_state(policy), tuple(c.der for c in inter), tuple(
            os.fspath(s) if isinstance(s, os.PathLike) else s for s in sources),
            at, min_key_size, allow_sha1, cache_size)
        self.policy = policy
        self.at = at
        self.min_key_size = min_key_size
        self.allow_sha1 = allow_sha1
        self.cache_size = cache_size
        self.validator = Validator(policy, inter, revocation)
        # a CMS document signature must come from a JPKI sign certificate under the profile
        # (as signature verify's default usage)
        cms_policy = policy
        if policy.jpki_profile and policy.jpki_usage is None:
            cms_policy = policy.replace(jpki_usage="sign")
        self._cms_validator = Validator(cms_policy, self.validator.pool, revocation)
        self._validators: dict[tuple[str, frozenset[bytes]], Validator] = {}
        self._signers: OrderedDict[bytes, _Signer] = OrderedDict()
        self._paths: OrderedDict[tuple[bytes, str, frozenset[bytes]],
                                 tuple[bool, str, str]] = OrderedDict()
        self._lock = threading.RLock()

    def __reduce__(self) -> tuple[Callable[..., BulkVerifier], tuple[Any, ...]]:
        # pickled as its inputs: a worker process rebuilds it (and loads the CRLs) once
        return _rebuild, self._args

    # ------------------------------------------------------------------ public API
    def verify(self, item: BulkItem) -> ItemResult:
        """Verify one item; never raises for a bad item (any unexpected error is
        ``invalid``)."""
        try:
            return self._verify(item)
        except (ValidationError, ItemProblem) as exc:
            return ItemResult(item.id, False, str(exc.reason), str(exc))
        except JukiError as exc:  # a UsageError the per-item path would exit 2 on
            return ItemResult(item.id, False, BulkReason.UNUSABLE_INPUT, str(exc))

    def verify_many(self, items: Iterable[BulkItem], *, workers: int = 1,
                    executor: str = "process", chunk_size: int = 256) -> list[ItemResult]:
        """Verify every item; one result per item, in order (see :meth:`iter_verify`; with
        worker processes a list or tuple is read as it is when the call starts)."""
        out: list[ItemResult] = []
        for chunk in self._result_chunks(items, workers, executor, chunk_size):
            out.extend(chunk)  # whole chunks: no generator step per item
        return out

    def iter_verify(self, items: Iterable[BulkItem], *, workers: int = 1,
                    executor: str = "process", chunk_size: int = 256) -> Iterator[ItemResult]:
        """Yield one result per item, in input order, reading ``items`` lazily.

        :param workers: 1 = in this thread; more = a pool of that many workers, with at most
            ``2 × workers`` chunks in flight.
        :param executor: ``"process"`` (each process rebuilds this verifier once) or
            ``"thread"`` (shares this one).
        :param chunk_size: items per task.
        :raises UsageError: a bad ``workers``, ``executor`` or ``chunk_size``.
        """
        for chunk in self._result_chunks(items, workers, executor, chunk_size):
            yield from chunk

    def _result_chunks(self, items: Iterable[BulkItem], workers: int, executor: str,
                       chunk_size: int) -> Iterator[list[ItemResult]]:
        """The results in input order, a list at a time (one item's with one worker, a
        chunk's with a pool); the arguments as :meth:`iter_verify` checks them."""
        if not isinstance(workers, int) or workers < 1:
            raise UsageError("workers must be a positive int")
        if executor not in ("process", "thread"):
            raise UsageError("executor must be 'process' or 'thread'")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise UsageError("chunk_size must be a positive int")
        if workers == 1:
            for item in items:
                yield [self.verify(item)]
        elif executor == "thread":
            with ThreadPoolExecutor(workers) as threads:
                yield from ordered_chunk_outputs(threads, self._verify_chunk, items,
                                                 chunk_size, 2 * workers)
        else:
            yield from self._process_chunks(items, workers, chunk_size)

    def _process_chunks(self, items: Iterable[BulkItem], workers: int, chunk_size: int
                        ) -> Iterator[list[ItemResult]]:
        """The results of ``items`` verified by ``workers`` processes, chunk by chunk, in
        order.  Items and results cross as plain tuples (a slotted frozen dataclass pickles
        through Python-level __getstate__/__setstate__, several times slower); a valid item
        comes back as its id alone (the common case, kept small); this process does as
        little per item as it can (it shares the machine with the workers)."""
        new = tuple.__new__
        # a list or tuple as it is now (a snapshot: the forked workers see the items the
        # list held when the pool started); anything else is read lazily and pickled
        seq: Sequence[BulkItem] | None = None
        if isinstance(items, list | tuple) and type(items) in (list, tuple) and \
                multiprocessing.get_start_method() == "fork":
            seq = items
        token = next(_TOKENS)
        if seq is not None:
            # the workers are forked from this process: they read the items from the memory
            # they inherit, and only (start, stop) spans cross the pipes
            _SHARED[token] = seq
        try:
            with ProcessPoolExecutor(workers, initializer=_init_process,
                                     initargs=(self,)) as processes:
                if seq is not None:
                    spans: Iterable[Any] = ((token, start, start + chunk_size)
                                            for start in range(0, len(seq), chunk_size))
                    outputs = ordered_chunk_outputs(processes, _verify_spans, spans, 1,
                                                    2 * workers)
                else:
                    # plain tuples cross (a named tuple pickles through a Python-level
                    # method)
                    outputs = ordered_chunk_outputs(processes, _verify_in_process,
                                                    map(tuple, items), chunk_size,
                                                    2 * workers)
                for chunk in outputs:
                    yield [new(ItemResult, (row, True, _OK, VALID_MESSAGE))
                           if type(row) is str else new(ItemResult, row) for row in chunk]
        finally:
            _SHARED.pop(token, None)

    def _verify_chunk(self, chunk: list[BulkItem]) -> list[ItemResult]:
        return [self.verify(item) for item in chunk]

    # ------------------------------------------------------------------ one item
    def _verify(self, item: BulkItem) -> ItemResult:
        document, digest = item.document, item.digest
        if (document is None) == (digest is None):
            raise ItemProblem(BulkReason.UNUSABLE_INPUT,
                           "give exactly one of the document and its digest")
        cert, signer = item.certificate, None
        if cert is not None:
            signer = self._signers.get(cert)  # atomic under the GIL: a hit takes no lock
            if signer is None:
                signer = self._signer(cert)
            else:
                try:
                    self._signers.move_to_end(cert)  # least recently used goes first
                except KeyError:  # evicted by another thread meanwhile
                    pass
        if signer is not None and signer.cert is None:  # unparsable: before anything
            assert signer.error is not None
            return failed(item.id, signer.error)
        blob = item.signature if type(item.signature) is bytes else bytes(item.signature)
        if _SIGNED_DATA_OID in blob[:32] or (blob and blob[0] in _PEM_START):
            signed = self._cms(blob)
            if signed is not None:
                return self._verify_cms(item, signed, signer)
        if signer is None:
            raise ItemProblem(BulkReason.UNUSABLE_INPUT,
                           "a raw signature needs the signer certificate")
        if signer.error is not None:  # not an RSA key: a raw signature cannot be checked
            return failed(item.id, signer.error)
        key = signer.key
        assert key is not None
        if len(blob) != signer.size:
            blob = decode_signature(blob, signer.size)[0]
        if self.min_key_size is not None and key.key_size < self.min_key_size:
            raise WeakKeyError(f"RSA key of {key.key_size} bits is below the "
                               f"{self.min_key_size}-bit minimum")
        if len(blob) != signer.size:
            raise SignatureInvalidError("signature length does not match the key size")
        try:
            block = key.recover_data_from_signature(blob, _PKCS1, None)
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalidError("signature does not verify with this key") from exc
        name, signed_digest = _split_digest_info(block)
        if signer.usage_error is not None:
            return failed(item.id, signer.usage_error)
        if name == "sha1" and not self.allow_sha1:
            raise WeakHashError("SHA-1 is accepted only for verifying old data (allow_sha1)")
        if digest is None:
            assert document is not None
            digest = hash_document(document, name)
        elif len(digest) != len(signed_digest):
            raise ItemProblem(BulkReason.UNUSABLE_INPUT, f"{name} digest must be "
                           f"{len(signed_digest)} bytes, got {len(digest)}")
        if not hmac.compare_digest(digest, signed_digest):
            raise SignatureInvalidError("signature does not verify")
        path = signer.raw_path
        if path is None:
            path = signer.raw_path = self._cached_path(signer.cert, "raw", _NONE, signer.sha256)
        return ItemResult(item.id, *path)

    def _verify_cms(self, item: BulkItem, signed: SignedData, signer: _Signer | None
                    ) -> ItemResult:
        if item.document is None:
            raise ItemProblem(BulkReason.UNUSABLE_INPUT,
                           "a CMS signature needs the document, not its digest")
        content = read_content(item.document)
        res, certs = signed.verify_document(
            content, pinned=None if signer is None else signer.cert,
            min_key_size=self.min_key_size, allow_sha1=self.allow_sha1)
        extra = frozenset(c.public_bytes(_DER) for c in res.certificates)
        results = [ItemResult(item.id, *self._cached_path(c, "cms", extra)) for c in certs]
        failed = next((r for r in results if not r.valid), None)
        return failed if failed is not None else results[0]

    @staticmethod
    def _cms(blob: bytes) -> SignedData | None:
        """The CMS in ``blob``, or ``None``: a raw signature (as
        :func:`~jukicard.pki.cms.looks_like_cms` decides).  Only called for PEM armour or
        DER whose first bytes hold the signedData OID (a ContentInfo starts with it)."""
        try:
            return SignedData.parse(blob)
        except ValidationError:
            return None

    # ------------------------------------------------------------------ caches
    def _signer(self, der: bytes) -> _Signer:
        """The cached signer of ``der`` (the caller has looked it up, lock-free: a miss)."""
        # keyed by the DER itself: the hash of a bytes object is computed once and kept,
        # equality is checked (no collision to reason about); LRU order
        signer = _load_signer(bytes(der), hashlib.sha256(der).digest())
        with self._lock:
            self._signers[bytes(der)] = signer
            if len(self._signers) > self.cache_size:
                self._signers.popitem(last=False)
        return signer

    def _cached_path(self, cert: Any, kind: str, extra: frozenset[bytes],
                     sha256: bytes | None = None) -> tuple[bool, str, str]:
        """``(valid, reason, message)`` of the signer's path (validated once; LRU keyed by
        the certificate's SHA-256, the kind of signature and the CMS's certificates)."""
        if sha256 is None:
            sha256 = hashlib.sha256(cert.public_bytes(_DER)).digest()
        key = (sha256, kind, extra)
        hit = self._paths.get(key)
        if hit is None:
            with self._lock:  # validated once, even when threads meet the signer together
                hit = self._paths.get(key)
                if hit is None:
                    hit = self._validate(cert.public_bytes(_DER), kind, extra)
                    self._paths[key] = hit
                    if len(self._paths) > self.cache_size:
                        self._paths.popitem(last=False)
        else:
            try:
                self._paths.move_to_end(key)
            except KeyError:
                pass
        return hit

    def _validate(self, der: bytes, kind: str, extra: frozenset[bytes]
                  ) -> tuple[bool, str, str]:
        """Path validation of a signer whose signature verified (called under the lock)."""
        validator = self._validator(kind, extra)
        try:
            result = validator.validate(Certificate.parse(der), self.at)
        except ValidationError as exc:
            return False, str(exc.reason), str(exc)
        if result.valid:
            return True, str(Reason.OK), VALID_MESSAGE
        return False, str(result.reason), \
            f"signature valid, certificate path invalid: {result.message}"

    def _validator(self, kind: str, extra: frozenset[bytes]) -> Validator:
        base = self._cms_validator if kind == "cms" else self.validator
        new = [d for d in extra if Certificate.parse(d) not in base.pool]
        if not new:
            return base
        key = (kind, frozenset(new))
        found = self._validators.get(key)
        if found is None:
            if len(self._validators) >= self.cache_size:
                self._validators.clear()
            found = Validator(base.policy, list(base.pool) + [Certificate.parse(d) for d in
                                                              sorted(new)], base.revocation)
            self._validators[key] = found
        return found


def _load_signer(der: bytes, sha256: bytes) -> _Signer:
    """Parse a signer certificate and its key once (errors kept, raised per item)."""
    try:
        cert = load_certificate(der)
    except ValidationError as exc:
        return _Signer(None, exc, None, 0, None, sha256)
    try:
        key = rsa_public_key(certificate=cert, check_key_usage=False)
    except ValidationError as exc:
        return _Signer(cert, exc, None, 0, None, sha256)
    usage: UnsupportedKeyError | None = None
    try:
        rsa_public_key(certificate=cert, check_key_usage=True)
    except UnsupportedKeyError as exc:
        usage = exc
    return _Signer(cert, None, key, (key.key_size + 7) // 8, usage, sha256)


def ordered_chunk_outputs(pool: Executor, task: Callable[[list[Any]], list[Any]],
                          items: Iterable[Any], chunk_size: int, in_flight: int
                          ) -> Iterator[list[Any]]:
    """Run ``task`` over chunks of ``items`` on ``pool`` with at most ``in_flight`` chunks
    submitted, yielding each chunk's output list in input order (``items`` is read
    lazily)."""
    pending: list[Future[list[Any]]] = []
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= chunk_size:
            pending.append(pool.submit(task, chunk))
            chunk = []
            if len(pending) >= in_flight:
                yield pending.pop(0).result()
    if chunk:
        pending.append(pool.submit(task, chunk))
    for fut in pending:
        yield fut.result()


def ordered_chunks(pool: Executor, task: Callable[[list[Any]], list[Any]],
                   items: Iterable[Any], chunk_size: int, in_flight: int) -> Iterator[Any]:
    """:func:`ordered_chunk_outputs`, flattened: the outputs one by one, in input order."""
    for output in ordered_chunk_outputs(pool, task, items, chunk_size, in_flight):
        yield from output


# ---------------------------------------------------------------------- process workers
_PROCESS_VERIFIER: BulkVerifier | None = None
_OK = str(Reason.OK)
#: Verifiers this process rebuilt from a pickle (how the tests see that Dask ships it once
#: per worker, not per task).
REBUILDS = 0


def _rebuild(policy_state: dict[str, Any], intermediates: Sequence[bytes],
             crls: Sequence[bytes | str], at: _dt.datetime, min_key_size: int | None,
             allow_sha1: bool, cache_size: int) -> BulkVerifier:
    global REBUILDS
    REBUILDS += 1
    return BulkVerifier(_policy_from_state(policy_state), intermediates, crls, at=at,
                        min_key_size=min_key_size, allow_sha1=allow_sha1,
                        cache_size=cache_size)


def _init_process(verifier: BulkVerifier) -> None:
    global _PROCESS_VERIFIER
    _PROCESS_VERIFIER = verifier


#: Item sequences handed to forked workers by :meth:`BulkVerifier._process_chunks`.
_SHARED: dict[int, Sequence[BulkItem]] = {}
_TOKENS = itertools.count()


def _verify_spans(spans: list[tuple[int, int, int]]) -> list[str | tuple[str, bool, str, str]]:
    out: list[str | tuple[str, bool, str, str]] = []
    for token, start, stop in spans:
        out += _verify_in_process(_SHARED[token][start:stop])
    return out


def _verify_in_process(rows: Sequence[tuple[Any, ...]]
                       ) -> list[str | tuple[str, bool, str, str]]:
    verifier = _PROCESS_VERIFIER
    assert verifier is not None
    out: list[str | tuple[str, bool, str, str]] = []
    for row in rows:
        r = verifier.verify(row if type(row) is BulkItem else tuple.__new__(BulkItem, row))
        if r.valid and r.reason == _OK and r.message == VALID_MESSAGE and type(r.id) is str:
            out.append(r.id)
        else:
            out.append((r.id, r.valid, r.reason, r.message))
    return out
