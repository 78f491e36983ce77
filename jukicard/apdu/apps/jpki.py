"""公的個人認証AP (JPKI AP): the facts, on the My Number card and on the 住基カード.

Facts and their confidence come from ``card-interface.md`` §3.1, §4 and §12.  The
住基カード variant (:data:`JUKI_JPKI`) is an **unverified layout**: the token and the key
size are known; the EF ids are the My Number card's, by inference, and the password rules
come from one user report.
"""

from __future__ import annotations

from jukicard.apdu.apps.spec import (
    Application,
    CertEnum,
    CertSpec,
    Charset,
    KeyEnum,
    KeySpec,
    PinEnum,
    PinSpec,
)

__all__ = [
    "AID",
    "TOKEN_EF",
    "TOKEN_EF_SIZE",
    "MYNUMBER_TOKEN",
    "JUKI_TOKEN",
    "SMARTPHONE_TOKEN",
    "JPKI",
    "JUKI_JPKI",
    "JpkiPin",
    "JpkiCert",
    "JpkiKey",
    "JukiJpkiPin",
    "JukiJpkiCert",
    "JukiJpkiKey",
]

#: DF name of the JPKI AP (the same on My Number cards, 住基カード and smartphones).
AID = bytes.fromhex("D392F000260100000001")

#: EF of the JPKI token string.
TOKEN_EF = 0x0006
#: Size of the token EF on the cards seen (clients read 20 or 32 bytes).
TOKEN_EF_SIZE = 32
#: Token of a My Number card.
MYNUMBER_TOKEN = "JPKIAPICCTOKEN2"
#: Token of a 住基カード.
JUKI_TOKEN = "JPKIAPICCTOKEN"
#: Token of a smartphone JPKI (GP secure element).
SMARTPHONE_TOKEN = "JPKIAPGPSETOKEN"

# --------------------------------------------------------------------------- My Number card
_AUTH_PIN = PinSpec(
    "auth", 0x0018, 4, 4, 3, Charset.DIGITS,
    "利用者証明用電子証明書暗証番号", "user-authentication PIN",
)
_SIGN_PIN = PinSpec(
    "sign", 0x001B, 6, 16, 5, Charset.ALNUM_UPPER,
    "署名用電子証明書暗証番号", "signature password", needs_letter_and_digit=True,
)

_CERT_EF = 0x0001
_CA_EF = 0x0002
_AUTH_CERT_EF = 0x000A
_AUTH_CA_EF = 0x000B
_AUTH_KEY_EF = 0x0017
_SIGN_KEY_EF = 0x001A

#: The JPKI AP of a My Number card (and of a smartphone JPKI token).
JPKI = Application(
    "jpki", AID, "公的個人認証AP", "JPKI application",
    pins=(_AUTH_PIN, _SIGN_PIN),
    # auth cert, auth CA, sign CA, token.  The sign cert (0001) names the holder.
    public_efs=frozenset({_AUTH_CERT_EF, _AUTH_CA_EF, _CA_EF, TOKEN_EF}),
)


class JpkiPin(PinEnum):
    """PINs of the My Number card's JPKI AP."""

    #: 利用者証明用電子証明書暗証番号: 4 digits, 3 tries.
    AUTH = _AUTH_PIN
    #: 署名用電子証明書暗証番号 (password): 6–16 of A–Z/0–9, 5 tries.
    SIGN = _SIGN_PIN


_AUTH_CERT = CertSpec(_AUTH_CERT_EF, "auth certificate", pin_on_smartphone=_AUTH_PIN)
_AUTH_CA = CertSpec(_AUTH_CA_EF, "auth CA certificate")
_SIGN_CERT = CertSpec(_CERT_EF, "sign certificate", pin=_SIGN_PIN)
_SIGN_CA = CertSpec(_CA_EF, "sign CA certificate")


class JpkiCert(CertEnum):
    """Certificate EFs of the JPKI AP."""

    AUTH = _AUTH_CERT
    AUTH_CA = _AUTH_CA
    SIGN = _SIGN_CERT
    SIGN_CA = _SIGN_CA


class JpkiKey(KeyEnum):
    """Private-key IEFs of the JPKI AP (RSA-2048)."""

    AUTH = KeySpec(_AUTH_KEY_EF, _AUTH_PIN, _AUTH_CERT, 2048, "auth key")
    SIGN = KeySpec(_SIGN_KEY_EF, _SIGN_PIN, _SIGN_CERT, 2048, "sign key")


# --------------------------------------------------------------------------- 住基カード
# NOTE: unverified layout (card-interface.md §12).
_JUKI_SIGN_PIN = PinSpec(
    "sign", 0x001B, 4, 16, 5, Charset.ALNUM,
    "署名用電子証明書暗証番号", "住基カード signature password",
)
_JUKI_SIGN_CERT = CertSpec(_CERT_EF, "sign certificate", pin=_JUKI_SIGN_PIN)
_JUKI_SIGN_CA = CertSpec(_CA_EF, "sign CA certificate")

#: The JPKI AP of a 住基カード: one signature certificate, RSA-1024.  Unverified layout.
JUKI_JPKI = Application(
    "jpki", AID, "公的個人認証AP", "JPKI application (住基カード)",
    pins=(_JUKI_SIGN_PIN,),
    public_efs=frozenset({_CA_EF, TOKEN_EF}),
    variant="juki",
    verified_layout=False,
)


class JukiJpkiPin(PinEnum):
    """The one password of the 住基カード JPKI AP (4–16 alphanumerics; tries assumed 5).

    NOTE: unverified layout — the EF ids are the My Number card's, by inference.
    """

    SIGN = _JUKI_SIGN_PIN


class JukiJpkiCert(CertEnum):
    """Certificate EFs of the 住基カード JPKI AP (sign side only).  Unverified layout."""

    SIGN = _JUKI_SIGN_CERT
    SIGN_CA = _JUKI_SIGN_CA


class JukiJpkiKey(KeyEnum):
    """The one private key of the 住基カード JPKI AP (RSA-1024).  Unverified layout."""

    SIGN = KeySpec(_SIGN_KEY_EF, _JUKI_SIGN_PIN, _JUKI_SIGN_CERT, 1024, "sign key")
