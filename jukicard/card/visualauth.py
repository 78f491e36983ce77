"""Card authentication and record authenticity on the 券面事項確認AP (visual AP).

The chain (``card-security.md`` §2)::

    J-LIS CV CA key 5000023 / 6000023 (bundled, :mod:`jukicard.card.cvca`, or the caller's)
      └─ CV certificate, EF 0004 (certifies the AP's issuer key)
           └─ the issuer key signs EF 0001, 0002 and 0005 (PKCS#1 v1.5, SHA-256)
                └─ each record carries the same card key (DF 12 / DF 24 / DF 42)
                     └─ the card's answer to 80 2A 00 00 <DigestInfo(SHA-256(message))>
                        (key 001A, no credential)

The session half is :meth:`jukicard.card.visual.VisualSession.authenticate_card`;
everything here is pure.  The message signed is the card's GET CHALLENGE answer followed
by a host nonce (CARDAUTH-1).

Decisions (``VIS-n``; where the reference is silent):

* VIS-1 — signed bytes, after soltia48/myna-card ``surface.rs``: EF ``0001`` and
  ``0005`` sign every byte of the container's value before the signature TLV (``DF 13``
  / ``DF 43``) as written; EF ``0002``'s ``DF 28`` is a raw PKCS#1 v1.5 signature of
  ``DigestInfo(sha256, SHA-256(DF22‖DF23‖DF24) ‖ SHA-256(DF25‖DF26) ‖ SHA-256(DF27))``
  over the TLVs as written (96 bytes in the DigestInfo); ``DF 29``/``DF 2A`` (expiry,
  security code image) are not covered — a result never says they are authentic.
* VIS-2 — the card key is ``90 <e> 91 <n>`` (:func:`~jukicard.card.codec.rsa_numbers`);
  every record read must carry the same key, or the records are refused.
* VIS-3 — which records are read depends on the credential the caller gives: 照合番号A
  opens ``0002`` and ``0005``, 照合番号B ``0002``, the birth-date PIN ``0001``.  At least
  one record must be read: the card key comes from a signed record, never from nowhere.
* VIS-4 (review of issue 11) — a record whose items repeat a tag, or whose card key comes
  after its signature, is refused (:class:`~jukicard.errors.DataIntegrityError`): for
  ``0001``/``0005`` the signature covers only the bytes before it, so a second ``DF 12``
  appended after ``DF 13`` would carry an unsigned key — a clone with a genuine card's
  records and its own key would have passed.
* VIS-5 (review of issue 11) — data authenticity of a plain read
  (:meth:`~jukicard.card.visual.VisualSession.read_entries` /
  :meth:`~jukicard.card.visual.VisualSession.read_birth` with ``verify=True`` or a
  ``policy``) is this module's record check, without the challenge: a record that does not
  verify (tampered, damaged, another card key) raises
  :class:`~jukicard.errors.DataIntegrityError` — never a lower label, so tampered
  personal data is never returned.  ``self-consistent-only`` means the records verify
  under the card's own CV certificate and no CA was asked; the items no signature covers
  are named in :attr:`~jukicard.card.cardauth.DataAuthenticity.unsigned_items`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from asn1crypto import algos as _algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jukicard.card.cardauth import (
    CardAuthPolicy,
    CardAuthResult,
    CvCaKey,
    DataAuthenticity,
    TrustLevel,
    challenge_message,
    checked_policy,
)
from jukicard.card.codec import container, rsa_numbers, rsa_public_key, rsa_verify
from jukicard.card.crypto import HashAlg, digest_message
from jukicard.card.cvc import CvCertificate
from jukicard.errors import (
    BadResponse,
    CardAuthenticationError,
    DataIntegrityError,
    UsageError,
)

__all__ = [
    "VisualRecord",
    "RECORD_LAYOUTS",
    "entries_digest_info",
    "verify_visual_records",
    "visual_data_authenticity",
    "UNSIGNED_ITEMS",
    "verify_visual_authentication",
]

#: EF → (container tag, card-key tag, signature tag).
RECORD_LAYOUTS: dict[int, tuple[int, int, int]] = {
    0x0001: (0xFF10, 0xDF12, 0xDF13),
    0x0002: (0xFF20, 0xDF24, 0xDF28),
    0x0005: (0xFF40, 0xDF42, 0xDF43),
}
_GROUPS = ((0xDF22, 0xDF23, 0xDF24), (0xDF25, 0xDF26), (0xDF27,))
#: EF → the items read from it that its signature does not cover (VIS-1), by their
#: attribute names in :mod:`jukicard.card.visual_data`.
UNSIGNED_ITEMS: dict[int, tuple[str, ...]] = {
    0x0001: (),
    0x0002: ("offsets", "expiry", "security_code_png"),
    0x0005: (),
}


def entries_digest_info(spans: Mapping[int, bytes]) -> bytes:
    """The DER DigestInfo EF ``0002``'s ``DF 28`` signs (VIS-1): SHA-256 over the three
    groups of TLVs, concatenated, as one sha256 DigestInfo.

    :param spans: tag → the TLV as written.
    :raises BadResponse: an item is missing.
    """
    try:
        digests = b"".join(digest_message(HashAlg.SHA256, b"".join(spans[t] for t in g))
                            for g in _GROUPS)
    except KeyError:
        raise BadResponse("visual entries EF: a signed item is missing") from None
    info = _algos.DigestInfo({"digest_algorithm": {"algorithm": "sha256"}, "digest": digests})
    return bytes(info.dump())


@dataclass(frozen=True)
class VisualRecord:
    """One signed record of the visual AP, as far as authenticity goes (no personal data
    in ``repr``).

    :ivar fid: the EF.
    :ivar exponent: / :ivar modulus: the card key it carries.
    :ivar signed: what the signature covers (VIS-1: bytes, or the DigestInfo for ``0002``).
    """

    fid: int
    exponent: int
    modulus: int
    signature: bytes = field(repr=False)
    signed: bytes = field(repr=False)
    #: True when :attr:`signed` is a DigestInfo to check raw (EF ``0002``)
    digest_info: bool = False

    @classmethod
    def parse(cls, fid: int, data: bytes) -> VisualRecord:
        """Parse EF ``fid`` (``0001``, ``0002`` or ``0005``).

        :raises UsageError: ``fid`` is not one of :data:`RECORD_LAYOUTS`.
        :raises BadResponse: malformed, or no card key / signature.
        """
        if fid not in RECORD_LAYOUTS:
            raise UsageError(f"no signed visual-AP record in EF {fid!r}")
        outer_tag, key_tag, sig_tag = RECORD_LAYOUTS[fid]
        what = f"visual EF {fid:04X}"
        outer, kids = container(data, outer_tag, what)
        tags = [k.tag for _p, k in kids]
        if len(set(tags)) != len(tags):  # VIS-4
            raise BadResponse(f"{what}: an item appears twice")
        if key_tag not in tags or sig_tag not in tags:
            raise BadResponse(f"{what}: no card key or no signature")
        if tags.index(key_tag) > tags.index(sig_tag):  # VIS-4: the key must be signed
            raise BadResponse(f"{what}: the card key follows the signature (not signed)")
        end = len(outer.header) + len(outer.value)
        starts = [pos for pos, _k in kids] + [end]
        spans = {k.tag: bytes(data[starts[i]:starts[i + 1]]) for i, (_p, k) in enumerate(kids)}
        values = {k.tag: k.value for _p, k in kids}
        e, n = rsa_numbers(values[key_tag], what)
        if fid == 0x0002:
            return cls(fid, e, n, values[sig_tag], entries_digest_info(spans), True)
        sig_pos = next(pos for pos, k in kids if k.tag == sig_tag)
        return cls(fid, e, n, values[sig_tag], bytes(data[len(outer.header):sig_pos]))

    def verify_issuer(self, issuer_key: rsa.RSAPublicKey) -> bool:
        """True if the record's signature verifies under the EF ``0004`` key."""
        if not self.digest_info:
            return rsa_verify(issuer_key, self.signature, self.signed)
        try:
            recovered = issuer_key.recover_data_from_signature(self.signature,
                                                               padding.PKCS1v15(), None)
        except (InvalidSignature, ValueError):
            return False
        return hmac.compare_digest(recovered, self.signed)


