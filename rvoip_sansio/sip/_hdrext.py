"""Typed values of the SIP extension headers for events, transfer, identity and reasons.

Grammar sources: RFC 6665 §8.4 (Event, Allow-Events, Subscription-State), RFC 3515 §2.1
(Refer-To), RFC 3892 §3 (Referred-By), RFC 3326 §2 (Reason), RFC 3325 §9
(P-Asserted-Identity, P-Preferred-Identity), RFC 3323 §4.2 (Privacy), RFC 3891 §6.1
(Replaces). Same conventions as ``_hdrvalues``: one unfolded value in, a frozen value out or
:class:`ParseError` with an offset relative to the value.
"""

from __future__ import annotations

import re

import attrs

from rvoip_sansio._core import ParseError

from ._hdrvalues import (
    _DIGITS_RE,
    _QUOTED_RE,
    _TOKEN_RE,
    _at,
    _head_params,
    _items,
    _merged,
    parse_delta,
    parse_token_list,
    unquote,
)
from ._headers import _PARAM_RE, NameAddr, _format_params, parse_name_addr
from ._uri import parse_uri

__all__ = [
    "EventHeader", "SubscriptionState", "Reason", "Replaces", "parse_event",
    "parse_event_types", "parse_subscription_state", "parse_refer_to", "parse_referred_by",
    "parse_reasons", "parse_identities", "parse_privacy", "parse_replaces",
]

# ---- Event, Allow-Events, Subscription-State (RFC 6665 §8.4) -------------------------

_NODOT = r"[A-Za-z0-9\-!%*_+`'~]++"
_EVENT_TYPE_RE = re.compile(_NODOT + r"(?:\." + _NODOT + r")*+")


@attrs.frozen
class EventHeader:
    """Event (RFC 6665 §8.4): ``package[.template...]`` plus the ``id`` and other params."""

    package: str
    templates: tuple[str, ...] = ()
    params: dict[str, str | None] = attrs.field(factory=dict)

    @property
    def event_type(self) -> str:
        return ".".join((self.package, *self.templates))

    @property
    def id(self) -> str | None:
        return self.params.get("id")

    def __str__(self) -> str:
        return self.event_type + _format_params(self.params)


def parse_event(value: str) -> EventHeader:
    """``event-type *( SEMI event-param )``; event-type = event-package *("." template)."""
    m, params = _head_params(_EVENT_TYPE_RE, value, "Event")
    ident = params.get("id")
    if ident is not None and _TOKEN_RE.fullmatch(ident) is None:
        raise ParseError(f"invalid Event id {ident[:40]!r}", m.end())
    package, *templates = m.group().split(".")
    return EventHeader(package, tuple(templates), params)


def parse_event_types(value: str) -> list[str]:
    """Allow-Events: ``event-type *(COMMA event-type)``."""
    return parse_token_list(value, "event type", allow_empty=False, pattern=_EVENT_TYPE_RE)


@attrs.frozen
class SubscriptionState:
    """Subscription-State (RFC 6665 §8.4): state (lower case: active, pending, terminated
    or an extension), reason, expires, retry-after and all parameters."""

    state: str
    reason: str | None = None
    expires: int | None = None
    retry_after: int | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)

    def __str__(self) -> str:
        return self.state + _merged(
            self.params, reason=self.reason,
            expires=None if self.expires is None else str(self.expires),
            retry_after=None if self.retry_after is None else str(self.retry_after))


def parse_subscription_state(value: str) -> SubscriptionState:
    m, params = _head_params(_TOKEN_RE, value, "Subscription-State")
    numbers: dict[str, int | None] = {}
    for name in ("expires", "retry-after"):
        text = params.get(name)
        numbers[name] = None if text is None else parse_delta(text, name, m.end())
    reason = params.get("reason")
    if reason is not None and _TOKEN_RE.fullmatch(reason) is None:
        raise ParseError(f"invalid Subscription-State reason {reason[:40]!r}", m.end())
    return SubscriptionState(m.group().lower(), None if reason is None else reason.lower(),
                             numbers["expires"], numbers["retry-after"], params)


# ---- Refer-To, Referred-By, P-Asserted-Identity ---------------------------------------


def parse_refer_to(value: str) -> NameAddr:
    """Refer-To (RFC 3515 §2.1): ``(name-addr / addr-spec) *(SEMI generic-param)``; the URI
    may carry headers (e.g. an escaped Replaces, RFC 3891 §6.1)."""
    return parse_name_addr(value)


def parse_referred_by(value: str) -> NameAddr:
    """Referred-By (RFC 3892 §3): ``referrer-uri *( SEMI (referredby-id-param /
    generic-param) )``; ``cid`` is among the params."""
    return parse_name_addr(value)


