"""Print the NIST PKITS result table (markdown): ``python tests/pkits_report.py``.

Per section: total entries, valid expected, passed, xfailed (valid cases listed in
``tests/unit/test_pkits.py::XFAIL``), and how many invalid-case reason codes agree with the
index's ``reason`` field.  ``--details`` lists every mismatch.  Each entry runs exactly as in
``test_pkits.py``: under the strict RFC 5280 profile, except the entries of
``LENIENT_ENTRIES`` (PKITS certificates that break a §4 rule the test does not intend).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "unit"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import test_pkits as tp  # noqa: E402


def main(argv: list[str]) -> int:
    details = "--details" in argv
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    levels: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    titles: dict[str, str] = {}
    mismatches: list[str] = []
    invalid_accepted: list[str] = []
    for case in tp.CASES:
        sec = case["section"]
        titles[sec] = case["section_title"]
        cid = tp.case_id(case)
        out = tp.run_case(case)
        lv = levels[case["relevance"]]
        lv["total"] += 1
        lv["passed"] += out.passed
        r = rows[sec]
        r["total"] += 1
        r["valid_expected"] += case["expected"] == "valid"
        if out.passed:
            r["passed"] += 1
        elif cid in tp.XFAIL:
            r["xfailed"] += 1
        else:
            r["failed"] += 1
            mismatches.append(f"FAIL {cid}: expected {case['expected']}, got "
                              f"{out.result.reason}: {out.result.message}")
        if case["expected"] == "invalid" and out.result.valid:
            invalid_accepted.append(cid)
        if "reason" in case:
            r["with_reason"] += 1
            if out.result.reason == case["reason"]:
                r["reason_agree"] += 1
            else:
                mismatches.append(f"reason {cid}: index {case['reason']}, ours "
                                  f"{out.result.reason} ({out.result.message})")
    print("| section | title | total | valid expected | passed | xfailed | failed "
          "| reason agrees |")
    print("|---|---|---|---|---|---|---|---|")
    tot: dict[str, int] = defaultdict(int)
    for sec in sorted(rows, key=lambda s: tuple(int(x) for x in s.split("."))):
        r = rows[sec]
        for k, v in r.items():
            tot[k] += v
        print(f"| {sec} | {titles[sec]} | {r['total']} | {r['valid_expected']} | "
              f"{r['passed']} | {r['xfailed']} | {r['failed']} | "
              f"{r['reason_agree']}/{r['with_reason']} |")
    print(f"| **all** | | {tot['total']} | {tot['valid_expected']} | {tot['passed']} | "
          f"{tot['xfailed']} | {tot['failed']} | {tot['reason_agree']}/{tot['with_reason']} |")
    print("\n| relevance | total | passed |\n|---|---|---|")
    for name, lv in sorted(levels.items()):
        print(f"| {name} | {lv['total']} | {lv['passed']} |")
    print(f"\ninvalid cases accepted: {len(invalid_accepted)} {invalid_accepted or ''}")
    if details:
        print("\n" + "\n".join(mismatches))
    return 1 if invalid_accepted or tot["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
