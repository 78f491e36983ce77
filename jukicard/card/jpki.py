"""公的個人認証AP (JPKI AP): token info, certificates, PINs and signatures.

Sequences follow ``card-interface.md`` §3.1, §5 and §9::

    select AP        00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01
    PIN status       00 A4 02 0C 02 <PIN IEF>   00 20 00 80            -> 63 Cx
    verify           00 A4 02 0C 02 <PIN IEF>   00 20 00 80 Lc <PIN>   -> 90 00 | 63 Cx | 69 84
    change           (verify)                   00 24 01 80 Lc <new>   -> 90 00
    certificate      00 A4 02 0C 02 <cert EF>   00 B0 00 00 04 (30 82 hh ll), then the rest
    sign             (cert) (verify) (cert)  00 A4 02 0C 02 <key IEF>
                     80 2A P1 80 Lc <data> 00                          -> <signature> 90 00

P1 is the signing scheme (:class:`~jukicard.card.signscheme.SignScheme`, default ``00``:
PKCS#1 v1.5 over the host's DigestInfo); every signature is checked against the key's
certificate before it is returned.

Every method is one card operation inside one PC/SC transaction.  The facts (EF ids, PINs,
keys) are in :mod:`jukicard.apdu.apps.jpki`.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps import Application, CertEnum, CertSpec, KeyEnum, KeySpec
from jukicard.apdu.apps.jpki import (
    JPKI,
    JUKI_JPKI,
    TOKEN_EF,
    TOKEN_EF_SIZE,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
)
from jukicard.apdu.command import CommandApdu
from jukicard.card import crypto
from jukicard.card.channel import CardChannel
from jukicard.card.identity_data import TOKEN_INFO_LEN, CertificateAvailability, TokenInfoFull
from jukicard.card.jpki_data import TokenInfo
from jukicard.card.session import ApplicationSession, Ins, der_certificate_total
from jukicard.card.signscheme import SignInput, SignScheme, prepare_sign_input, signature_valid
from jukicard.errors import BadResponse, DataIntegrityError, SecurityStatusError, UsageError

__all__ = ["JpkiSession", "JukiJpkiSession", "PinRef", "CertRef", "KeyRef", "TOKEN_READ_LEN"]

log = logging.getLogger(__name__)

PinRef = JpkiPin | JukiJpkiPin
CertRef = JpkiCert | JukiJpkiCert
KeyRef = JpkiKey | JukiJpkiKey

#: JPKI EF of the certificate availability bytes (``8F 8F 00``, ``card-security.md`` §4).
CERT_AVAILABILITY_EF = 0x0008
#: Bytes read from the token EF (32-byte EF on the cards seen).
TOKEN_READ_LEN = TOKEN_EF_SIZE


class JpkiSession(ApplicationSession[PinRef]):
    """The JPKI AP of a My Number card (or a smartphone JPKI token).

    :param channel: the card's channel, or a bare transport (see
        :class:`~jukicard.card.session.ApplicationSession`).
    :param extended: / :param select: see :class:`~jukicard.card.session.ApplicationSession`.
    :raises ApplicationNotFound: no JPKI AP on this card.

    Example::

        jpki = JpkiSession(transport)
        jpki.pin_status(JpkiPin.AUTH).retries_left
        der = jpki.read_certificate(JpkiCert.AUTH)
        sig = jpki.sign(JpkiKey.AUTH, pin, message=b"challenge")
    """

    APPLICATION: ClassVar[Application] = JPKI
    PINS: ClassVar[tuple[PinRef, ...]] = tuple(JpkiPin)
    CERTS: ClassVar[tuple[CertRef, ...]] = tuple(JpkiCert)
    KEYS: ClassVar[tuple[KeyRef, ...]] = tuple(JpkiKey)

    # ------------------------------------------------------------------ detection
    @classmethod
    def probe(cls, channel: CardChannel) -> TokenInfo | None:
        """Read the token EF right after card detection selected the AP (no PIN).

        :returns: the token, or ``None`` if the EF is missing, unreadable or holds no token.
        """
        resp = channel.send(
            CommandApdu(0x00, Ins.SELECT, 0x02, 0x0C, TOKEN_EF.to_bytes(2, "big"))
        )
        if not resp.ok:
            log.debug("JPKI token EF not selectable (SW %04X)", resp.sw)
            return None
        resp = channel.send(CommandApdu(0x00, Ins.READ_BINARY, 0x00, 0x00, le=TOKEN_READ_LEN))
        # 6282: the EF is shorter than Le — the data is still the token (as in token_info()).
        if resp.sw not in (_sw.SW.SUCCESS, _sw.SW.END_OF_FILE) or not resp.data:
            log.debug("JPKI token EF not readable (SW %04X)", resp.sw)
            return None
        try:
            return TokenInfo.parse(resp.data)
        except BadResponse:
            log.debug("JPKI token EF holds no token string")
            return None

    # ------------------------------------------------------------------ helpers
    def _cert(self, cert: object) -> CertSpec:
        if not isinstance(cert, CertEnum) or cert not in self.CERTS:
            raise UsageError(f"expected a certificate of this JPKI AP, got a "
                             f"{type(cert).__name__}")
        return cert.spec

    def _key(self, key: object) -> KeySpec:
        if not isinstance(key, KeyEnum) or key not in self.KEYS:
            raise UsageError(f"expected a key of this JPKI AP, got a {type(key).__name__}")
        return key.spec

    # ------------------------------------------------------------------ token
    def token_info(self) -> TokenInfo:
        """Read the token EF (``0006``): tells a My Number card (``JPKIAPICCTOKEN2``), a
        住基カード (``JPKIAPICCTOKEN``) and a smartphone token (``JPKIAPGPSETOKEN``) apart.

        :raises BadResponse: the EF does not hold a token string.
        :raises TransportError: (or a subclass) the card went away.
        """
        with self._operation():
            self._select_ef(TOKEN_EF, "token EF")
            data = self._read_binary(0, TOKEN_READ_LEN)
        if not data:
            raise BadResponse("token EF is empty")
        return TokenInfo.parse(data)

    def token_info_full(self) -> TokenInfoFull:
        """Read the whole token EF (``0006``, 160-byte ``CK_TOKEN_INFO``; no PIN).

        :raises BadResponse: the EF is shorter than 160 bytes (an older 32-byte token EF).
        :raises TransportError: (or a subclass) the card went away.
        """
        with self._operation():
            self._select_ef(TOKEN_EF, "token EF")
            data = self._read_binary(0, TOKEN_INFO_LEN)
        return TokenInfoFull.parse(data or b"")

    def certificate_availability(self) -> CertificateAvailability:
        """Read EF ``0008`` (3 bytes, no PIN): which certificates the card holds.

        :raises FileNotFoundOnCard: the card has no such EF.
        :raises BadResponse: not 3 bytes.
        :raises TransportError: (or a subclass) the card went away.
        """
        with self._operation():
            self._select_ef(CERT_AVAILABILITY_EF, "certificate availability EF")
            data = self._read_binary(0, 3)
        return CertificateAvailability.parse(data or b"")

    # ------------------------------------------------------------------ PINs
    def change_pin(self, pin: PinRef, old: str, new: str) -> None:
        """Change a PIN: VERIFY ``old`` then CHANGE REFERENCE DATA ``00 24 01 80 <new>``,
        in one transaction.

        NOTE: marked untested on real cards by the only public client that implements it.

        :raises UsageError: ``pin`` is not a PIN of this AP.
        :raises PinFormatError: ``old`` or ``new`` has the wrong format — nothing was sent.
        :raises PinError: ``old`` is wrong.
        :raises PinBlockedError: the PIN is (now) blocked.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._pin(pin)
        raw_old = self._encode_pin(spec, old)
        raw_new = self._encode_pin(spec, new, new=True)
        with self._operation(fresh=True):
            self._verify(spec, raw_old)
            self._change(spec, raw_new)

    # ------------------------------------------------------------------ certificates
    def read_certificate(self, cert: CertRef, pin: str | None = None) -> bytes:
        """Read a certificate (DER, padding stripped) and check that it can be used.

        The DER header (``30 82 hh ll``) is read first to learn the length; the rest is read
        in one extended READ BINARY when the card supports it, otherwise in 256-byte chunks,
        stopping at the DER length, ``6B00`` or EOF.

        :param cert: which certificate.
        :param pin: the PIN protecting it (the sign password for ``JpkiCert.SIGN``; the auth
            PIN for ``JpkiCert.AUTH`` on smartphone tokens only).  If given it is verified
            first, in the same transaction.  If not, the card decides.
        :returns: the DER certificate.
        :raises SecurityStatusError: the certificate needs a PIN that is not verified.
        :raises PinError: / :raises PinBlockedError: / :raises PinFormatError: as
            :meth:`verify`.
        :raises BadResponse: the EF does not hold a usable X.509 certificate.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._cert(cert)
        pin_spec = spec.pin or spec.pin_on_smartphone
        raw_pin: bytes | None = None
        if pin is not None:
            if pin_spec is None:
                raise UsageError(f"{spec.name} is not PIN-protected; do not pass a PIN")
            raw_pin = self._encode_pin(pin_spec, pin)
        with self._operation(fresh=raw_pin is not None):
            if raw_pin is not None and pin_spec is not None:
                self._verify(pin_spec, raw_pin)
            return self._read_certificate(spec)

    def _read_certificate(self, spec: CertSpec) -> bytes:
        """Read a certificate EF; the DER, or BadResponse if it is not a certificate."""
        self._select_ef(spec.ef, spec.name)
        der = self._read_sized(4, lambda h: der_certificate_total(h, spec.name), spec.name)
        crypto.load_der_certificate(der, spec.name)  # BadResponse unless it loads
        log.debug("read %s (%d bytes)", spec.name, len(der))
        return der

    def _read_signing_certificate(self, spec: CertSpec) -> tuple[bytes, rsa.RSAPublicKey]:
        """Read a key's certificate: the DER and its RSA key, or BadResponse if unusable."""
        return _signing_key(self._read_certificate(spec), spec)

    # ------------------------------------------------------------------ signing
    def sign(
        self,
        key: KeyRef,
        pin: str | None,
        *,
        digest: bytes | None = None,
        hash_alg: crypto.HashAlg | str = crypto.HashAlg.SHA256,
        message: bytes | None = None,
        scheme: SignScheme = SignScheme.DIGEST_INFO,
    ) -> bytes:
        """Sign with a card key and check the signature before returning.

        Give either ``digest`` (already hashed with ``hash_alg``) or ``message``.  With the
        default scheme (``SignScheme.DIGEST_INFO``) the message is hashed here with
        ``hash_alg``, the library builds the DER ``DigestInfo`` and the card pads and signs it
        (``80 2A 00 80 Lc <DigestInfo> 00``).  The other schemes (``80 2A 01..05 80``,
        SHA-256 only) send the 32-byte hash (``CARD_DIGEST_INFO``, ``PSS_DIGEST``; a
        ``message`` is hashed here first) or the message itself, 1..255 bytes, for the card
        to hash (``CARD_SHA256_BARE``, ``CARD_SHA256``, ``PSS_SHA256``; ``digest`` refused);
        see :mod:`jukicard.card.signscheme`.  In the same transaction the
        key's certificate is read and checked — *before* the PIN is sent when the
        certificate is readable without it (the auth key), right after it otherwise (the
        sign certificate needs the sign password) — and the signature is verified against
        it.

        :param key: ``JpkiKey.AUTH`` or ``JpkiKey.SIGN``.
        :param pin: the key's PIN, verified first in the same transaction; ``None`` relies on
            an earlier :meth:`verify` in the current selection (the card decides).
        :param digest: the hash to sign.
        :param hash_alg: ``sha256`` (default), ``sha384`` or ``sha512``.
        :param message: the data to hash and sign.
        :param scheme: the card's signing scheme (P1); PKCS#1 v1.5 over a host DigestInfo
            by default.
        :returns: the signature (modulus-size bytes).
        :raises UsageError: both or neither of ``digest``/``message``; wrong digest size;
            unsupported hash; ``scheme`` not a :class:`SignScheme`; input the scheme does
            not take (nothing is sent).
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: as
            :meth:`verify`.
        :raises SecurityStatusError: no PIN given and the key is not unlocked.
        :raises BadResponse: the key's certificate is unusable (then, where it is readable
            without the PIN, no PIN was sent).
        :raises DataIntegrityError: the card's signature does not verify against the
            certificate (under the scheme asked for).
        :raises CardError: the card refused the command (``6A86``: a scheme it does not
            know; ``6985``/``6700``: input it does not take).
        :raises TransportError: (or a subclass) the card went away.
        """
        signature, _cert = self.sign_with_certificate(
            key, pin, digest=digest, hash_alg=hash_alg, message=message, scheme=scheme
        )
        return signature

    def sign_with_certificate(
        self,
        key: KeyRef,
        pin: str | None,
        *,
        digest: bytes | None = None,
        hash_alg: crypto.HashAlg | str = crypto.HashAlg.SHA256,
        message: bytes | None = None,
        scheme: SignScheme = SignScheme.DIGEST_INFO,
        certificate: bytes | None = None,
    ) -> tuple[bytes, bytes]:
        """:meth:`sign`, also returning the certificate (DER) the signature was checked
        against: ``(signature, certificate)``.  Same errors as :meth:`sign`.

        :param certificate: the key's certificate (DER) as the caller already read it from
            this card (e.g. to put it in a CMS before signing): the signature is checked
            against it instead of reading it again; a signature that does not verify under
            it is :class:`~jukicard.errors.DataIntegrityError` as always.
        :raises UsageError: ``certificate`` not bytes (nothing is sent).

        NOTE: the sign certificate holds personal data (name, address, birth date).
        """
        spec = self._key(key)
        alg = crypto.HashAlg.coerce(hash_alg)
        sign_input = prepare_sign_input(SignScheme.coerce(scheme), alg, digest, message)
        if certificate is not None and not isinstance(certificate, bytes):
            raise UsageError("certificate must be the DER bytes of the key's certificate")
        given = _signing_key(certificate, spec.cert) if certificate is not None else None
        raw_pin = self._encode_pin(spec.pin, pin) if pin is not None else None
        cert_needs_pin = spec.cert.pin is not None

        with self._operation(fresh=raw_pin is not None):
            checked = given
            if checked is None and not cert_needs_pin:  # checked before the PIN is spent
                checked = self._read_signing_certificate(spec.cert)
            if raw_pin is not None:
                self._verify(spec.pin, raw_pin)
            if checked is None:
                checked = self._read_signing_certificate(spec.cert)
            signature = self._compute_signature(spec, sign_input)
        der, public_key = checked
        if len(signature) != (public_key.key_size + 7) // 8:
            raise DataIntegrityError(f"{spec.name}: signature has the wrong length")
        if not signature_valid(public_key, signature, sign_input):
            raise DataIntegrityError(f"{spec.name}: the card's signature does not verify "
                                     "against its certificate")
        log.info("signed with %s (%s, %s)", spec.name, alg.value, sign_input.scheme.name)
        return signature, der

    def _compute_signature(self, spec: KeySpec, sign_input: SignInput) -> bytes:
        self._select_ef(spec.ef, spec.name)
        resp = self._send(
            CommandApdu(0x80, Ins.COMPUTE_DIGITAL_SIGNATURE, sign_input.scheme.p1, 0x80,
                        sign_input.payload, le=256, extended=False)
        )
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            self._verified.discard(spec.pin)
            raise SecurityStatusError(resp.sw, resp.data,
                                      f"{spec.name}: {spec.pin.label} is not verified")
        return _sw.check(resp)


class JukiJpkiSession(JpkiSession):
    """The JPKI AP of a 住基カード: ``JukiJpkiPin.SIGN``, ``JukiJpkiCert.SIGN``/``SIGN_CA``
    and ``JukiJpkiKey.SIGN`` (RSA-1024) only.  Same methods as :class:`JpkiSession`.
    NOTE: unverified layout (:mod:`jukicard.apdu.apps.jpki`).
    """

    APPLICATION: ClassVar[Application] = JUKI_JPKI
    PINS: ClassVar[tuple[PinRef, ...]] = tuple(JukiJpkiPin)
    CERTS: ClassVar[tuple[CertRef, ...]] = tuple(JukiJpkiCert)
    KEYS: ClassVar[tuple[KeyRef, ...]] = tuple(JukiJpkiKey)


def _signing_key(der: bytes, spec: CertSpec) -> tuple[bytes, rsa.RSAPublicKey]:
    """A key's certificate and its RSA public key, or BadResponse if unusable."""
    return der, crypto.certificate_rsa_key(crypto.load_der_certificate(der, spec.name),
                                           spec.name)
