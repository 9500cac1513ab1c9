"""Typed accessors of the other common headers, mixed into :class:`Message`.

Each property finds its header lines (any case, compact forms) on access, parses them with
the value parsers of ``_hdrvalues`` and returns the typed value; a malformed value raises
:class:`ParseError` with its offset in the message. Absent headers give None (single-value
headers) or ``[]`` (list headers). Single-value headers read the first line (``validate()``
reports repeats of those RFC 3261 forbids); list headers join the values of every line
(RFC 3261 §7.3.1). Results are not cached: they are parsed on each read, so keep the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from rvoip_sansio._core import ParseError

from ._hdrext import (
    EventHeader,
    Reason,
    Replaces,
    SubscriptionState,
    parse_event,
    parse_event_types,
    parse_identities,
    parse_privacy,
    parse_reasons,
    parse_refer_to,
    parse_referred_by,
    parse_replaces,
    parse_subscription_state,
)
from ._hdrvalues import (
    ContentDisposition,
    MediaType,
    Product,
    RAck,
    RetryAfter,
    SessionExpires,
    SipDate,
    Timestamp,
    parse_accept,
    parse_content_disposition,
    parse_date,
    parse_delta,
    parse_media_type,
    parse_min_se,
    parse_products,
    parse_rack,
    parse_retry_after,
    parse_rseq,
    parse_session_expires,
    parse_timestamp,
    parse_token_list,
)
from ._headers import NameAddr
from ._multipart import Multipart, parse_multipart

__all__ = ["HeaderAccessors"]

_V = TypeVar("_V")


def _expires(value: str) -> int:
    return parse_delta(value, "Expires")


def _min_expires(value: str) -> int:
    return parse_delta(value, "Min-Expires")


def _tokens(what: str, allow_empty: bool) -> Callable[[str], list[str]]:
    return lambda value: parse_token_list(value, what, allow_empty=allow_empty)


_OPTION_TAGS = _tokens("option-tag", False)
_SUPPORTED = _tokens("option-tag", True)
_METHODS = _tokens("method", True)
_CODINGS = _tokens("content-coding", False)


class HeaderAccessors:
    """The typed accessors beyond RFC 3261's core set (see the module docstring)."""

    __slots__ = ()

    if TYPE_CHECKING:
        def _entries(self, key: str) -> list[tuple[int, str]]: ...
        def _typed_error(self, loc: int, exc: ParseError) -> ParseError: ...
        @property
        def body(self) -> bytes: ...
        def __bytes__(self) -> bytes: ...

    def _one(self, key: str, parse: Callable[[str], _V]) -> _V | None:
        entries = self._entries(key)
        if not entries:
            return None
        loc, value = entries[0]
        try:
            return parse(value)
        except ParseError as exc:
            raise self._typed_error(loc, exc) from None

    def _many(self, key: str, parse: Callable[[str], list[_V]]) -> list[_V]:
        out: list[_V] = []
        for loc, value in self._entries(key):
            try:
                out.extend(parse(value))
            except ParseError as exc:
                raise self._typed_error(loc, exc) from None
        return out

    # ---- RFC 3261 §20 ------------------------------------------------------------------

    @property
    def expires(self) -> int | None:
        """Expires in seconds (§20.19, 0 to 2**32-1)."""
        return self._one("expires", _expires)

    @property
    def min_expires(self) -> int | None:
        """Min-Expires in seconds (§20.23)."""
        return self._one("min-expires", _min_expires)

    @property
    def date(self) -> SipDate | None:
        """Date (§20.17): ``.text`` as written, ``.datetime`` in UTC."""
        return self._one("date", parse_date)

    @property
    def require(self) -> list[str]:
        """Require option-tags (§20.32)."""
        return self._many("require", _OPTION_TAGS)

    @property
    def proxy_require(self) -> list[str]:
        """Proxy-Require option-tags (§20.29)."""
        return self._many("proxy-require", _OPTION_TAGS)

    @property
    def supported(self) -> list[str]:
        """Supported option-tags (§20.37; compact ``k``; may be empty)."""
        return self._many("supported", _SUPPORTED)

    @property
    def unsupported(self) -> list[str]:
        """Unsupported option-tags (§20.40)."""
        return self._many("unsupported", _OPTION_TAGS)

    @property
    def allow(self) -> list[str]:
        """Allow methods (§20.5; may be empty)."""
        return self._many("allow", _METHODS)

    @property
    def accept(self) -> list[MediaType]:
        """Accept media ranges (§20.1), with ``.q``."""
        return self._many("accept", parse_accept)

    @property
    def media_type(self) -> MediaType | None:
        """Content-Type parsed (§20.15): ``.mime``, ``.boundary``, ``.charset``, params."""
        return self._one("content-type", parse_media_type)

    @property
    def multipart(self) -> Multipart | None:
        """The body split into its parts when the Content-Type is ``multipart/*`` (RFC 2046
        §5.1, RFC 5621), nested multiparts too; None for any other body. ParseError (offset
        in the message) for a malformed multipart body."""
        media = self.media_type
        if media is None or media.type != "multipart":
            return None
        body = self.body
        try:
            return parse_multipart(body, media)
        except ParseError as exc:
            raise ParseError(exc.reason, len(bytes(self)) - len(body) + exc.offset) from None

    @property
    def content_disposition(self) -> ContentDisposition | None:
        """Content-Disposition (§20.11): ``.type``, ``.handling``, params."""
        return self._one("content-disposition", parse_content_disposition)

    @property
    def content_encoding(self) -> list[str]:
        """Content-Encoding codings (§20.12; compact ``e``)."""
        return self._many("content-encoding", _CODINGS)

    @property
    def retry_after(self) -> RetryAfter | None:
        """Retry-After (§20.33): seconds, comment, duration."""
        return self._one("retry-after", parse_retry_after)

    @property
    def timestamp(self) -> Timestamp | None:
        """Timestamp (§20.38)."""
        return self._one("timestamp", parse_timestamp)

    @property
    def user_agent(self) -> list[Product] | None:
        """User-Agent products and comments (§20.41)."""
        return self._one("user-agent", parse_products)

    @property
    def server(self) -> list[Product] | None:
        """Server products and comments (§20.35)."""
        return self._one("server", parse_products)

    # ---- extensions ------------------------------------------------------------------

    @property
    def session_expires(self) -> SessionExpires | None:
        """Session-Expires (RFC 4028 §4; compact ``x``)."""
        return self._one("session-expires", parse_session_expires)

    @property
    def min_se(self) -> int | None:
        """Min-SE seconds (RFC 4028 §5)."""
        return self._one("min-se", parse_min_se)

    @property
    def rseq(self) -> int | None:
        """RSeq (RFC 3262 §7.1)."""
        return self._one("rseq", parse_rseq)

    @property
    def rack(self) -> RAck | None:
        """RAck (RFC 3262 §7.2)."""
        return self._one("rack", parse_rack)

    @property
    def event(self) -> EventHeader | None:
        """Event (RFC 6665 §8.4; compact ``o``)."""
        return self._one("event", parse_event)

    @property
    def allow_events(self) -> list[str]:
        """Allow-Events event types (RFC 6665 §8.4; compact ``u``)."""
        return self._many("allow-events", parse_event_types)

    @property
    def subscription_state(self) -> SubscriptionState | None:
        """Subscription-State (RFC 6665 §8.4)."""
        return self._one("subscription-state", parse_subscription_state)

    @property
    def refer_to(self) -> NameAddr | None:
        """Refer-To (RFC 3515 §2.1; compact ``r``)."""
        return self._one("refer-to", parse_refer_to)

    @property
    def referred_by(self) -> NameAddr | None:
        """Referred-By (RFC 3892 §3; compact ``b``)."""
        return self._one("referred-by", parse_referred_by)

    @property
    def reasons(self) -> list[Reason]:
        """Reason values (RFC 3326 §2). (``Response.reason`` is the reason phrase.)"""
        return self._many("reason", parse_reasons)

    @property
    def p_asserted_identity(self) -> list[NameAddr]:
        """P-Asserted-Identity (RFC 3325 §9.1)."""
        return self._many("p-asserted-identity", parse_identities)

    @property
    def p_preferred_identity(self) -> list[NameAddr]:
        """P-Preferred-Identity (RFC 3325 §9.2)."""
        return self._many("p-preferred-identity", parse_identities)

    @property
    def privacy(self) -> list[str]:
        """Privacy values (RFC 3323 §4.2), every line."""
        return self._many("privacy", parse_privacy)

    @property
    def replaces(self) -> Replaces | None:
        """Replaces (RFC 3891 §6.1)."""
        return self._one("replaces", parse_replaces)
