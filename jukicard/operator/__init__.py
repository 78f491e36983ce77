"""jukicard.operator: the operator check at terminal login (issue 12: 静脈認証).

Beside ``card``; imports only :mod:`jukicard.errors` (and NumPy/SciPy in the matcher).  The
public plugin API is :mod:`jukicard.operator.api`, re-exported here: drivers under
``drivers/`` import it from ``jukicard.operator`` and nothing else of the package.
"""

from __future__ import annotations

from jukicard.operator.api import (
    DEVICE_GROUP,
    MATCHER_GROUP,
    STORE_GROUP,
    CancelToken,
    Capture,
    CapturePurpose,
    Decision,
    DeviceInfo,
    Guidance,
    Imaging,
    Modality,
    PadDecision,
    PadResult,
    Template,
    TemplateFormat,
    TemplateRecord,
    TemplateStore,
    VeinDevice,
    VeinMatcher,
)

__all__ = [
    "DEVICE_GROUP",
    "MATCHER_GROUP",
    "STORE_GROUP",
    "CancelToken",
    "Capture",
    "CapturePurpose",
    "Decision",
    "DeviceInfo",
    "Guidance",
    "Imaging",
    "Modality",
    "PadDecision",
    "PadResult",
    "Template",
    "TemplateFormat",
    "TemplateRecord",
    "TemplateStore",
    "VeinDevice",
    "VeinMatcher",
]