def verify_visual_records(
    cv_ef: bytes, records: Mapping[int, bytes], policy: CardAuthPolicy | None
) -> tuple[CvCertificate, rsa.RSAPublicKey, TrustLevel, bool | None]:
    """Check the visual AP's records against the CV certificate (and the CA, with a policy).

    :returns: ``(cv certificate, card key, level, ca production flag)``.
    :raises: as :func:`_check_records`.
    """
    cv, card_key, anchor = _check_records(cv_ef, records, policy)
    level = TrustLevel.VERIFIED_TO_JLIS_CA if anchor is not None else \
        TrustLevel.SELF_CONSISTENT_ONLY
    return cv, card_key, level, (anchor.production if anchor is not None else None)


def visual_data_authenticity(
    cv_ef: bytes, records: Mapping[int, bytes], policy: CardAuthPolicy | None
) -> DataAuthenticity:
    """The authenticity label of visual-AP records read without card authentication
    (VIS-5): the same record checks as :func:`verify_visual_authentication`.

    :raises: as :func:`verify_visual_records`.
    """
    cv, _card_key, anchor = _check_records(cv_ef, records, policy)
    fids = tuple(sorted(records))
    unsigned = tuple(name for fid in fids for name in UNSIGNED_ITEMS[fid])
    return DataAuthenticity.checked(cv, anchor, records=fids, unsigned_items=unsigned)


