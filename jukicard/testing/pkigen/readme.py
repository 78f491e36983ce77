# ruff: noqa: E501  (Markdown templates: the line breaks are those of the written READMEs)
"""The READMEs of ``vectors/pki`` and ``vectors/cards``.

File ids, AIDs, PIN lengths and retry limits in the texts come from the card facts
(:mod:`jukicard.apdu.apps`) and from the profiles just built (who may read what), dates and
OIDs from the generator's own constants: the texts cannot drift from the vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jukicard.apdu.apps import (
    App,
    CommonEf,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiEf,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
    PinSpec,
    TextEf,
    TextPin,
    VisualEf,
    VisualPin,
)
from jukicard.apdu.apps.jpki import JUKI_TOKEN, TOKEN_EF, TOKEN_EF_SIZE
from jukicard.apdu.apps.juki import RESIDENT_CODE_LEN
from jukicard.emulator.profile import (
    PROFILE_FORMAT,
    ApplicationSpec,
    BinaryFileSpec,
    CardProfile,
    RecordFileSpec,
    RsaKeySpec,
)
from jukicard.testing.pkigen.crlgen import STALE_CRL_CA, WRONG_KEY_CRL_CA, WRONG_SIGNER_KEY
from jukicard.testing.pkigen.keys import key_path
from jukicard.testing.pkigen.manifest import GENERATOR
from jukicard.testing.pkigen.names import OID
from jukicard.testing.pkigen.personas import (
    AUTH_PIN,
    JUKI_PIN,
    JUKI_SIGN_PASSWORD,
    SIGN_PASSWORD,
    TEXT_PIN,
    Resident,
)
from jukicard.testing.pkigen.profiles import PROFILE_PLANS, SHORT_PROFILE
from jukicard.testing.pkigen.timeline import (
    CRL_NEXT_UPDATE,
    CRL_THIS_UPDATE,
    EXPIRED_GENERATION,
    GENERATIONS,
    R2_REVOKED_AT,
    REFERENCE_TIME,
    STALE_NEXT_UPDATE,
    iso,
)

__all__ = ["pki_readme", "cards_readme"]

_PKI_README = """\
# vectors/pki: jukicard TEST PKI (generated, synthetic)

**Everything here is synthetic TEST material** written by `{generator}`
(`jukicard/testing/pkigen/`, seed {seed}).  The private keys in `keys/` are TEST keys that
are public in this repository: never trust them for anything.  No real J-LIS certificate,
key or personal datum is included.  Do not edit by hand: re-run the generator (it reuses the
keys in `keys/`; `--new-keys` regenerates them).  `tests/unit/test_pkigen.py` fails if these
files are not exactly what the generator writes.

Reference validation time for tests: **{ref}** (fixed; nothing uses `now()`).

| path | what |
|---|---|
{table}

