"""RFC 3161 time-stamp client for PAdES B-T (the signature time-stamp), bounded.

:class:`TsaClient` is a pyHanko :class:`~pyhanko.sign.timestamps.api.TimeStamper` whose
HTTP exchange is ours, with the rules of :mod:`jukicard.pki.fetch`:

* only ``http``/``https`` URLs; no redirect is followed (a TSA answers the POST itself);
* a socket ``timeout`` and an overall ``deadline`` per exchange, enforced by
  :class:`~jukicard.pki.httpdeadline.HttpDeadline` (a dripping reply is cut);
* the reply is read up to :data:`MAX_TSA_REPLY` bytes, and must say
  ``Content-Type: application/timestamp-reply`` (RFC 3161 §3.4);
* the token must answer *our* request: status granted, our nonce, and the message imprint
  (hash algorithm and value) we asked for — pyHanko itself checks only the nonce;
* the token's own CMS signature must verify with the TSA certificate it carries, and that
  certificate must have the timeStamping extended key usage (RFC 3161 §2.3).

Every failure is a :class:`TimestampError` (reason ``timestamp-failed``); whether the TSA
is *trusted* is the verifier's question, not the signer's.

pyHanko is imported here: only the PDF signing path imports this module.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from asn1crypto import cms as _cms
from asn1crypto import tsp as _tsp
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import handle_tsp_response, set_tsp_headers

from jukicard.errors import JukiError, UsageError, ValidationError
from jukicard.pki.errors import PkiError
from jukicard.pki.httpdeadline import HttpDeadline, read_capped
from jukicard.pki.reasons import Reason
from jukicard.pki.tstoken import verify_timestamp_token

__all__ = ["MAX_TSA_REPLY", "DEFAULT_TSA_TIMEOUT", "TimestampError", "TsaClient",
           "check_timestamp_token"]

log = logging.getLogger(__name__)

#: Largest time-stamp reply read (a token with a few certificates is 2–8 KiB).
MAX_TSA_REPLY = 256 * 1024
#: Default socket timeout of one exchange with the TSA (seconds).
DEFAULT_TSA_TIMEOUT = 10.0
_CHUNK = 16 * 1024
_ALLOWED_SCHEMES = ("http", "https")


class TimestampError(PkiError):
    """The time-stamp authority gave no usable token (network, HTTP status, size, timeout,
    refusal, a token that does not answer the request or does not verify).  Nothing was
    written.  The message names the failure, never personal data."""

    reason = Reason.TIMESTAMP_FAILED


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        raise TimestampError(f"the time-stamp authority answered with a redirect ({code})")


def check_tsa_url(url: str) -> str:
    """Return ``url`` if it is an absolute ``http``/``https`` URL with a host.

    :raises UsageError: anything else (a typo must cost no PIN).
    """
    if (not isinstance(url, str) or not url
            or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url)):
        raise UsageError("the TSA URL is empty or contains spaces/control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UsageError("the TSA URL does not parse") from None
    if parts.scheme.lower() not in _ALLOWED_SCHEMES or not parts.hostname:
        raise UsageError("the TSA URL must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        # urllib would not send them, and the URL is logged: a password must not be in it
        raise UsageError("the TSA URL must not carry a user name or password")
    return url


def check_timestamp_token(token: _cms.ContentInfo, *, hash_name: str,
                          digest: bytes) -> _tsp.TSTInfo:
    """Check that ``token`` (a ``TimeStampToken``) time-stamps ``digest`` and verifies:
    :func:`jukicard.pki.tstoken.verify_timestamp_token` (the verifier's own check).

    :param token: the ContentInfo(SignedData(TSTInfo)) of the reply or the signature.
    :param hash_name: the message imprint's expected hash (``"sha256"``...).
    :param digest: the expected message imprint value.
    :returns: the TSTInfo.
    :raises TimestampError: the token is malformed, for another imprint, does not verify,
        or its signer certificate lacks the timeStamping extended key usage.
    """
    try:
        der = bytes(token.dump())
        verify_timestamp_token(der, imprint=(hash_name, bytes(digest)))
        info: _tsp.TSTInfo = token["content"]["encap_content_info"]["content"].parsed
        return info
    except ValidationError as exc:
        raise TimestampError(f"the time-stamp token does not answer the request or does not "
                             f"verify ({exc.reason}: {exc})") from None
    except Exception as exc:  # asn1crypto on hostile bytes
        raise TimestampError(
            f"the time-stamp token is malformed ({type(exc).__name__})") from None


class TsaClient(TimeStamper):
    """pyHanko time stamper speaking RFC 3161 over HTTP(S) with bounded work.

    :param url: the TSA's ``http://`` or ``https://`` URL.
    :param timeout: socket timeout (connect and each read), seconds.
    :param deadline: longest one exchange may take, seconds.
    :param max_bytes: largest reply read.
    :raises UsageError: a bad URL or limits.

    :ivar exchanges: how many requests were sent (observability and tests).
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TSA_TIMEOUT,
                 deadline: float = 60.0, max_bytes: int = MAX_TSA_REPLY) -> None:
        untyped: Any = super()  # pyHanko's TimeStamper methods carry no annotations
        untyped.__init__(include_nonce=True)
        self.url = check_tsa_url(url)
        if not timeout > 0 or not deadline > 0 or max_bytes <= 0:
            raise UsageError("TSA timeout, deadline and size limit must be positive")
        self.timeout = float(timeout)
        self.deadline = float(deadline)
        self.max_bytes = int(max_bytes)
        self.exchanges = 0

    def probe(self, hash_name: str) -> None:
        """Get (and cache) one token for a dummy digest, as pyHanko's size estimate does:
        called before a PIN is asked, a TSA that is down costs no PIN.

        :raises TimestampError: the TSA gave no usable token.
        """
        asyncio.run(self.async_dummy_response(hash_name))

    async def async_timestamp(self, message_digest: bytes,
                              md_algorithm: str) -> _cms.ContentInfo:
        """One RFC 3161 exchange; the token is checked before it is returned.

        :raises TimestampError: any failure.
        """
        try:
            untyped: Any = self
            nonce, req = untyped.request_cms(message_digest, md_algorithm)
            resp = await self.async_request_tsa_response(req)
            token = handle_tsp_response(resp, nonce)
        except JukiError:
            raise
        except Exception as exc:  # pyHanko's TimestampRequestError, asn1crypto's ValueError
            raise TimestampError(
                f"the time-stamp authority's reply is unusable ({type(exc).__name__})"
            ) from None
        check_timestamp_token(token, hash_name=md_algorithm, digest=message_digest)
        return token

    async def async_request_tsa_response(self, req: _tsp.TimeStampReq) -> _tsp.TimeStampResp:
        body = self._exchange(req.dump())
        try:
            resp = _tsp.TimeStampResp.load(body)
            resp.native  # noqa: B018 - parse it all now, not lazily inside pyHanko
        except Exception as exc:
            raise TimestampError(
                f"the time-stamp reply does not parse ({type(exc).__name__})") from None
        return resp

    def _exchange(self, query: bytes) -> bytes:
        headers = set_tsp_headers({"User-Agent": "jukicard-tsa-client/1"})
        req = urllib.request.Request(self.url, data=query, headers=headers, method="POST")
        self.exchanges += 1
        deadline = HttpDeadline(self.deadline)
        late = f"the time-stamp exchange exceeded {self.deadline:g}s"
        too_big = f"the time-stamp reply is larger than {self.max_bytes} bytes"
        try:
            with deadline, deadline.opener(_NoRedirects()).open(
                    req, timeout=self.timeout) as resp:
                ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype.lower() != "application/timestamp-reply":
                    raise TimestampError("the time-stamp authority did not answer with "
                                         "application/timestamp-reply")
                length = resp.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > self.max_bytes:
                    raise TimestampError(too_big)
                body = read_capped(resp, self.max_bytes, _CHUNK)
                if body is None:
                    raise TimestampError(too_big)
            if deadline.expired:  # the reply was cut at the deadline
                raise TimestampError(late)
        except TimestampError:
            if deadline.expired:  # whatever the cut reply looked like
                raise TimestampError(late) from None
            raise
        except urllib.error.HTTPError as exc:
            raise TimestampError(f"the time-stamp authority answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimestampError):
                raise exc.reason from None
            if deadline.expired:
                raise TimestampError(late) from None
            raise TimestampError("the time-stamp authority cannot be reached "
                                 f"({type(exc.reason).__name__})") from None
        except Exception as exc:  # timeouts, resets, http.client protocol errors
            if deadline.expired:
                raise TimestampError(late) from None
            raise TimestampError(
                f"the time-stamp exchange failed ({type(exc).__name__})") from None
        log.info("time-stamp reply from %s (%d bytes)", self.url, len(body))
        return body