def _check_records(
    cv_ef: bytes, records: Mapping[int, bytes], policy: CardAuthPolicy | None
) -> tuple[CvCertificate, rsa.RSAPublicKey, CvCaKey | None]:
    """Check the records CA first; ``(cv certificate, card key, trusted CA or None)``.

    :raises UntrustedIssuerError: the CV certificate names a CA ``policy`` does not trust.
    :raises CvCaApplicationError: it names another application's CA (CARDAUTH-6).
    :raises UntrustedIssuerError: the CV certificate names a CA ``policy`` does not trust.
    :raises CvCaSignatureError: (an :class:`IssuerKeyMismatchError`) the CV certificate
        does not verify under that CA key.
    :raises DataIntegrityError: a damaged or tampered record, no record, or records
        carrying different card keys.
    """
    policy = checked_policy(policy)
    if not records:
        raise DataIntegrityError("no signed visual-AP record was read (VIS-3)")
    try:
        cv = CvCertificate.parse(cv_ef)
        issuer_key = cv.public_key()
        parsed = [VisualRecord.parse(fid, data) for fid, data in sorted(records.items())]
        card_key = rsa_public_key(parsed[0].exponent, parsed[0].modulus, "visual card key")
    except BadResponse as exc:
        raise DataIntegrityError(f"{exc}: visual-AP authentication data is damaged") from exc
    anchor = policy.check_cv_certificate(cv, "visual") if policy is not None else None
    for rec in parsed:
        if (rec.exponent, rec.modulus) != (parsed[0].exponent, parsed[0].modulus):
            raise DataIntegrityError("the visual-AP records carry different card keys")
        if not rec.verify_issuer(issuer_key):
            raise DataIntegrityError(f"visual EF {rec.fid:04X} is not signed by the key of "
                                     "the card's CV certificate (tampered)")
    return cv, card_key, anchor


def verify_visual_authentication(
    *,
    cv_ef: bytes,
    records: Mapping[int, bytes],
    card_challenge: bytes,
    host_nonce: bytes,
    signature: bytes,
    policy: CardAuthPolicy | None,
) -> CardAuthResult:
    """Check a visual-AP card authentication offline, CA first.

    :raises UntrustedIssuerError: / :raises IssuerKeyMismatchError: /
        :raises DataIntegrityError: as :func:`verify_visual_records`.
    :raises CardAuthenticationError: the challenge signature does not verify under the
        card key the records carry (a cloned card, a replayed signature).
    """
    cv, card_key, anchor = _check_records(cv_ef, records, policy)
    if not rsa_verify(card_key, signature, challenge_message(card_challenge, host_nonce)):
        raise CardAuthenticationError("the card's challenge signature does not verify under "
                                      "the card key its signed records carry (a cloned card "
                                      "or a replayed signature)")
    return CardAuthResult(
        application="visual",
        level=(TrustLevel.VERIFIED_TO_JLIS_CA if anchor is not None
               else TrustLevel.SELF_CONSISTENT_ONLY),
        ca_key_id=cv.car, ca_production=anchor.production if anchor is not None else None,
        issuer_key_id=cv.chr, card_challenge=bytes(card_challenge),
        host_nonce=bytes(host_nonce), signature=bytes(signature),
        ca_source=anchor.source if anchor is not None else None)
