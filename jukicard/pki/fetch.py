"""Fetching CRLs over HTTP(S), with a local cache that is re-verified on every load.

:class:`HttpCrlFetcher` implements the validator's ``CrlFetcher`` protocol
(``fetch(url) -> bytes``, DER).  Rules:

* only ``http``/``https`` URLs, also for redirects (at most ``max_redirects``);
* a per-operation socket ``timeout`` and an overall ``deadline`` for one download, enforced
  by :class:`~jukicard.pki.httpdeadline.HttpDeadline` (a server dripping its headers or
  body one byte inside each socket timeout is cut at the deadline);
* a size limit enforced while streaming (``Content-Length`` is checked first when sent);
* DER or PEM bodies are accepted; what is returned and cached is always DER;
* the cache holds one file per URL hash (``<sha256(url)>.crl``) and a metadata JSON
  (``<sha256(url)>.json``); on load it is parsed again, its hash compared with the metadata,
  and, when the caller names the issuer, its signature checked; it is used only while the
  time is before its nextUpdate, otherwise it is fetched again;
* files are written atomically (temporary file in the same directory + ``os.replace``),
  so a crash never leaves a half-written CRL that would be trusted.

Every failure is a :class:`CrlFetchError` (an :class:`~jukicard.errors.IndeterminateError`):
no CRL means "status undetermined", never "good".

NOTE: JPKI certificates carry DirName distribution points, not URLs (card-interface.md
§11.3); URLs come from the caller's DirName → URL map or from other PKIs.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jukicard.errors import IndeterminateError, UsageError, ValidationError
from jukicard.pki.backend import load_public_key, verify_signature
from jukicard.pki.certs import Certificate
from jukicard.pki.crl import Crl
from jukicard.pki.der import MAX_CRL_SIZE
from jukicard.pki.errors import MalformedError
from jukicard.pki.httpdeadline import HttpDeadline, read_capped
from jukicard.pki.reasons import Reason

__all__ = [
    "CrlFetchError",
    "CachedCrl",
    "HttpCrlFetcher",
    "DEFAULT_MAX_BYTES",
]

log = logging.getLogger(__name__)

#: Default size limit of one CRL download (JPKI CRL sizes are not public: be generous):
#: the parser's own cap.
DEFAULT_MAX_BYTES = MAX_CRL_SIZE
_CACHE_FORMAT = "jukicard-crl-cache/1"
_CHUNK = 64 * 1024
_ALLOWED_SCHEMES = ("http", "https")

IssuerLike = Any  # jukicard.pki.certs.Certificate, cryptography Certificate, DER/PEM bytes


class CrlFetchError(IndeterminateError):
    """A CRL could not be fetched, or what was fetched is not a usable CRL.

    ``reason`` is ``crl-fetch-failed`` (network, HTTP status, size, timeout, URL),
    ``malformed-crl`` (the body is not a CRL) or ``bad-crl-signature`` (issuer given and
    the signature does not verify).

    :ivar url: the URL (CRL URLs are public; no personal data).
    """

    reason: Reason = Reason.CRL_FETCH_FAILED

    def __init__(self, message: str, url: str = "", reason: Reason | None = None) -> None:
        self.url = url
        super().__init__(message)
        if reason is not None:
            self.reason = reason


@dataclass(frozen=True)
class CachedCrl:
    """A cache entry's metadata (the ``.json`` file).

    :ivar url: the URL it was fetched from.
    :ivar sha256: hex SHA-256 of the cached DER.
    :ivar fetched_at: when it was downloaded.
    :ivar this_update: / :ivar next_update: from the CRL itself.
    """

    url: str
    sha256: str
    size: int
    fetched_at: _dt.datetime
    this_update: _dt.datetime
    next_update: _dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _CACHE_FORMAT,
            "url": self.url,
            "sha256": self.sha256,
            "size": self.size,
            "fetched_at": self.fetched_at.isoformat(),
            "this_update": self.this_update.isoformat(),
            "next_update": None if self.next_update is None else self.next_update.isoformat(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> CachedCrl:
        """Parse the metadata JSON object.

        :raises ValueError: malformed metadata.
        """
        if not isinstance(obj, dict) or obj.get("format") != _CACHE_FORMAT:
            raise ValueError("not a jukicard CRL cache entry")
        nu = obj.get("next_update")
        return cls(
            url=str(obj["url"]),
            sha256=str(obj["sha256"]),
            size=int(obj["size"]),
            fetched_at=_parse_time(obj["fetched_at"]),
            this_update=_parse_time(obj["this_update"]),
            next_update=None if nu is None else _parse_time(nu),
        )


def _parse_time(value: Any) -> _dt.datetime:
    t = _dt.datetime.fromisoformat(str(value))
    if t.tzinfo is None:
        raise ValueError("naive time in cache metadata")
    return t


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http/https, at most ``max_redirects`` times."""

    def __init__(self, max_redirects: int) -> None:
        super().__init__()
        self._max = max_redirects

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        count = getattr(req, "jukicard_redirects", 0) + 1  # per redirect chain
        if count > self._max:
            raise CrlFetchError(f"more than {self._max} redirects", url=req.full_url)
        if scheme not in _ALLOWED_SCHEMES:
            raise CrlFetchError(f"redirect to a {scheme or 'relative'!r} URL refused",
                                url=req.full_url)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.jukicard_redirects = count  # type: ignore[attr-defined]
        return new


