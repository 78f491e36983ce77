"""The synthetic residents: who holds which test card, their invented personal data, the
wareki dates printed on a card and the test PIN values.

All personal data is invented (real place names, fake people).  Every random choice is drawn
from the caller's ``random.Random`` in a fixed order, so one seed gives one set of people.
"""

from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass
from typing import NamedTuple

from jukicard.apdu.apps import (
    JpkiKey,
    JpkiPin,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
    KeySpec,
    PinSpec,
    TextPin,
    VisualPin,
    make_match_b,
)
from jukicard.apdu.apps.juki import RESIDENT_CODE_LEN
from jukicard.card.dataobjects import Sex, my_number_check_digit
from jukicard.emulator.profile import DEFAULT_ATR
from jukicard.testing.pkigen.timeline import ISSUANCE_DATE, UTC

__all__ = [
    "ATR_DEFAULT",
    "ATR_EXTENDED",
    "AUTH_PIN",
    "SIGN_PASSWORD",
    "TEXT_PIN",
    "JUKI_SIGN_PASSWORD",
    "JUKI_PIN",
    "PLACES",
    "FAMILY_NAMES",
    "GIVEN_NAMES",
    "Place",
    "CardPlan",
    "PinValue",
    "Resident",
    "CARD_PLANS",
    "draw_resident",
    "wareki",
    "wareki_yymmdd",
    "nth_birthday_after",
]

#: The ATR OpenSC's jpki driver matches (hex).
ATR_DEFAULT = DEFAULT_ATR.hex().upper()
#: An ATR that advertises extended-length APDUs (hex).
ATR_EXTENDED = "3BDA13FF8131FB468012392F31C173C601C03B"

# Test PIN values (documented in vectors/cards/README.md).
AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
TEXT_PIN = "1234"
JUKI_SIGN_PASSWORD = "JK12"
JUKI_PIN = "1234"


class Place(NamedTuple):
    """A real municipality (prefecture, city; romanised as in JPKI CRL DP names)."""

    pref: str
    city: str
    pref_en: str
    city_en: str


PLACES = [
    Place("東京都", "千代田区", "Tokyo-to", "Chiyoda-ku"),
    Place("神奈川県", "横浜市", "Kanagawa-ken", "Yokohama-shi"),
    Place("北海道", "札幌市", "Hokkaido", "Sapporo-shi"),
    Place("大阪府", "大阪市", "Osaka-fu", "Osaka-shi"),
    Place("福岡県", "福岡市", "Fukuoka-ken", "Fukuoka-shi"),
]
FAMILY_NAMES = ["試験", "見本", "仮名", "架空", "模擬"]
GIVEN_NAMES = {Sex.MALE: ["太郎", "一郎", "次郎"], Sex.FEMALE: ["花子", "桜", "葵"]}


# --------------------------------------------------------------------------- dates
def wareki(d: _dt.date) -> tuple[int, int]:
    """(era digit, year within era) with era digits 3 昭和, 4 平成, 5 令和 (1 明治, 2 大正)."""
    if d >= _dt.date(2019, 5, 1):
        return 5, d.year - 2018
    if d >= _dt.date(1989, 1, 8):
        return 4, d.year - 1988
    if d >= _dt.date(1926, 12, 25):
        return 3, d.year - 1925
    if d >= _dt.date(1912, 7, 30):
        return 2, d.year - 1911
    return 1, d.year - 1867


def wareki_yymmdd(d: _dt.date) -> str:
    """和暦 YYMMDD (e.g. 1985-07-15 → ``600715``, 昭和60年)."""
    return f"{wareki(d)[1]:02d}{d.month:02d}{d.day:02d}"


def nth_birthday_after(birth: _dt.date, start: _dt.date, n: int) -> _dt.date:
    """The n-th birthday strictly after ``start`` (birth day ≤ 28 assumed)."""
    first = birth.replace(year=start.year)
    if first <= start:
        first = first.replace(year=start.year + 1)
    return first.replace(year=first.year + n - 1)


# --------------------------------------------------------------------------- residents
@dataclass(frozen=True)
class CardPlan:
    """Which card a test resident holds (fixed; nothing here is drawn at random).

    :ivar id: the resident's id (``r1``...), used in file names.
    :ivar profile: the card profile's name.
    :ivar card_type: ``"mynumber"`` or ``"juki"``.
    :ivar generation: the JPKI root generation that issued the card's certificates.
    :ivar issued: the card's issuance date.
    :ivar operator: a staff card (auth certificate with the operator OU).
    :ivar sign_revoked: the sign certificate is revoked.
    :ivar atr: the card's ATR (hex).
    """

    id: str
    profile: str
    card_type: str
    generation: str
    issued: _dt.datetime
    operator: bool = False
    sign_revoked: bool = False
    atr: str = ATR_DEFAULT

    @property
    def is_juki(self) -> bool:
        return self.card_type == "juki"

    @property
    def jpki_keys(self) -> dict[str, KeySpec]:
        """The card's JPKI keys by kind (``"auth"``, ``"sign"``), in issuance order."""
        if self.is_juki:
            return {"sign": JukiJpkiKey.SIGN.spec}
        return {"auth": JpkiKey.AUTH.spec, "sign": JpkiKey.SIGN.spec}


