"""An event state compositor's store (RFC 3903 §6): PUBLISH in, a response out.

Pure: :meth:`PublicationStore.handle_request` takes a PUBLISH and ``now`` and returns the
response; :meth:`PublicationStore.state` lists the live publications of a resource and
event package (what a presence server composes and NOTIFYs). Each publication has an entity
tag; a new one is issued for every successful PUBLISH (initial, refresh, modify, §6 step 8),
and state lapses at ``now + expires`` unless refreshed. The composition policy (how several
publications of one resource merge) is the application's. Plug it into a UA with
``ua.serve("PUBLISH", store)``.
"""

from __future__ import annotations

import logging
from typing import Iterable

import attrs

from rvoip_sansio._core import Address, ParseError, RandomSource
from rvoip_sansio.sip import HeaderValue, Request, Response, make_response, parse_uri

from ._registrar import aor_key

__all__ = ["PublicationStore", "PublicationConfig", "Publication"]

log = logging.getLogger("rvoip_sansio.server")


@attrs.frozen(kw_only=True)
class PublicationConfig:
    default_expires: int = 3600
    min_expires: int = 60  # §6 step 5: shorter requests get 423 with Min-Expires
    max_expires: int = 7200
    #: Event packages we accept (§6 step 2, 489 otherwise); empty: any.
    events: tuple[str, ...] = ()
    #: Content types we accept in a body (§6 step 7, 415 otherwise); empty: any.
    content_types: tuple[str, ...] = ()
    #: Beyond this many publications new ones are refused (503): memory stays bounded.
    max_publications: int = 100_000
    max_body: int = 65_536


@attrs.frozen(kw_only=True)
class Publication:
    """One piece of published event state (§2: an event state publication)."""

    resource: str  # sip:user@host of the Request-URI
    event: str
    etag: str
    body: bytes
    content_type: str | None
    expires_at: float

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.5))


def _digits(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@attrs.define(slots=True, eq=False)
class PublicationStore:
    """Publications by entity tag, grouped by (resource, event package)."""

    rng: RandomSource
    config: PublicationConfig = attrs.field(factory=PublicationConfig)
    _by_etag: dict[str, Publication] = attrs.field(factory=dict, init=False)
    _by_resource: dict[tuple[str, str], dict[str, None]] = attrs.field(factory=dict, init=False)

    def __len__(self) -> int:
        return len(self._by_etag)

    # ---- queries -------------------------------------------------------------------------

    def state(self, resource: str, event: str, now: float) -> list[Publication]:
        """The live publications of ``resource`` (a SIP URI) for ``event``, oldest first."""
        try:
            key = (aor_key(parse_uri(resource)), _package(event))
        except ParseError:
            return []
        tags = self._by_resource.get(key, {})
        return [p for tag in list(tags) if (p := self._live(tag, now)) is not None]

    def purge(self, now: float) -> int:
        """Drop every lapsed publication (state expires from ``now``); returns how many."""
        lapsed = [tag for tag, p in self._by_etag.items() if p.expires_at <= now]
        for tag in lapsed:
            self._remove(tag)
        return len(lapsed)

    # ---- PUBLISH (§6) ----------------------------------------------------------------------

    def handle_request(self, request: Request, source: Address, now: float) -> Response:
        resp = self._handle(request, now)
        if request.to.tag is None and resp.status_code > 100:
            resp.set("To", f"{request.get('to')};tag={self.rng.getrandbits(32):08x}")  # RFC 3261 §8.2.6.2
        return resp

    def _handle(self, request: Request, now: float) -> Response:
        cfg = self.config
        if request.method != "PUBLISH":
            return make_response(request, 405, headers=[("Allow", "PUBLISH")])
        events = request.get_all("event", split=True)
        if len(events) != 1:
            return make_response(request, 400, "Bad Request (one Event header needed)")  # §4.1
        event = _package(events[0])
        if cfg.events and event not in cfg.events:
            return make_response(request, 489, headers=[("Allow-Events", ", ".join(cfg.events))])  # step 2
        try:
            resource = aor_key(request.uri)
        except ParseError:
            return make_response(request, 400, "Bad Request (Request-URI)")
        matches = request.get_all("sip-if-match", split=True)
        if len(matches) > 1:
            return make_response(request, 400, "Bad Request (one SIP-If-Match)")
        expires = _digits(request.get("expires")) if request.get("expires") is not None else cfg.default_expires
        if expires is None:
            return make_response(request, 400, "Bad Request (Expires)")
        if matches:
            # Step 4: the entity tag must name live state of this resource and event.
            etag = matches[0].strip()
            current = self._live(etag, now)
            if current is None or current.resource != resource or current.event != event:
                return make_response(request, 412)  # Conditional Request Failed
            if expires == 0:
                self._remove(etag)  # §4.5: removal; no new entity tag
                return make_response(request, 200, headers=[("Expires", "0")])
        elif not request.body:
            return make_response(request, 400, "Bad Request (initial PUBLISH without a body)")  # step 4
        else:
            current = None
        if expires == 0:
            return make_response(request, 200, headers=[("Expires", "0")])  # nothing to keep
        if expires < cfg.min_expires:
            return make_response(request, 423, headers=[("Min-Expires", str(cfg.min_expires))])  # step 5
        expires = min(expires, cfg.max_expires)
        body, ctype = (current.body, current.content_type) if current is not None else (b"", None)
        if request.body:
            ctype = request.content_type
            base = (ctype or "").split(";", 1)[0].strip().lower()
            if cfg.content_types and base not in cfg.content_types:
                return make_response(request, 415, headers=[("Accept", ", ".join(cfg.content_types))])  # step 7
            if len(request.body) > cfg.max_body:
                return make_response(request, 413)
            body = request.body
        if current is None and len(self._by_etag) >= cfg.max_publications:
            self.purge(now)
            if len(self._by_etag) >= cfg.max_publications:
                return make_response(request, 503, headers=[("Retry-After", "60")])
        if current is not None:
            self._remove(current.etag)
        # Step 8: a new entity tag for every successful refresh, modify or initial PUBLISH.
        etag = self._new_etag()
        pub = Publication(resource=resource, event=event, etag=etag, body=body, content_type=ctype,
                          expires_at=now + expires)
        self._by_etag[etag] = pub
        self._by_resource.setdefault((resource, event), {})[etag] = None
        headers: Iterable[tuple[str, HeaderValue]] = [("SIP-ETag", etag), ("Expires", str(expires))]
        return make_response(request, 200, headers=headers)

    # ---- internals -------------------------------------------------------------------------

    def _live(self, etag: str, now: float) -> Publication | None:
        pub = self._by_etag.get(etag)
        if pub is not None and pub.expires_at <= now:
            self._remove(etag)  # lapsed (§6: state expires unless refreshed)
            return None
        return pub

    def _remove(self, etag: str) -> None:
        pub = self._by_etag.pop(etag, None)
        if pub is None:
            return
        key = (pub.resource, pub.event)
        tags = self._by_resource.get(key)
        if tags is not None:
            tags.pop(etag, None)
            if not tags:
                del self._by_resource[key]

    def _new_etag(self) -> str:
        while True:
            etag = f"{self.rng.getrandbits(64):016x}"
            if etag not in self._by_etag:
                return etag


def _package(event: str) -> str:
    """The event package of an Event value, without parameters (RFC 6665 §8.2.1)."""
    return event.split(";", 1)[0].strip().lower()