class HttpCrlFetcher:
    """Fetch CRLs by URL over HTTP(S), with a re-verified on-disk cache.

    :param cache_dir: directory for cached CRLs (created if missing); ``None`` = no cache.
        A path that is not (and cannot become) a directory is a
        :class:`~jukicard.errors.UsageError`.
    :param timeout: socket timeout in seconds for connecting and for each read.
    :param max_bytes: largest CRL accepted (bytes), enforced while streaming.
    :param deadline: longest time one download may take in total, redirects included
        (seconds); a connection still open then is shut down.
    :param max_redirects: redirects followed (http/https only).
    :param issuers: optional map URL → issuer certificate, used to check signatures when
        :meth:`fetch` is called without ``issuer=`` (the validator's protocol passes only
        the URL).
    :param allow_stale: when a download fails, return a cached CRL past its nextUpdate
        (logged); the validator still judges its freshness.  Default ``False``.
    :param proxies: passed to :class:`urllib.request.ProxyHandler`; ``None`` = from the
        environment, ``{}`` = no proxy.
    :param clock: returns the current aware time (tests inject a fixed clock).
    :param user_agent: the ``User-Agent`` header.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None,
        *,
        timeout: float = 10.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline: float = 300.0,
        max_redirects: int = 3,
        issuers: Mapping[str, IssuerLike] | None = None,
        allow_stale: bool = False,
        proxies: Mapping[str, str] | None = None,
        clock: Callable[[], _dt.datetime] = _utcnow,
        user_agent: str = "jukicard-crl-fetcher/1",
    ) -> None:
        if timeout <= 0 or deadline <= 0:
            raise UsageError("timeout and deadline must be positive")
        if max_bytes <= 0:
            raise UsageError("max_bytes must be positive")
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        if self.cache_dir is not None:
            _make_cache_dir(self.cache_dir)
        self.timeout = float(timeout)
        self.max_bytes = int(max_bytes)
        self.deadline = float(deadline)
        self.issuers = dict(issuers or {})
        self.allow_stale = allow_stale
        self.clock = clock
        self.user_agent = user_agent
        handlers: list[urllib.request.BaseHandler] = [_SafeRedirects(max_redirects)]
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(dict(proxies)))
        #: each download builds its opener from these and its own deadline's handlers
        self._handlers = tuple(handlers)
        self._lock = threading.Lock()
        #: number of network downloads done (observability and tests)
        self.downloads = 0

    # ------------------------------------------------------------------ public API
    def fetch(self, url: str, *, issuer: IssuerLike | None = None) -> bytes:
        """Return the DER CRL at ``url``, from the cache while it is fresh.

        :param url: ``http://`` or ``https://`` URL.
        :param issuer: the CRL issuer's certificate; when given (or found in ``issuers``)
            the CRL signature is checked, for cached and downloaded CRLs alike.
        :returns: the CRL, DER-encoded.
        :raises CrlFetchError: bad URL, network/HTTP failure, too big, timeout, not a CRL,
            bad signature (nothing is cached then).
        """
        _check_url(url)
        if issuer is None:
            issuer = self.issuers.get(url)
        with self._lock:
            cached = self._load_cache(url, issuer)
            now = self.clock()
            if cached is not None:
                der, meta = cached
                if meta.next_update is not None and now < meta.next_update:
                    log.debug("CRL cache hit for %s (next update %s)", url, meta.next_update)
                    return der
                log.info("cached CRL for %s is past its nextUpdate; fetching again", url)
            try:
                raw = self._download(url)
                der, crl = _parse_crl(raw, url)
                if issuer is not None:
                    _check_signature(crl, issuer, url)
            except CrlFetchError:
                if cached is not None and self.allow_stale:
                    log.warning("CRL download failed for %s; using the stale cached copy", url)
                    return cached[0]
                raise
            self._store(url, der, crl, now)
            return der

    def cached(self, url: str) -> CachedCrl | None:
        """The metadata of the cache entry for ``url`` (if it loads and re-verifies)."""
        with self._lock:
            loaded = self._load_cache(url, self.issuers.get(url))
        return None if loaded is None else loaded[1]

    def cache_paths(self, url: str) -> tuple[Path, Path]:
        """``(crl file, metadata file)`` of the cache entry for ``url``.

        :raises UsageError: no cache directory configured.
        """
        if self.cache_dir is None:
            raise UsageError("this fetcher has no cache directory")
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.cache_dir / f"{key}.crl", self.cache_dir / f"{key}.json"

    # ------------------------------------------------------------------ download
    def _download(self, url: str) -> bytes:
        req = urllib.request.Request(url, headers={
            "User-Agent": self.user_agent,
            "Accept": "application/pkix-crl, application/x-pkcs7-crl, */*",
        })
        deadline = HttpDeadline(self.deadline)
        late = f"CRL download exceeded the {self.deadline:g}s deadline"
        try:
            with deadline, deadline.opener(*self._handlers).open(
                    req, timeout=self.timeout) as resp:
                final = resp.geturl()
                if urllib.parse.urlsplit(final).scheme.lower() not in _ALLOWED_SCHEMES:
                    raise CrlFetchError("response came from a non-HTTP URL", url=url)
                length = resp.headers.get("Content-Length")
                if length is not None:
                    try:
                        declared = int(length)
                    except ValueError:
                        declared = -1
                    if declared > self.max_bytes:
                        raise CrlFetchError(
                            f"CRL is {declared} bytes, above the {self.max_bytes}-byte limit",
                            url=url)
                body = read_capped(resp, self.max_bytes, _CHUNK)
                if body is None:
                    raise CrlFetchError(
                        f"CRL exceeds the {self.max_bytes}-byte limit", url=url)
            if deadline.expired:  # the body was cut at the deadline
                raise CrlFetchError(late, url=url)
        except CrlFetchError:
            if deadline.expired:  # whatever the cut reply looked like
                raise CrlFetchError(late, url=url) from None
            raise
        except urllib.error.HTTPError as exc:
            raise CrlFetchError(f"HTTP {exc.code} for CRL", url=url) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, CrlFetchError):
                raise reason from exc
            if deadline.expired:
                raise CrlFetchError(late, url=url) from None
            raise CrlFetchError(f"CRL download failed ({type(reason).__name__})",
                                url=url) from exc
        except Exception as exc:
            # socket timeouts, resets, http.client protocol errors (IncompleteRead...)
            if deadline.expired:
                raise CrlFetchError(late, url=url) from None
            raise CrlFetchError(f"CRL download failed ({type(exc).__name__})", url=url) from exc
        self.downloads += 1
        log.info("downloaded CRL from %s (%d bytes)", url, len(body))
        return body

    # ------------------------------------------------------------------ cache
    def _load_cache(self, url: str, issuer: IssuerLike | None) -> tuple[bytes, CachedCrl] | None:
        if self.cache_dir is None:
            return None
        crl_path, meta_path = self.cache_paths(url)
        if not crl_path.exists() and not meta_path.exists():
            return None
        try:
            meta = CachedCrl.from_json(json.loads(meta_path.read_text("utf-8")))
            if meta.url != url:
                raise ValueError("cache entry belongs to another URL")
            der = crl_path.read_bytes()
            if len(der) != meta.size or hashlib.sha256(der).hexdigest() != meta.sha256:
                raise ValueError("cached CRL does not match its metadata")
            _der, crl = _parse_crl(der, url)
            if _der != der:
                raise ValueError("cached CRL is not DER")
            if issuer is not None:
                _check_signature(crl, issuer, url)
            if crl.next_update != meta.next_update:
                raise ValueError("cached nextUpdate differs from the CRL")
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("discarding CRL cache entry for %s: %s", url, exc)
            self._discard(crl_path, meta_path)
            return None
        return der, meta

    def _store(self, url: str, der: bytes, crl: Crl, now: _dt.datetime) -> None:
        if self.cache_dir is None:
            return
        crl_path, meta_path = self.cache_paths(url)
        meta = CachedCrl(
            url=url,
            sha256=hashlib.sha256(der).hexdigest(),
            size=len(der),
            fetched_at=now,
            this_update=crl.this_update,
            next_update=crl.next_update,
        )
        try:
            _atomic_write(crl_path, der)
            _atomic_write(meta_path, json.dumps(meta.to_json(), indent=1).encode("utf-8"))
        except OSError as exc:  # a cache we cannot write is not fatal: the CRL is good
            log.warning("could not write the CRL cache for %s: %s", url, exc)

    @staticmethod
    def _discard(*paths: Path) -> None:
        for p in paths:
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove %s: %s", p, exc)


# ---------------------------------------------------------------------- helpers
def _make_cache_dir(path: Path) -> None:
    """Create the cache directory if needed.

    :raises UsageError: the path names something that is not a directory (a regular file),
        or the directory cannot be created (permission...).
    """
    shown = repr(os.fspath(path))
    if path.exists() and not path.is_dir():
        raise UsageError(f"CRL cache {shown} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"CRL cache directory {shown} cannot be created: "
                         f"{exc.strerror or exc}") from None


def _check_url(url: str) -> None:
    if not isinstance(url, str) or not url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise CrlFetchError("CRL URL is empty or contains spaces/control characters", url="")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise CrlFetchError("CRL URL does not parse", url=url) from exc
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        raise CrlFetchError(
            f"only http/https CRL URLs are fetched, not {parts.scheme or 'none'!r}", url=url)
    if not parts.hostname:
        raise CrlFetchError("CRL URL has no host", url=url)


def _parse_crl(raw: bytes, url: str) -> tuple[bytes, Crl]:
    try:
        crl = Crl.parse(raw)
    except MalformedError as exc:
        raise CrlFetchError(f"not a CRL ({exc.reason})", url=url,
                            reason=Reason.MALFORMED_CRL) from exc
    return crl.der, crl


def _issuer_certificate(issuer: IssuerLike) -> Certificate:
    if isinstance(issuer, Certificate):
        return issuer
    if isinstance(issuer, (bytes, bytearray, memoryview)):
        return Certificate.parse(bytes(issuer))
    return Certificate.from_cryptography(issuer)


def _check_signature(crl: Crl, issuer: IssuerLike, url: str) -> None:
    try:
        cert = _issuer_certificate(issuer)
        key = load_public_key(cert.spki)
        ok = verify_signature(key, crl.signature_algorithm_asn1, crl.signature, crl.tbs_view)
    except ValidationError as exc:
        raise CrlFetchError(f"CRL signature cannot be checked ({exc.reason})", url=url,
                            reason=Reason.BAD_CRL_SIGNATURE) from exc
    except (AttributeError, TypeError, ValueError) as exc:
        raise UsageError("issuer must be a certificate (parsed, DER or PEM)") from exc
    if not ok:
        raise CrlFetchError("CRL signature does not verify with the given issuer", url=url,
                            reason=Reason.BAD_CRL_SIGNATURE)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
