"""The differential harness of issue 9: every corpus case (``jukicard.testing.x509corpus``)
through three verifiers side by side, the rule that judges their disagreements, and the
Markdown agreement table.

* **jukicard** — :class:`jukicard.pki.Validator` with the *default* :class:`ValidationPolicy`
  (only the trust anchor given; revocation off unless the case is about CRLs, then the
  root's CRL through :class:`CrlRevocationSource`).
* **cryptography** — ``cryptography.x509.verification``: ``PolicyBuilder`` with a
  ``Store`` of the anchor, the case's time, ``build_client_verifier()`` and the extension
  policies of :func:`cryptography_policies` (its CA/B Forum defaults, with the one
  web-only demand — a SAN on every end entity — relaxed for a non-web PKI).  It has no CRL
  support: on CRL cases it checks the chain only and its verdict is *not applicable*.
* **openssl** — ``openssl verify -x509_strict -attime <seconds>`` with only the anchor
  trusted (``-CAfile``, no default stores), ``-untrusted`` for the intermediate and any CRL
  signer, and ``-crl_check -extended_crl -CRLfile`` on CRL cases.

The rule (:func:`problems`): a case where jukicard accepts and an applicable peer rejects is
a failure unless the case carries a written note for that peer (``CaseDef.notes``).  Cases
where jukicard rejects and a peer accepts are listed in the table.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509 import verification as xv

from jukicard.pki import (
    CrlRevocationSource,
    MalformedError,
    RevocationRule,
    ValidationPolicy,
    Validator,
    load_certificate,
)
from jukicard.testing.x509corpus import PEERS, Case, CaseFiles

__all__ = [
    "Verdict", "Outcome", "INCIDENTAL_REASONS", "cryptography_policies", "run_jukicard",
    "run_cryptography", "run_openssl", "evaluate", "problems", "jukicard_problem",
    "peer_control_problems", "stale_notes", "render_markdown", "openssl_version",
]

#: Peers in table order.
VERIFIERS = ("jukicard",) + PEERS


@dataclass(frozen=True)
class Verdict:
    """One verifier's answer on one case.

    :ivar accepted: the chain was accepted.
    :ivar detail: reason code / error text (``""`` when accepted).
    :ivar applicable: False when the verifier cannot judge what the case is about (the
        cryptography verifier on CRL cases).
    :ivar code: jukicard's reason code (jukicard only; ``"ok"`` when accepted).
    """

    accepted: bool
    detail: str = ""
    applicable: bool = True
    code: str = ""

    def cell(self) -> str:
        """The Markdown table cell."""
        text = "reject: " if not self.accepted else "accept" + ("; " if self.detail else "")
        text += self.detail
        if not self.applicable:
            text = f"n/a ({text}; no CRL support)"
        return text.replace("|", "\\|")


@dataclass(frozen=True)
class Outcome:
    """The three verdicts on one case."""

    case: Case
    verdicts: Mapping[str, Verdict]

    def __getitem__(self, verifier: str) -> Verdict:
        return self.verdicts[verifier]


# ------------------------------------------------------------------ jukicard
def run_jukicard(case: Case) -> Verdict:
    """The default-policy :class:`Validator` on ``case`` (never raises for a bad input)."""
    try:
        anchor = load_certificate(case.anchor)
        policy = ValidationPolicy((anchor,))
        revocation = None
        if case.crl is None:
            policy = policy.replace(revocation=RevocationRule.NONE)
        else:
            revocation = CrlRevocationSource([case.crl])
        validator = Validator(policy, intermediates=list(case.untrusted),
                              revocation=revocation)
    except MalformedError as exc:  # the anchor, an intermediate or the CRL does not load
        return Verdict(False, f"{exc.reason} (at load)", code=str(exc.reason))
    result = validator.validate(case.target, at=case.at)
    return Verdict(result.valid, "" if result.valid else str(result.reason),
                   code=str(result.reason))


# ------------------------------------------------------------------ cryptography
def cryptography_policies() -> tuple[xv.ExtensionPolicy, xv.ExtensionPolicy]:
    """``(ca_policy, ee_policy)`` for a non-web PKI.

    Both start from cryptography's own defaults (``webpki_defaults_ca/ee``: basicConstraints
    critical with cA on CAs, keyUsage on CAs, AKI format, no keyCertSign or cA on end
    entities, ...).  The only change: the end entity's SAN *may* be present, with any
    criticality, instead of being required and matched against a server name — JPKI
    certificates name their subject in the DN, and a client verifier has no name to match.
    """
    ca = xv.ExtensionPolicy.webpki_defaults_ca()
    ee = xv.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, xv.Criticality.AGNOSTIC, None)
    return ca, ee


#: framing around cryptography's messages: kept out of the table
_CRYPTOGRAPHY_NOISE = re.compile(
    r"^(validation failed: )?(candidates exhausted: )?|\s*\(encountered processing .*$",
    re.DOTALL)


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_cryptography(case: Case) -> Verdict:
    """``cryptography.x509.verification`` on ``case`` (chain only: no CRLs).

    Deprecation warnings it emits while parsing (e.g. a serial that is not positive) are
    kept in the verdict's detail instead of leaking into the test run.
    """
    applicable = case.crl is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verdict = _cryptography_verdict(case, applicable)
    if verdict.accepted and caught:
        verdict = Verdict(True, _short("warns: " + str(caught[0].message)), applicable)
    return verdict


def _cryptography_verdict(case: Case, applicable: bool) -> Verdict:
    try:
        anchor = x509.load_der_x509_certificate(case.anchor)
        target = x509.load_der_x509_certificate(case.target)
        inters = [x509.load_der_x509_certificate(c) for c in case.untrusted]
        ca_policy, ee_policy = cryptography_policies()
        verifier = (xv.PolicyBuilder().store(xv.Store([anchor])).time(case.at)
                    .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
                    .build_client_verifier())
        verifier.verify(target, inters)
    except xv.VerificationError as exc:
        return Verdict(False, _short(_CRYPTOGRAPHY_NOISE.sub("", str(exc))), applicable)
    except Exception as exc:  # noqa: BLE001 - any load/parse error: the peer did not accept
        return Verdict(False, _short(f"{type(exc).__name__}: {exc}"), applicable)
    return Verdict(True, "", applicable)


# ------------------------------------------------------------------ openssl
_OPENSSL_ERROR = re.compile(r"error (\d+) at (\d+) depth lookup: ?(.*)")
#: what OpenSSL 3 logs when it refuses a certificate's extensions (duplicate, malformed) —
#: its verify error is then "unable to get local issuer certificate"
_OPENSSL_INVALID = "ossl_x509v3_cache_extensions:invalid certificate"


def openssl_version() -> str:
    """``openssl version`` (``""`` if there is no openssl on PATH)."""
    exe = shutil.which("openssl")
    if exe is None:
        return ""
    return subprocess.run([exe, "version"], capture_output=True, text=True,
                          check=False).stdout.strip()


def run_openssl(case: Case, files: CaseFiles) -> Verdict:
    """``openssl verify -x509_strict`` on the written files of ``case``.

    The validation time is given in whole seconds (``-attime`` takes an integer), rounded
    down, which is the one-second granularity certificates carry.
    """
    cmd = ["openssl", "verify", "-x509_strict", "-attime", str(math.floor(case.at.timestamp())),
           "-no-CApath", "-no-CAstore", "-CAfile", str(files.anchor)]
    if files.untrusted is not None:
        cmd += ["-untrusted", str(files.untrusted)]
    if files.crl is not None:
        # -extended_crl: CRLs signed by another certificate of the issuer (§6.3.3 (f))
        cmd += ["-crl_check", "-extended_crl", "-CRLfile", str(files.crl)]
    cmd.append(str(files.target))
    # no configuration file: nothing site-specific (security level, providers) applies
    env = dict(os.environ, OPENSSL_CONF=os.devnull)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode == 0:
        return Verdict(True)
    out = proc.stdout + proc.stderr
    m = _OPENSSL_ERROR.search(out)
    if m:
        text = f"{m.group(3)} (error {m.group(1)}, depth {m.group(2)})"
        if _OPENSSL_INVALID in out:  # the real cause, when the error names a consequence
            text += "; invalid certificate (bad extensions)"
        return Verdict(False, _short(text, 110))
    first = next((ln for ln in out.splitlines() if ln.strip()), "no output")
    return Verdict(False, _short(first))


# ------------------------------------------------------------------ comparison
def evaluate(cases: Iterable[Case], files: Mapping[str, CaseFiles]) -> list[Outcome]:
    """Run the three verifiers on every case."""
    return [Outcome(c, {"jukicard": run_jukicard(c), "cryptography": run_cryptography(c),
                        "openssl": run_openssl(c, files[c.id])}) for c in cases]


def problems(outcome: Outcome) -> list[str]:
    """The unexplained disagreements of one case: jukicard accepts what an applicable peer
    rejects, and the case has no written note saying why that peer is wrong."""
    out = []
    if outcome["jukicard"].accepted:
        for peer in PEERS:
            v = outcome[peer]
            if v.applicable and not v.accepted and peer not in outcome.case.notes:
                out.append(f"{outcome.case.id}: jukicard accepts, {peer} rejects "
                           f"({v.detail}) and the corpus has no note on {peer}")
    return out


#: Reason codes that name a consequence of a defect rather than the defect: a case whose
#: defect is only reported this way is not "rejected with its own reason".
INCIDENTAL_REASONS = frozenset({
    "no-valid-issuer-or-name-chaining", "bad-certificate-signature", "path-validation-error",
    "invalid", "revocation-status-undetermined", "ok",
})


def jukicard_problem(outcome: Outcome) -> str | None:
    """What is wrong with jukicard's verdict on the case, judged against the corpus alone:
    a control rejected, a defect accepted, or a defect rejected under a reason that does
    not name it (not one of ``case.reasons`` when the case lists them, else an
    :data:`INCIDENTAL_REASONS` code)."""
    case, v = outcome.case, outcome["jukicard"]
    if case.valid:
        return None if v.accepted else f"{case.id}: control rejected ({v.detail})"
    if v.accepted:
        return f"{case.id}: defect accepted ({case.what})"
    if case.reasons:
        if v.code not in case.reasons:
            return f"{case.id}: rejected as {v.code}, expected one of {list(case.reasons)}"
    elif v.code in INCIDENTAL_REASONS:
        return f"{case.id}: rejected as {v.code}, which does not name the defect ({case.what})"
    return None


def peer_control_problems(outcome: Outcome) -> list[str]:
    """A control an applicable peer rejects with no note: the base chain is not as
    conformant as the corpus claims (or a note is missing)."""
    case = outcome.case
    if not case.valid:
        return []
    return [f"{case.id}: control rejected by {p} ({outcome[p].detail}) without a note"
            for p in PEERS if outcome[p].applicable and not outcome[p].accepted
            and p not in case.notes]


def stale_notes(outcome: Outcome) -> list[str]:
    """Notes that explain nothing: the named peer's verdict is the expected one."""
    case = outcome.case
    return [f"{case.id}: note on {p}, but {p} {'accepts' if case.valid else 'rejects'} as "
            "expected" for p in case.notes
            if p not in PEERS or outcome[p].accepted == case.valid]


