"""Emulator card profiles of the test residents, built from the emulator's own dataclasses
(:class:`~jukicard.emulator.profile.CardProfile`, :class:`ApplicationSpec`, the file specs of
:mod:`jukicard.emulator.filespecs`) and written with their ``to_json()``.

Every AID, EF id, PIN reference, PIN length and retry limit comes from the card facts
(:mod:`jukicard.apdu.apps`); this module only says which EF holds which test datum and who
may read it.  A profile that does not fit the facts fails here, at generation time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.apps import (
    App,
    CertSpec,
    CommonEf,
    JpkiCert,
    JukiEf,
    JukiJpkiCert,
    JukiPin,
    KeySpec,
    PinEnum,
    PinSpec,
    TextEf,
    TextPin,
    VisualEf,
    VisualPin,
)
from jukicard.apdu.apps.jpki import TOKEN_EF
from jukicard.apdu.apps.juki import RESIDENT_CODE_LEN
from jukicard.apdu.apps.text import CARD_AUTH_KEY
from jukicard.card.textsm import SessionKeyPublicKey
from jukicard.emulator.profile import (
    AccessCondition,
    ApplicationSpec,
    BinaryFileSpec,
    CardProfile,
    FileSpec,
    PinFileSpec,
    RecordFileSpec,
    RsaKeySpec,
)
from jukicard.emulator.textsm import SESSION_KEY_IEF
from jukicard.testing.pkigen.carddata import (
    CvSet,
    card_id_record,
    resident_code_ef,
    text_ap_data,
    token_ef,
    visual_ap_data,
)
from jukicard.testing.pkigen.keys import pem
from jukicard.testing.pkigen.output import OutputTree, dumps
from jukicard.testing.pkigen.personas import ATR_DEFAULT, CARD_PLANS, CardPlan, Resident
from jukicard.testing.pkigen.protocolkeys import PROTOCOL_CARD_IDS, protocol_files
from jukicard.testing.pkigen.x509gen import IssuedCert, der

__all__ = [
    "DEFAULT_TRIES",
    "ProfilePlan",
    "PROFILE_PLANS",
    "SHORT_PROFILE",
    "any_of",
    "pin_file",
    "key_file",
    "text_sm_files",
    "card_profile",
    "juki_layout_text",
    "write_profile",
]

#: Retry limit of a PIN whose limit the facts do not know.
DEFAULT_TRIES = 3


@dataclass(frozen=True)
class ProfilePlan:
    """One card profile to write: whose card, with which ATR and APDU mode.

    :ivar name: the profile's name (its file is ``cards/<name>.json``).
    :ivar resident: the holder's id.
    :ivar atr: the ATR (hex).
    :ivar extended_length: False = short APDUs only.
    """

    name: str
    resident: str
    atr: str
    extended_length: bool = True

    @property
    def path(self) -> str:
        """Path relative to the vectors folder."""
        return f"cards/{self.name}.json"


#: r1's card again, answering short APDUs only.
SHORT_PROFILE = ProfilePlan("mynumber-short", "r1", ATR_DEFAULT, extended_length=False)
#: Every profile written, in order: each resident's card, then the short-APDU card.
PROFILE_PLANS: tuple[ProfilePlan, ...] = (
    *(ProfilePlan(p.profile, p.id, p.atr) for p in CARD_PLANS),
    SHORT_PROFILE,
)


# --------------------------------------------------------------------------- file specs
def any_of(*pins: PinEnum | PinSpec) -> AccessCondition:
    """Access condition: any one of these PINs verified."""
    specs = [p.spec if isinstance(p, PinEnum) else p for p in pins]
    return AccessCondition("any_of", tuple(s.ef for s in specs))


def _read(cert: CertSpec) -> AccessCondition:
    return any_of(cert.pin) if cert.pin is not None else AccessCondition.ALWAYS


def pin_file(spec: PinSpec, value: str) -> PinFileSpec:
    """The PIN IEF of ``spec`` holding ``value``, with all tries left."""
    tries = spec.max_tries if spec.max_tries is not None else DEFAULT_TRIES
    return PinFileSpec(
        fid=spec.ef,
        value=value,
        min_len=spec.min_len,
        max_len=spec.max_len,
        max_tries=tries,
        tries_left=tries,
        format=spec,
    )


def key_file(spec: KeySpec, key: rsa.RSAPrivateKey) -> RsaKeySpec:
    """The private-key IEF of ``spec``, usable after its PIN."""
    return RsaKeySpec(spec.ef, pem(key).decode("ascii"), any_of(spec.pin))


def _pins(res: Resident, *pins: PinEnum) -> list[FileSpec]:
    return [pin_file(p.spec, res.pin(p.spec)) for p in pins]


# --------------------------------------------------------------------------- applications
def _jpki_certs(plan: CardPlan) -> tuple[tuple[str, CertSpec, CertSpec], ...]:
    """(kind, certificate EF, CA certificate EF), sign side first."""
    if plan.is_juki:
        return (("sign", JukiJpkiCert.SIGN.spec, JukiJpkiCert.SIGN_CA.spec),)
    return (
        ("sign", JpkiCert.SIGN.spec, JpkiCert.SIGN_CA.spec),
        ("auth", JpkiCert.AUTH.spec, JpkiCert.AUTH_CA.spec),
    )


def _jpki(res: Resident, issued: Mapping[str, IssuedCert]) -> ApplicationSpec:
    files: list[FileSpec] = []
    for kind, cert, ca in _jpki_certs(res.plan):
        files += [
            BinaryFileSpec(cert.ef, der(issued[kind].cert), _read(cert)),
            BinaryFileSpec(ca.ef, der(issued[kind].ca.cert), _read(ca)),
        ]
    files.append(BinaryFileSpec(TOKEN_EF, token_ef(res.plan)))
    for kind, key in res.plan.jpki_keys.items():
        files += [key_file(key, issued[kind].key), pin_file(key.pin, res.pin(key.pin))]
    app = App.JPKI.application
    return ApplicationSpec(app.name, app.aid, tuple(files))


def text_sm_files(sm_key: rsa.RSAPrivateKey | None) -> tuple[FileSpec, ...]:
    """Issue 11 part A (text-AP secure messaging): EF ``0006`` (``A1 { 90 e, 91 n }``,
    readable with the PIN or either 照合番号) and its private half, the key IEF SET SESSION
    KEY decrypts with (usable after the 4-digit PIN); none without a key."""
    if sm_key is None:
        return ()
    public = bytes(SessionKeyPublicKey.of(sm_key.public_key()))
    return (
        BinaryFileSpec(TextEf.SESSION_KEY_PUBLIC, public, any_of(*TextPin)),
        RsaKeySpec(SESSION_KEY_IEF, pem(sm_key).decode("ascii"), any_of(TextPin.PIN)),
    )


def _text(res: Resident, cv: CvSet, card_key: rsa.RSAPrivateKey | None,
          sm_key: rsa.RSAPrivateKey | None = None) -> ApplicationSpec:
    data = text_ap_data(res, cv, card_key)
    app = App.TEXT.application
    auth: tuple[FileSpec, ...] = () if card_key is None else (
        BinaryFileSpec(TextEf.SIGNED_CARD_KEY, data.signed_card_key, any_of(*TextPin)),
        RsaKeySpec(CARD_AUTH_KEY, pem(card_key).decode("ascii"), AccessCondition.ALWAYS),
    )
    return ApplicationSpec(app.name, app.aid, (
        BinaryFileSpec(TextEf.MY_NUMBER, data.my_number, any_of(TextPin.PIN, TextPin.MATCH_A)),
        BinaryFileSpec(TextEf.BASIC_INFO, data.basic_info, any_of(TextPin.PIN, TextPin.MATCH_B)),
        BinaryFileSpec(TextEf.SIGNATURE, data.signature, any_of(*TextPin)),
        BinaryFileSpec(TextEf.CV_CERTIFICATE, data.cv_certificate),
        BinaryFileSpec(TextEf.AP_BASIC_INFO, data.ap_basic_info),
        *auth,
        *text_sm_files(sm_key),
        *_pins(res, TextPin.PIN, TextPin.MATCH_A, TextPin.MATCH_B),
    ))


def _visual(res: Resident, cv: CvSet) -> ApplicationSpec:
    data = visual_ap_data(res, cv)
    app = App.VISUAL.application
    return ApplicationSpec(app.name, app.aid, (
        BinaryFileSpec(VisualEf.BIRTH, data.birth, any_of(VisualPin.BIRTH)),
        BinaryFileSpec(VisualEf.ENTRIES, data.entries,
                       any_of(VisualPin.MATCH_A, VisualPin.MATCH_B)),
        BinaryFileSpec(VisualEf.AP_BASIC_INFO, data.ap_basic_info),
        BinaryFileSpec(VisualEf.CV_CERTIFICATE, data.cv_certificate),
        *_pins(res, VisualPin.BIRTH, VisualPin.MATCH_B, VisualPin.MATCH_A),
    ))


def _common(res: Resident) -> ApplicationSpec:
    app = App.COMMON.application
    return ApplicationSpec(app.name, app.aid,
                           (RecordFileSpec(CommonEf.CARD_ID, (card_id_record(res),)),))


def _juki(res: Resident) -> ApplicationSpec:
    app = App.JUKI.application
    card_id = PROTOCOL_CARD_IDS.get(res.id)
    return ApplicationSpec(app.name, app.aid, (
        *_pins(res, JukiPin.PIN),
        BinaryFileSpec(JukiEf.RESIDENT_CODE, resident_code_ef(res), any_of(JukiPin.PIN)),
        *(protocol_files(card_id) if card_id is not None else ()),
    ))


def juki_layout_text() -> str:
    """``AID ...0401, PIN 001C, EF 0001``: where the (unverified) 住基AP layout puts things."""
    return (f"AID ...{App.JUKI.aid[-2:].hex().upper()}, PIN {JukiPin.PIN.spec.ef:04X}, "
            f"EF {JukiEf.RESIDENT_CODE:04X}")


def _description(res: Resident, extended: bool) -> str:
    plan = res.plan
    if plan.is_juki:
        desc = (
            f"jukicard TEST 住基カード for synthetic resident {res.id}: keys, certificates "
            "and data are synthetic test material. JPKI sign side only "
            f"(RSA-{plan.jpki_keys['sign'].bits}). The 住基AP ({juki_layout_text()} = "
            f"{RESIDENT_CODE_LEN}-digit 住民票コード) is an UNVERIFIED LAYOUT (not public)."
        )
    else:
        desc = (
            f"jukicard TEST card for synthetic resident {res.id}: keys, certificates "
            "and personal data are synthetic test material. JPKI certificates from "
            f"the {plan.generation} test CA generation."
        )
    if plan.operator:
        desc += " Operator (staff) card: auth certificate subject has OU=jukicard operator."
    if not extended:
        desc += " Short APDUs only (extended_length false)."
    return desc


def card_profile(
    res: Resident,
    issued: Mapping[str, IssuedCert],
    cv: CvSet,
    plan: ProfilePlan,
    card_key: rsa.RSAPrivateKey | None = None,
    sm_key: rsa.RSAPrivateKey | None = None,
) -> CardProfile:
    """The card profile ``plan`` of ``res``'s card.

    :param issued: ``res``'s end-entity certificates by kind (``"auth"``, ``"sign"``).
    :param cv: the CV certificates and keys that sign the text/visual-AP data.
    :param card_key: the text AP's card-authentication key (IEF ``0013``, EF ``0007``);
        None leaves both out.
    :param sm_key: the text AP's session-key encryption key (EF ``0006``,
        :func:`text_sm_files`); None leaves it out.
    :raises jukicard.emulator.profile.ProfileError: the profile does not fit the facts.
    """
    apps = [_jpki(res, issued)]
    if res.plan.is_juki:
        apps.append(_juki(res))
    else:
        apps += [_text(res, cv, card_key, sm_key), _visual(res, cv), _common(res)]
    return CardProfile(
        name=plan.name,
        description=_description(res, plan.extended_length),
        card_type=res.plan.card_type,
        applications=tuple(apps),
        atr=bytes.fromhex(plan.atr),
        extended_length=plan.extended_length,
    )


def write_profile(out: OutputTree, profile: CardProfile) -> str:
    """Write ``cards/<name>.json``; returns that path relative to the vectors folder."""
    out.write_text(out.cards / f"{profile.name}.json", dumps(profile.to_json()))
    return f"cards/{profile.name}.json"