def parse_identities(value: str) -> list[NameAddr]:
    """P-Asserted-Identity / P-Preferred-Identity (RFC 3325 §9.1, §9.2):
    ``PAssertedID-value *(COMMA PAssertedID-value)``, each ``name-addr / addr-spec`` with
    no header parameters; an addr-spec's ``;...`` are URI parameters (no ``<>`` needed)."""
    out = []
    for pos, item in _items(value):
        if "<" not in item:
            try:
                out.append(NameAddr(parse_uri(item, pos)))
            except ParseError as exc:
                raise ParseError(f"invalid identity: {exc.reason}", exc.offset) from None
            continue
        try:
            addr = parse_name_addr(item)
            addr.uri  # noqa: B018  (the URI must be valid too)
        except ParseError as exc:
            raise ParseError(exc.reason, pos + exc.offset) from None
        if addr.params:
            raise ParseError("parameters after an identity (RFC 3325 §9.1 has none)",
                             pos + item.rfind(">") + 1)
        out.append(addr)
    return out


# ---- Reason (RFC 3326 §2) -------------------------------------------------------------


@attrs.frozen
class Reason:
    """One Reason value: protocol (``SIP``, ``Q.850``...), cause, text (unquoted)."""

    protocol: str
    cause: int | None = None
    text: str | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)

    def __str__(self) -> str:
        text = None if self.text is None else \
            '"' + self.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return self.protocol + _merged(
            self.params, cause=None if self.cause is None else str(self.cause), text=text)


def _parse_reason(value: str) -> Reason:
    m, params = _head_params(_TOKEN_RE, value, "Reason")
    cause = params.get("cause")
    if cause is not None and (_DIGITS_RE.fullmatch(cause) is None or len(cause) > 10):
        raise ParseError(f"invalid Reason cause {cause[:20]!r}", m.end())
    text = params.get("text")
    if text is not None and _QUOTED_RE.fullmatch(text) is None:
        raise ParseError("Reason text must be a quoted string (RFC 3326 §2)", m.end())
    return Reason(m.group(), None if cause is None else int(cause), unquote(text), params)


def parse_reasons(value: str) -> list[Reason]:
    """``reason-value *(COMMA reason-value)``; reason-value = protocol *(SEMI reason-params)."""
    return [_at(pos, _parse_reason, item) for pos, item in _items(value)]


# ---- Privacy (RFC 3323 §4.2), Replaces (RFC 3891 §6.1) -------------------------------


def parse_privacy(value: str) -> list[str]:
    """``priv-value *(";" priv-value)``: header, session, user, none, critical, id (RFC
    3325), history (RFC 4244) or another token. The separator is ``;``, not a comma."""
    out = []
    pos = 0
    for item in value.split(";"):
        text = item.strip()
        if _TOKEN_RE.fullmatch(text) is None:
            raise ParseError(f"invalid Privacy value {text[:40]!r}", pos)
        out.append(text)
        pos += len(item) + 1
    return out


# callid = word [ "@" word ] (RFC 3261 §25.1)
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]++"
_CALLID_RE = re.compile(_WORD + r"(?:@" + _WORD + ")?+")


def _param_names(value: str, pos: int) -> list[str]:
    """Every parameter name (lower case) of an already validated ``*( SEMI generic-param )``
    at ``value[pos:]``, repeats included (quoted values may hold ';')."""
    names = []
    while (m := _PARAM_RE.match(value, pos)) is not None and m.end() > pos:
        names.append(m.group(1).lower())
        pos = m.end()
    return names


@attrs.frozen
class Replaces:
    """Replaces (RFC 3891 §6.1): the dialog to replace and whether only an early one."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False
    params: dict[str, str | None] = attrs.field(factory=dict)

    def __str__(self) -> str:
        return self.call_id + _merged(self.params, to_tag=self.to_tag, from_tag=self.from_tag,
                                      early_only=self.early_only)


def parse_replaces(value: str) -> Replaces:
    """``callid *(SEMI replaces-param)``; exactly one to-tag and one from-tag (§6.1)."""
    m, params = _head_params(_CALLID_RE, value, "Replaces")
    names = _param_names(value, m.end())
    for name in ("to-tag", "from-tag"):
        if names.count(name) != 1:
            raise ParseError(f"Replaces needs exactly one {name} (RFC 3891 §6.1)", m.end())
        tag = params[name]
        if tag is None or _TOKEN_RE.fullmatch(tag) is None:
            raise ParseError(f"invalid Replaces {name}", m.end())
    to_tag, from_tag = params["to-tag"], params["from-tag"]
    assert to_tag is not None and from_tag is not None
    return Replaces(m.group(), to_tag, from_tag, "early-only" in params, params)
