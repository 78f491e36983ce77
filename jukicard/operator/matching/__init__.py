"""The default vein matcher: Maximum Curvature + Miura matching, its template protection,
its calibration table (issue 12).  Imports only NumPy/SciPy, :mod:`jukicard.errors` and
:mod:`jukicard.operator.api` — never a device driver."""

from __future__ import annotations

from jukicard.operator.matching.calibration import CalibrationTable
from jukicard.operator.matching.matcher import (
    PLAIN_FORMAT,
    PROTECTED_FORMAT,
    MaxCurvatureMiura,
    VeinFeatures,
)
from jukicard.operator.matching.protect import ProtectionKey

__all__ = ["CalibrationTable", "MaxCurvatureMiura", "PLAIN_FORMAT", "PROTECTED_FORMAT",
           "ProtectionKey", "VeinFeatures"]