Residents: r1 (valid, 2023 generation), r2 (sign cert revoked), r3 (issued by the expired 2015
generation; its own certs are still inside their validity), operator (staff card, 2019
generation), juki1 (住基カード: RSA-1024 sign cert only, 2019 generation; valid dates so that
the key size is the only defect).
"""


def _pki_table() -> list[tuple[str, str]]:
    expired_end = iso(GENERATIONS[EXPIRED_GENERATION][1])
    san_last = OID.SAN_ADDRESS_SUBST.rsplit(".", 1)[1]
    return [
        (
            "ca/{auth,sign}-{2015,2019,2023}.cer",
            "self-signed roots shaped like the JPKI roots (card-interface §11.1): subject "
            "`C=JP, O=JPKI, OU=JPKI for user authentication|digital signature, OU=Japan Agency "
            "for Local Authority Information Systems, OU=jukicard TEST`, RSA-2048, sha256WithRSA, "
            "keyUsage critical {keyCertSign, cRLSign}, basicConstraints critical CA, SKI, SAN "
            "DirName, CRL DP = DirName of the CA itself. **The generations of one kind share one "
            "subject DN** (like the real 2015/2023 roots): tell them apart by SKI/AKI. The "
            f"{EXPIRED_GENERATION} generation **expired** {expired_end}.",
        ),
        (
            "ee/<resident>-{auth,sign}.cer",
            "end-entity certificates (§11.2): auth `C=JP, CN=<opaque>` (operator: `C=JP, "
            "OU=jukicard operator, CN=<opaque>`), KU critical digitalSignature, policy "
            f"{OID.POLICY_AUTH}; sign `C=JP, L=<pref>, L=<city>, CN=<opaque>`, KU critical "
            f"digitalSignature+nonRepudiation, policy {OID.POLICY_SIGN}, SAN otherNames "
            f"{OID.SAN_NAME}..{san_last} (UTF8String), CRL DP DirName `…, OU=CRL Distribution "
            "Points, OU=<pref>, CN=<city>`; AKI + SKI.",
        ),
        (
            "crl/<ca>.crl",
            f"complete CRL per CA generation (thisUpdate {CRL_THIS_UPDATE.date()}, nextUpdate "
            f"{CRL_NEXT_UPDATE.date()}, CRL number, AKI, a few filler entries). "
            "`sign-2023.crl` revokes r2's sign cert (affiliationChanged, "
            f"{iso(R2_REVOKED_AT)}).",
        ),
        (
            "crl/<ca>-arl.crl",
            "ARL per root (critical IDP: fullName = the CA DirName, onlyContainsCACerts).",
        ),
        (
            f"crl/{STALE_CRL_CA}-stale.crl",
            f"genuine but **stale** CRL (nextUpdate {STALE_NEXT_UPDATE.date()}), issued before "
            "r2's revocation.",
        ),
        (
            f"crl/{WRONG_KEY_CRL_CA}-wrongkey.crl",
            f"issuer name and AKI of {WRONG_KEY_CRL_CA} but **signed by another key** "
            f"(`{key_path(WRONG_SIGNER_KEY)}`), with a higher CRL number than the genuine one.",
        ),
        (
            "cv/*.cvc",
            'test "J-LIS" CV certificates (`7F 21`, §8.4): `jlis-root` (self-issued), `text-ap` '
            "and `visual-ap` (CAR = jlis-root).",
        ),
        ("keys/*.pem", "PKCS#8 PEM RSA TEST keys (unencrypted). `ee-juki1-sign` is RSA-1024."),
        (
            "manifest.json",
            "every file with role, subject/issuer (RFC 4514), serial, validity, key, issuer, "
            "revoked or not, SHA-256; the CRL list; `crl_dp_map` (DP DirName → candidate CRL "
            "files); `residents` (synthetic personal data and PINs); `cards`; `cases` "
            "(validation cases with expected outcome and error class).",
        ),
    ]


def pki_readme(seed: int) -> str:
    """The text of ``vectors/pki/README.md``."""
    return _PKI_README.format(
        generator=GENERATOR,
        seed=seed,
        ref=iso(REFERENCE_TIME),
        table="\n".join(f"| `{p}` | {w} |" for p, w in _pki_table()),
    )


_CARDS_README = """\
# vectors/cards: emulator card profiles (generated, synthetic)

Format `{profile_format}` (schema in `jukicard/emulator/profile.py`).  Written by
`{generator}` together with `vectors/pki/`; do not edit by hand.
**All keys, certificates, numbers, names, addresses and PINs are synthetic TEST values.**
`vectors/pki/manifest.json` (`residents`) has the same data in machine-readable form.

Common PIN values: JPKI auth PIN `{auth_ef}` = `{auth}`, JPKI sign password `{sign_ef}` = `{sign}`
(My Number cards), text-AP PIN `{text_ef}` = `{text}`.  照合番号A = the card's My Number.
照合番号B = 和暦 birth YYMMDD + card expiry year + 4-digit security code.  Visual-AP birth
PIN `{birth_ef}` = 和暦 birth YYMMDD.  Tries: auth {auth_tries}, sign {sign_tries}, text PIN {text_tries}, 照合番号A/B {match_tries}, birth
PIN {birth_tries}, 住基 PIN {juki_tries}.

| profile | holder | ATR | ext. | My Number | 照合番号B | birth PIN | notes |
|---|---|---|---|---|---|---|---|
{rows}