def _agreement(o: Outcome) -> str:
    j = o["jukicard"].accepted
    if problems(o):
        return "**jukicard accepts what a peer rejects**"
    if all(o[p].accepted == j for p in PEERS if o[p].applicable):
        return "agree"
    return "peer wrong (noted)" if j else "jukicard stricter"


def _ids(items: Iterable[str]) -> str:
    ids = [f"`{i}`" for i in items]
    return f" ({', '.join(ids)})" if ids else ""


def render_markdown(outcomes: Sequence[Outcome], *, openssl: str, cryptography: str,
                    command: str = "", note: str = "") -> str:
    """The agreement table (and the notes) as Markdown.

    :param command: the command that regenerates it (a summary line when given).
    :param note: one more summary line (e.g. the jukicard revision measured).
    """
    n = len(outcomes)
    unexplained = [o.case.id for o in outcomes if problems(o)]
    verdicts = [o.case.id for o in outcomes if jukicard_problem(o)]
    stricter = [o.case.id for o in outcomes if _agreement(o) == "jukicard stricter"]
    lines = [
        "# Differential test: jukicard vs cryptography vs OpenSSL",
        "",
        f"Corpus `jukicard.testing.x509corpus`: {n} cases, "
        f"{sum(o.case.valid for o in outcomes)} conformant controls and "
        f"{sum(not o.case.valid for o in outcomes)} chains with exactly one defect.  "
        "jukicard: `Validator` with the default `ValidationPolicy` (revocation checked only "
        f"in the cases with a CRL).  cryptography {cryptography}: `x509.verification` client "
        "verifier, its webpki extension policies with the end-entity SAN made optional.  "
        f"{openssl}: `openssl verify -x509_strict -attime`.",
        "",
        f"* jukicard accepts what a peer rejects, with no written reason: "
        f"**{len(unexplained)}**{_ids(unexplained)}",
        f"* jukicard's own verdict wrong (control rejected, defect accepted, or rejected "
        f"under a reason that does not name the defect): **{len(verdicts)}**{_ids(verdicts)}",
        f"* jukicard rejects what a peer accepts: {len(stricter)}",
    ]
    if command:
        lines.append(f"* generated by `{command}`")
    if note:
        lines.append(f"* {note}")
    lines += [
        "",
        "| case | expected | defect / control | RFC 5280 | jukicard | cryptography | openssl "
        "| agreement |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        c = o.case
        lines.append(
            f"| `{c.id}` | {'valid' if c.valid else 'invalid'} | {c.what} | {c.rfc} | "
            f"{o['jukicard'].cell()} | {o['cryptography'].cell()} | {o['openssl'].cell()} | "
            f"{_agreement(o)} |")
    noted = [o for o in outcomes if o.case.notes]
    if noted:
        lines += ["", "## Why a peer is wrong (written in the corpus)", ""]
        for o in noted:
            for peer, why in o.case.notes.items():
                lines.append(f"* `{o.case.id}`, {peer}: {why}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ README block
README_BEGIN = "<!-- differential table: python3 tests/differential_report.py --readme -->"
README_END = "<!-- end of differential table -->"


def replace_readme_block(readme: str, report: str) -> str:
    """``readme`` with the text between :data:`README_BEGIN` and :data:`README_END` replaced
    by ``report`` without its title (the README gives its own heading)."""
    head, sep, rest = readme.partition(README_BEGIN)
    _, sep2, tail = rest.partition(README_END)
    if not sep or not sep2:
        raise ValueError("README.md has no differential table markers")
    body = report.split("\n", 2)[2] if report.startswith("# ") else report
    # the README nests the report under its own "###" heading
    body = "\n".join("##" + line if line.startswith("## ") else line
                     for line in body.splitlines())
    return f"{head}{README_BEGIN}\n{body.strip()}\n{README_END}{tail}"


def table_rows(markdown: str) -> dict[str, tuple[str, str]]:
    """``{case id: (jukicard cell, agreement)}`` from a rendered table (only the README's
    block between the markers when ``markdown`` has them; the peers' cells are left out:
    their wording depends on the installed OpenSSL and cryptography)."""
    if README_BEGIN in markdown:
        markdown = markdown.partition(README_BEGIN)[2].partition(README_END)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in markdown.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0].strip("`")] = (cells[4], cells[7])
    return rows


def live_rows(outcomes: Iterable[Outcome]) -> dict[str, tuple[str, str]]:
    """The same columns, computed now."""
    return {o.case.id: (o["jukicard"].cell(), _agreement(o)) for o in outcomes}
