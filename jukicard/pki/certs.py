"""Certificates as immutable objects, and loading of certificates from DER/PEM.

:class:`Certificate` wraps an :class:`asn1crypto.x509.Certificate` that is parsed *once and
completely* in :meth:`Certificate.parse`: every field and extension the validator needs is
decoded there, so a malformed certificate fails early with
:class:`~jukicard.pki.errors.MalformedCertificateError` (reason ``malformed-certificate``),
never with a raw asn1crypto/cryptography exception later during validation.

Keys and signatures (:func:`load_public_key`, :func:`verify_signature`) live in
:mod:`jukicard.pki.backend`, CRL loading (:func:`load_crl`, :func:`load_crls`) in
:mod:`jukicard.pki.crl` and the DER/PEM helpers in :mod:`jukicard.pki.der`; the names are
re-exported here for the callers of their former home.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from asn1crypto import x509 as _x509
from cryptography.hazmat.primitives import serialization

from jukicard.pki.backend import (
    HASH_ALGORITHMS,
    PublicKey,
    dsa_params_of,
    load_public_key,
    load_x509_certificate,
    verify_signature,
)
from jukicard.pki.crl import load_crl, load_crls
from jukicard.pki.der import (
    MAX_CERTIFICATE_SIZE,
    MAX_EXTENSIONS,
    MAX_GENERAL_NAMES,
    Source,
    check_count,
    check_der_framing,
    check_der_nesting,
    check_name_caps,
    check_size,
    der_blobs,
    read_source,
    single_der,
    unarmor_all,
)
from jukicard.pki.errors import MalformedCertificateError
from jukicard.pki.names import NameKey, format_name, name_key
from jukicard.pki.reasons import Reason

if TYPE_CHECKING:
    from cryptography import x509 as _cx509

__all__ = [
    "Extension",
    "Certificate",
    "PublicKey",
    "load_certificate",
    "load_certificates",
    "load_crl",
    "load_crls",
    "unarmor_all",
    "check_der_framing",
    "dsa_params_of",
    "load_public_key",
    "verify_signature",
    "HASH_ALGORITHMS",
]

log = logging.getLogger(__name__)

#: PEM labels accepted for a certificate.
PEM_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")


@dataclass(frozen=True)
class Extension:
    """One decoded X.509 extension.

    :ivar oid: dotted OID.
    :ivar name: asn1crypto's name for it (``"key_usage"``...) or the dotted OID when unknown.
    :ivar critical: the criticality flag.
    :ivar value: the parsed asn1crypto value (``None`` for unknown extensions).
    """

    oid: str
    name: str
    critical: bool
    value: Any = field(repr=False, compare=False)


def _aware(value: object) -> _dt.datetime:
    if not isinstance(value, _dt.datetime):
        raise ValueError("time is not a datetime")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value


def _ext_name(ext: Any) -> tuple[str, str]:
    oid = ext["extn_id"].dotted
    native = ext["extn_id"].native
    return oid, native if isinstance(native, str) else oid


# ---------------------------------------------------------------- caps (issue 9)
def _check_general_names(names: Any, what: str) -> None:
    for gn in names:
        if gn.name == "directory_name":
            check_name_caps(gn.chosen, MalformedCertificateError, f"directoryName of the {what}")


def _check_extension_caps(name: str, value: Any) -> None:
    """The entry caps of subjectAltName/issuerAltName and nameConstraints (before their
    values are decoded)."""
    if name in ("subject_alt_name", "issuer_alt_name"):
        check_count(len(value), MAX_GENERAL_NAMES, MalformedCertificateError,
                    f"entries in the {name}")
        _check_general_names(value, name)
    elif name == "name_constraints":
        subtrees = [sub["base"] for key in ("permitted_subtrees", "excluded_subtrees")
                    for sub in value[key]]
        check_count(len(subtrees), MAX_GENERAL_NAMES, MalformedCertificateError,
                    "nameConstraints subtrees")
        _check_general_names(subtrees, name)
# ---------------------------------------------------------------- end of caps


@dataclass(frozen=True, eq=False)
class Certificate:
    """An X.509 certificate, decoded once.  Equality and hashing are by DER bytes.

    Build it with :meth:`parse` (DER or PEM) or :meth:`from_cryptography`.

    :ivar der: the DER encoding.
    :ivar subject: / :ivar issuer: asn1crypto names; ``subject_key``/``issuer_key`` are their
        RFC 5280 §7.1 canonical keys (see :func:`jukicard.pki.names.name_key`).
    :ivar serial: serial number (may be negative or long: PKITS 4.4.14–4.4.18).
    :ivar not_before: / :ivar not_after: timezone-aware validity bounds.
    :ivar signature_algorithm: asn1crypto name such as ``"sha256_rsa"``, ``"rsassa_pss"``.
    :ivar key_algorithm: ``"rsa"``, ``"dsa"``, ``"ec"``, ``"ed25519"``...
    :ivar key_bits: public key size in bits (``None`` if unknown, e.g. inherited DSA params).
    :ivar extensions: dotted OID → :class:`Extension`.
    """

    der: bytes = field(repr=False)
    asn1: _x509.Certificate = field(repr=False)
    version: int
    serial: int
    subject: _x509.Name = field(repr=False)
    issuer: _x509.Name = field(repr=False)
    subject_key: NameKey = field(repr=False)
    issuer_key: NameKey = field(repr=False)
    not_before: _dt.datetime
    not_after: _dt.datetime
    signature_algorithm: str
    signature_algo: str
    hash_algo: str | None
    tbs: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    spki: bytes = field(repr=False)
    key_algorithm: str
    key_bits: int | None
    key_has_params: bool
    extensions: Mapping[str, Extension] = field(repr=False)
    fingerprint: str

    # ------------------------------------------------------------------ construction
    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Certificate:
        """Parse one certificate from DER or PEM.

        :param data: DER bytes or a PEM ``CERTIFICATE`` block.
        :raises MalformedCertificateError: if it is not a well-formed X.509 certificate.
        """
        return cls._from_der(
            single_der(bytes(data), PEM_LABELS, MalformedCertificateError, "certificate"))

    @classmethod
    def from_cryptography(cls, cert: Any) -> Certificate:
        """Wrap a :class:`cryptography.x509.Certificate`."""
        return cls._from_der(cert.public_bytes(serialization.Encoding.DER))

    @classmethod
    def _from_der(cls, der: bytes) -> Certificate:
        check_size(der, MAX_CERTIFICATE_SIZE, MalformedCertificateError, "certificate")
        try:
            check_der_framing(der)
            check_der_nesting(der, MalformedCertificateError, "certificate")
            asn1 = _x509.Certificate.load(der, strict=True)
            tbs = asn1["tbs_certificate"]
            check_name_caps(tbs["subject"], MalformedCertificateError, "subject")
            check_name_caps(tbs["issuer"], MalformedCertificateError, "issuer")
            check_count(len(tbs["extensions"]), MAX_EXTENSIONS, MalformedCertificateError,
                        "extensions")
            if not tbs["serial_number"].contents:
                raise ValueError("empty serial number INTEGER")
            version_native = tbs["version"].native
            version = {"v1": 1, "v2": 2, "v3": 3}[version_native]
            serial = tbs["serial_number"].native
            if not isinstance(serial, int):
                raise ValueError("serial")
            subject = tbs["subject"]
            issuer = tbs["issuer"]
            subject_key = name_key(subject)
            issuer_key = name_key(issuer)
            not_before = _aware(tbs["validity"]["not_before"].native)
            not_after = _aware(tbs["validity"]["not_after"].native)
            outer_alg = asn1["signature_algorithm"]
            inner_alg = tbs["signature"]
            sig_name = outer_alg["algorithm"].native
            if outer_alg["algorithm"].dotted != inner_alg["algorithm"].dotted or (
                outer_alg["parameters"].native != inner_alg["parameters"].native
                and not (
                    outer_alg["parameters"].native in (None, {}) and
                    inner_alg["parameters"].native in (None, {})
                )
            ):
                sig_name = "mismatched-signature-algorithms"
            try:
                signature_algo = outer_alg.signature_algo
            except Exception:
                signature_algo = outer_alg["algorithm"].dotted
            try:
                hash_algo: str | None = outer_alg.hash_algo
            except Exception:
                hash_algo = None
            signature = asn1["signature_value"].native
            pk = tbs["subject_public_key_info"]
            key_alg = pk["algorithm"]["algorithm"].native
            if not isinstance(key_alg, str):
                key_alg = pk["algorithm"]["algorithm"].dotted
            params = pk["algorithm"]["parameters"]
            key_has_params = params.native is not None
            key_bits: int | None
            try:
                key_bits = pk.bit_size
            except Exception:
                key_bits = None
            _ = pk["public_key"].native  # force the parse of the key
            extensions: dict[str, Extension] = {}
            for ext in tbs["extensions"]:
                oid, name = _ext_name(ext)
                if oid in extensions:  # RFC 5280 §4.2, refused in every mode
                    raise MalformedCertificateError(
                        f"malformed certificate (extension {oid} appears twice)",
                        reason=Reason.DUPLICATE_EXTENSION)
                critical = bool(ext["critical"].native)
                parsed = ext["extn_value"].parsed
                if parsed is not None and name != oid:
                    _check_extension_caps(name, parsed)
                    _ = parsed.native  # force full parse of known extensions
                extensions[oid] = Extension(oid, name, critical, parsed if name != oid else None)
            cert = cls(
                der=der,
                asn1=asn1,
                version=version,
                serial=serial,
                subject=subject,
                issuer=issuer,
                subject_key=subject_key,
                issuer_key=issuer_key,
                not_before=not_before,
                not_after=not_after,
                signature_algorithm=sig_name,
                signature_algo=signature_algo,
                hash_algo=hash_algo,
                tbs=tbs.dump(),
                signature=bytes(signature),
                spki=pk.dump(),
                key_algorithm=key_alg,
                key_bits=key_bits,
                key_has_params=key_has_params,
                extensions=MappingProxyType(extensions),
                fingerprint=hashlib.sha256(der).hexdigest(),
            )
            # decode the derived views once, so they cannot fail later
            _ = (cert.basic_constraints, cert.key_usage, cert.subject_key_identifier,
                 cert.authority_key_identifier, cert.policy_info)
            return cert
        except MalformedCertificateError:
            raise
        except Exception as exc:
            # the parser's own words stay in the chained exception (debug log), not here
            raise MalformedCertificateError(
                "malformed certificate (not a well-formed X.509 structure)") from exc

    def __bytes__(self) -> bytes:
        return self.der

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def to_cryptography(self) -> _cx509.Certificate:
        """Return a :class:`cryptography.x509.Certificate` for the same DER.

        ``cryptography``'s deprecation warnings about the input (a serial number that is not
        positive...) are not passed on.

        :raises ValueError: if ``cryptography`` refuses the certificate.
        """
        return load_x509_certificate(self.der)

    # ------------------------------------------------------------------ derived views
    def ext(self, name: str) -> Extension | None:
        """The extension with this asn1crypto name (``"key_usage"``) or dotted OID."""
        if name in self.extensions:
            return self.extensions[name]
        for e in self.extensions.values():
            if e.name == name:
                return e
        return None

    def ext_value(self, name: str) -> Any:
        e = self.ext(name)
        return None if e is None else e.value

    @property
    def self_issued(self) -> bool:
        """Subject and issuer names match (RFC 5280 §6.1: self-issued)."""
        return self.subject_key == self.issuer_key

    @property
    def basic_constraints(self) -> tuple[bool, int | None] | None:
        """``(cA, pathLenConstraint)`` or ``None`` when the extension is absent."""
        v = self.ext_value("basic_constraints")
        if v is None:
            return None
        return bool(v["ca"].native), v["path_len_constraint"].native

    @property
    def is_ca(self) -> bool:
        """basicConstraints present with cA TRUE (v1/v2 certificates are never CAs)."""
        bc = self.basic_constraints
        return bc is not None and bc[0]

    @property
    def key_usage(self) -> frozenset[str] | None:
        """Set of keyUsage bit names (``"key_cert_sign"``, ``"crl_sign"``...) or ``None``."""
        v = self.ext_value("key_usage")
        if v is None:
            return None
        return frozenset(v.native)

    @property
    def subject_key_identifier(self) -> bytes | None:
        v = self.ext_value("key_identifier")
        return None if v is None else bytes(v.native)

    @property
    def authority_key_identifier(self) -> bytes | None:
        v = self.ext_value("authority_key_identifier")
        if v is None:
            return None
        kid = v["key_identifier"].native
        return None if kid is None else bytes(kid)

    @property
    def policy_info(self) -> Any:
        """The certificatePolicies value (asn1crypto ``CertificatePolicies``) or ``None``."""
        return self.ext_value("certificate_policies")

    def describe(self) -> str:
        """Short description for messages: CA subject, or serial+fingerprint for end entities.

        NOTE: end-entity subjects are never printed (JPKI signing certificates name the
        holder's municipality).
        """
        if self.is_ca or self.self_issued:
            return f"CA '{format_name(self.subject)}'"
        return f"certificate serial {self.serial:#x} (sha256 {self.fingerprint[:16]}…)"


def load_certificate(source: Source) -> Certificate:
    """Load one certificate from DER/PEM bytes or a file path.

    :raises MalformedCertificateError: if it does not parse.
    :raises OSError: if the file cannot be read.
    """
    return Certificate.parse(read_source(source))


def load_certificates(source: Source) -> list[Certificate]:
    """Load every certificate from DER bytes, a PEM bundle or a file path.

    :raises MalformedCertificateError: if one does not parse.
    :raises OSError: if the file cannot be read.
    """
    return [Certificate._from_der(d)
            for d in der_blobs(source, PEM_LABELS, MalformedCertificateError)]
