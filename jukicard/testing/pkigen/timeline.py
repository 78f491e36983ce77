"""The fixed dates of the test PKI (nothing in the generator reads the clock).

Validity periods, CRL update times and the one revocation are constants, so the same keys and
seed always give the same bytes.
"""

from __future__ import annotations

import datetime as _dt

__all__ = [
    "UTC",
    "REFERENCE_TIME",
    "ISSUANCE_DATE",
    "CRL_THIS_UPDATE",
    "CRL_NEXT_UPDATE",
    "STALE_THIS_UPDATE",
    "STALE_NEXT_UPDATE",
    "R2_REVOKED_AT",
    "GENERATIONS",
    "EXPIRED_GENERATION",
    "iso",
    "end_of_day_jst",
]

UTC = _dt.UTC
#: The validation time the vectors are made for.
REFERENCE_TIME = _dt.datetime(2026, 6, 1, 0, 0, 0, tzinfo=UTC)
#: Issuance date of the current test cards.
ISSUANCE_DATE = _dt.datetime(2025, 4, 1, 0, 0, 0, tzinfo=UTC)
CRL_THIS_UPDATE = _dt.datetime(2026, 5, 31, 0, 0, 0, tzinfo=UTC)
CRL_NEXT_UPDATE = _dt.datetime(2026, 6, 7, 0, 0, 0, tzinfo=UTC)
STALE_THIS_UPDATE = _dt.datetime(2026, 4, 24, 0, 0, 0, tzinfo=UTC)
STALE_NEXT_UPDATE = _dt.datetime(2026, 5, 1, 0, 0, 0, tzinfo=UTC)
#: When r2's sign certificate was revoked.
R2_REVOKED_AT = _dt.datetime(2026, 5, 10, 3, 0, 0, tzinfo=UTC)

#: Root generations: (not_before, not_after).  The 2015 generation ended 2025-10-19
#: 14:59:59Z (like the real 2015 roots), so it is EXPIRED at REFERENCE_TIME.
GENERATIONS: dict[str, tuple[_dt.datetime, _dt.datetime]] = {
    "2015": (
        _dt.datetime(2015, 10, 19, 15, 0, 0, tzinfo=UTC),
        _dt.datetime(2025, 10, 19, 14, 59, 59, tzinfo=UTC),
    ),
    "2019": (
        _dt.datetime(2019, 6, 30, 15, 0, 0, tzinfo=UTC),
        _dt.datetime(2029, 6, 30, 14, 59, 59, tzinfo=UTC),
    ),
    "2023": (
        _dt.datetime(2023, 7, 15, 15, 0, 0, tzinfo=UTC),
        _dt.datetime(2033, 7, 15, 14, 59, 59, tzinfo=UTC),
    ),
}
#: The generation whose roots have expired at REFERENCE_TIME (serial 1, like the real ones).
EXPIRED_GENERATION = "2015"


def iso(t: _dt.datetime) -> str:
    """``2026-06-01T00:00:00Z``: the time format of the manifest and the READMEs."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def end_of_day_jst(d: _dt.date) -> _dt.datetime:
    """23:59:59 JST of ``d``, in UTC (the end of a JPKI certificate's validity)."""
    return _dt.datetime(d.year, d.month, d.day, 14, 59, 59, tzinfo=UTC)