`{juki_profile}` (住基カード): JPKI token `{juki_token}`, sign cert/CA/key (RSA-{juki_bits}) and
password `{juki_sign_ef}` = `{juki_sign}` ({juki_sign_len} chars, {juki_sign_tries} tries) only; 住基AP at `{juki_aid}`
with PIN `{juki_pin_ef}` = `{juki_pin}` ({juki_pin_len} digits, {juki_pin_tries} tries) and EF `{juki_code_ef}` = the {juki_code_len}-digit 住民票コード
`{juki_code}` (readable after `{juki_code_read}`) — **unverified layout**, the real 住基AP is not public.

Applications on the My Number profiles: JPKI AP (`{sign_cert}` sign cert [{sign_cert_read}], `{sign_ca}` sign CA,
`{auth_cert}` auth cert, `{auth_ca}` auth CA, `{token}` token {token_size} B space-padded, `{auth_key}` auth key [{auth_key_use}],
`{sign_key}` sign key [{sign_key_use}]); text AP `{text_aid}` (`{my_number}` My Number [{my_number_read}],
`{basic_info}` 基本4情報 [{basic_info_read}], `{signature}` signature EF [{signature_read}], `{text_cv}` CV cert, `{text_info}` AP
basic info); visual AP `{visual_aid}` (`{birth}` birth [{birth_read}], `{entries}` entries
[{entries_read}], `{visual_info}` AP info, `{visual_cv}` CV cert; tiny placeholder PNG/JP2 images; the `DF 28`
signature covers items DF22..DF27 with the visual CV key — a jukicard test rule); common DF
`{common_aid}` (record EF `{card_id}`, card id).
"""

#: Notes of the card table, by resident.
_NOTES = {
    "r1": "valid certs (2023 CA)",
    "r2": "sign cert REVOKED; ATR advertises extended length",
    "r3": "certs from the EXPIRED 2015 CA",
    "operator": "staff card, auth OU=jukicard operator (2019 CA)",
}
_SHORT_NOTE = "r1's card, short APDUs only"


def _fid(ef: int) -> str:
    return f"{ef:04X}"


def _tries(*pins: PinSpec) -> int | None:
    """The one retry limit of these PINs (the README names them together).

    :raises ValueError: they differ, so one number in the README would be wrong.
    """
    tries = {p.max_tries for p in pins}
    if len(tries) != 1:
        raise ValueError(f"PINs {[p.id for p in pins]} have different retry limits")
    return tries.pop()


def _length(pin: PinSpec) -> str:
    return f"{pin.min_len}–{pin.max_len}" if pin.min_len != pin.max_len else f"{pin.min_len}"


class _Access:
    """The PINs that open each file of one application of a built profile (``0011|0014``)."""

    def __init__(self, app: ApplicationSpec) -> None:
        self.app = app

    def __call__(self, fid: int) -> str:
        f = self.app.file(fid)
        if isinstance(f, RsaKeySpec):
            cond = f.use
        elif isinstance(f, (BinaryFileSpec, RecordFileSpec)):
            cond = f.read
        else:
            raise KeyError(f"{self.app.name}: no data or key file {fid:04X}")
        return "|".join(_fid(p) for p in cond.pins)


def _rows(residents: Mapping[str, Resident]) -> list[str]:
    rows = []
    for plan in PROFILE_PLANS:
        r = residents[plan.resident]
        if r.plan.is_juki:
            continue
        note = _SHORT_NOTE if plan == SHORT_PROFILE else _NOTES.get(r.id, "")
        rows.append(
            f"| `{plan.name}` | {r.id} | `{plan.atr}` | {'yes' if plan.extended_length else 'no'} "
            f"| `{r.my_number}` | `{r.collation_b}` | `{r.birth_pin}` | {note} |"
        )
    return rows


def cards_readme(residents: Sequence[Resident], mynumber: CardProfile, juki: CardProfile) -> str:
    """The text of ``vectors/cards/README.md``.

    :param mynumber: a My Number card profile (its access conditions are described).
    :param juki: the 住基カード profile.
    """
    by_id = {r.id: r for r in residents}
    juki_res = next(r for r in residents if r.plan.profile == juki.name)
    jpki = _Access(mynumber.application(App.JPKI.aid))
    text = _Access(mynumber.application(App.TEXT.aid))
    visual = _Access(mynumber.application(App.VISUAL.aid))
    juki_ap = _Access(juki.application(App.JUKI.aid))
    juki_sign = JukiJpkiPin.SIGN.spec
    return _CARDS_README.format(
        profile_format=PROFILE_FORMAT,
        generator=GENERATOR,
        auth_ef=_fid(JpkiPin.AUTH.spec.ef),
        auth=AUTH_PIN,
        sign_ef=_fid(JpkiPin.SIGN.spec.ef),
        sign=SIGN_PASSWORD,
        text_ef=_fid(TextPin.PIN.spec.ef),
        text=TEXT_PIN,
        birth_ef=_fid(VisualPin.BIRTH.spec.ef),
        auth_tries=_tries(JpkiPin.AUTH.spec),
        sign_tries=_tries(JpkiPin.SIGN.spec),
        text_tries=_tries(TextPin.PIN.spec),
        match_tries=_tries(TextPin.MATCH_A.spec, TextPin.MATCH_B.spec,
                           VisualPin.MATCH_A.spec, VisualPin.MATCH_B.spec),
        birth_tries=_tries(VisualPin.BIRTH.spec),
        juki_tries=_tries(JukiPin.PIN.spec),
        rows="\n".join(_rows(by_id)),
        juki_profile=juki.name,
        juki_token=JUKI_TOKEN,
        juki_bits=JukiJpkiKey.SIGN.spec.bits,
        juki_sign_ef=_fid(juki_sign.ef),
        juki_sign=JUKI_SIGN_PASSWORD,
        juki_sign_len=_length(juki_sign),
        juki_sign_tries=_tries(juki_sign),
        juki_aid=App.JUKI.aid.hex().upper(),
        juki_pin_ef=_fid(JukiPin.PIN.spec.ef),
        juki_pin=JUKI_PIN,
        juki_pin_len=_length(JukiPin.PIN.spec),
        juki_pin_tries=_tries(JukiPin.PIN.spec),
        juki_code_ef=_fid(JukiEf.RESIDENT_CODE),
        juki_code_len=RESIDENT_CODE_LEN,
        juki_code=juki_res.juki_code,
        juki_code_read=juki_ap(JukiEf.RESIDENT_CODE),
        sign_cert=_fid(JpkiCert.SIGN.spec.ef),
        sign_cert_read=jpki(JpkiCert.SIGN.spec.ef),
        sign_ca=_fid(JpkiCert.SIGN_CA.spec.ef),
        auth_cert=_fid(JpkiCert.AUTH.spec.ef),
        auth_ca=_fid(JpkiCert.AUTH_CA.spec.ef),
        token=_fid(TOKEN_EF),
        token_size=TOKEN_EF_SIZE,
        auth_key=_fid(JpkiKey.AUTH.spec.ef),
        auth_key_use=jpki(JpkiKey.AUTH.spec.ef),
        sign_key=_fid(JpkiKey.SIGN.spec.ef),
        sign_key_use=jpki(JpkiKey.SIGN.spec.ef),
        text_aid=App.TEXT.aid.hex().upper(),
        my_number=_fid(TextEf.MY_NUMBER),
        my_number_read=text(TextEf.MY_NUMBER),
        basic_info=_fid(TextEf.BASIC_INFO),
        basic_info_read=text(TextEf.BASIC_INFO),
        signature=_fid(TextEf.SIGNATURE),
        signature_read=text(TextEf.SIGNATURE),
        text_cv=_fid(TextEf.CV_CERTIFICATE),
        text_info=_fid(TextEf.AP_BASIC_INFO),
        visual_aid=App.VISUAL.aid.hex().upper(),
        birth=_fid(VisualEf.BIRTH),
        birth_read=visual(VisualEf.BIRTH),
        entries=_fid(VisualEf.ENTRIES),
        entries_read=visual(VisualEf.ENTRIES),
        visual_info=_fid(VisualEf.AP_BASIC_INFO),
        visual_cv=_fid(VisualEf.CV_CERTIFICATE),
        common_aid=App.COMMON.aid.hex().upper(),
        card_id=_fid(CommonEf.CARD_ID),
    )