#: The test residents' cards, in the order they are drawn and issued.
CARD_PLANS: tuple[CardPlan, ...] = (
    CardPlan("r1", "mynumber-01", "mynumber", "2023", ISSUANCE_DATE),
    CardPlan("r2", "mynumber-02", "mynumber", "2023", ISSUANCE_DATE, sign_revoked=True,
             atr=ATR_EXTENDED),
    CardPlan("r3", "mynumber-03", "mynumber", "2015", _dt.datetime(2022, 6, 1, tzinfo=UTC)),
    CardPlan("operator", "mynumber-operator", "mynumber", "2019", ISSUANCE_DATE, operator=True),
    CardPlan("juki1", "juki-01", "juki", "2019", _dt.datetime(2024, 4, 1, tzinfo=UTC)),
)


@dataclass(frozen=True)
class PinValue:
    """A test PIN value of a card.

    :ivar label: its manifest name without the IEF (``"jpki_auth"``).
    :ivar spec: the PIN's facts.
    :ivar value: the synthetic value.
    """

    label: str
    spec: PinSpec
    value: str

    @property
    def key(self) -> str:
        """The manifest key: label and IEF (``"jpki_auth_0018"``)."""
        return f"{self.label}_{self.spec.ef:04X}"


@dataclass(frozen=True, repr=False)
class Resident:
    """A synthetic card holder; all personal data is invented."""

    plan: CardPlan
    name: str
    address: str
    place: Place
    birth: _dt.date
    sex: Sex
    my_number: str
    security_code: str
    card_expiry: _dt.date
    auth_cn: str
    sign_cn: str
    card_id: str
    juki_code: str

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def collation_b(self) -> str:
        """照合番号B: 和暦 birth YYMMDD + card expiry year + 4-digit security code."""
        return make_match_b(wareki_yymmdd(self.birth), self.card_expiry.year, self.security_code)

    @property
    def birth_pin(self) -> str:
        """Visual-AP 生年月日読出用暗証番号: 和暦 birth YYMMDD."""
        return wareki_yymmdd(self.birth)

    @property
    def pins(self) -> tuple[PinValue, ...]:
        """Every PIN of the card with its test value."""
        if self.plan.is_juki:
            return (
                PinValue("jpki_sign", JukiJpkiPin.SIGN.spec, JUKI_SIGN_PASSWORD),
                PinValue("juki", JukiPin.PIN.spec, JUKI_PIN),
            )
        return (
            PinValue("jpki_auth", JpkiPin.AUTH.spec, AUTH_PIN),
            PinValue("jpki_sign", JpkiPin.SIGN.spec, SIGN_PASSWORD),
            PinValue("text", TextPin.PIN.spec, TEXT_PIN),
            PinValue("text_collation_a", TextPin.MATCH_A.spec, self.my_number),
            PinValue("text_collation_b", TextPin.MATCH_B.spec, self.collation_b),
            PinValue("visual_birth", VisualPin.BIRTH.spec, self.birth_pin),
            PinValue("visual_collation_b", VisualPin.MATCH_B.spec, self.collation_b),
            PinValue("visual_collation_a", VisualPin.MATCH_A.spec, self.my_number),
        )

    def pin(self, spec: PinSpec) -> str:
        """The test value of the card's PIN ``spec``.

        :raises KeyError: the card has no such PIN.
        """
        for p in self.pins:
            if p.spec == spec:
                return p.value
        raise KeyError(spec.id)

    def __repr__(self) -> str:
        return f"Resident(id={self.id!r}, <synthetic personal data>)"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def draw_resident(plan: CardPlan, rng: random.Random) -> Resident:
    """Draw one resident's personal data from ``rng`` (a fixed sequence of draws).

    :param plan: the card they hold.
    :param rng: the run's random source.
    """
    sex = rng.choice([Sex.MALE, Sex.FEMALE])
    name = f"{rng.choice(FAMILY_NAMES)}\u3000{rng.choice(GIVEN_NAMES[sex])}"
    place = rng.choice(PLACES)
    address = (
        f"{place.pref}{place.city}見本町{rng.randint(1, 9)}丁目"
        f"{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
    )
    birth = _dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
    first11 = str(rng.randint(1, 9)) + _digits(rng, 10)
    security_code = f"{rng.randint(0, 9999):04d}"
    stamp = (
        plan.issued.strftime("%Y%m%d")
        + f"{rng.randint(8, 17):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}"
    )
    sign_cn = f"{stamp}{rng.randint(0, 99999):05d}{rng.randint(0, 999999):06d}TST"
    return Resident(
        plan=plan,
        name=name,
        address=address,
        place=place,
        birth=birth,
        sex=sex,
        my_number=first11 + str(my_number_check_digit(first11)),
        security_code=security_code,
        card_expiry=nth_birthday_after(birth, plan.issued.date(), 10),
        sign_cn=sign_cn,
        auth_cn=_digits(rng, 16),
        card_id="TC" + _digits(rng, 11),
        juki_code=_digits(rng, RESIDENT_CODE_LEN),
    )
