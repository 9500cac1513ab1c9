"""Event state publication (RFC 3903), client side: PUBLISH, refresh, modify, remove.

The first PUBLISH carries the state; the 2xx gives an entity tag (SIP-ETag) and an expiry.
Refreshes before expiry carry only ``SIP-If-Match`` (§4.3); a modification carries the new
body with it (§4.4), a removal ``Expires: 0`` (§4.5). A 412 (the tag is unknown to the
compositor) starts over with a fresh initial PUBLISH (§6).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import attrs

from rvoip_sansio.sip import HeaderValue, Response

from ._events import PublicationChanged

if TYPE_CHECKING:
    from ._timers import Timer
    from ._ua import UserAgent

__all__ = ["Publication", "publish"]


def _digits(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@attrs.define(slots=True, eq=False, repr=False)
class Publication:
    ua: UserAgent
    target: str
    event: str
    content_type: str
    body: bytes
    requested: int
    call_id: str
    etag: str | None = None
    expires: int = 0
    _timer: Timer | None = None
    _removed: bool = False

    def __repr__(self) -> str:
        return f"<Publication {self.event} etag={self.etag}>"

    def modify(self, body: bytes, now: float, *, content_type: str | None = None) -> None:
        self.body = body
        if content_type is not None:
            self.content_type = content_type
        self._send(now, self.requested, with_body=True)

    def remove(self, now: float) -> None:
        self._removed = True
        self._cancel()
        if self.etag is not None:
            self._send(now, 0, with_body=False)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send(self, now: float, expires: int, *, with_body: bool) -> None:
        headers: list[tuple[str, HeaderValue]] = [("Event", self.event), ("Expires", str(expires))]
        if self.etag is not None:
            headers.append(("SIP-If-Match", self.etag))
        body = self.body if with_body or self.etag is None else b""
        if body:
            headers.append(("Content-Type", self.content_type))
        req = self.ua.new_request("PUBLISH", self.target, headers=headers, body=body, call_id=self.call_id)
        self.ua.send(req, now, partial(self._on_response, expires))

    def _on_response(self, expires: int, resp: Response | None, now: float) -> None:
        code = 408 if resp is None else resp.status_code
        if code < 200:
            return
        assert resp is not None or code == 408
        if code == 412 and not self._removed:
            self.etag = None  # §6: the compositor forgot us; publish the state afresh
            self._send(now, self.requested, with_body=True)
            return
        if code == 423 and resp is not None and (minimum := _digits(resp.get("min-expires"))):
            self.requested = max(self.requested, minimum)
            self._send(now, self.requested, with_body=self.etag is None)
            return
        if 200 <= code < 300 and resp is not None:
            self.etag = resp.get("sip-etag") or self.etag
            granted = _digits(resp.get("expires"))
            self.expires = 0 if expires == 0 else (granted if granted is not None else expires)
            if self.expires > 0 and not self._removed:
                margin = min(self.expires / 2.0, 30.0)
                self._cancel()
                self._timer = self.ua.timers.arm(now + self.expires - margin, self._refresh)
            elif expires == 0:
                self.etag = None
        self.ua.emit(PublicationChanged(publication=self, status_code=code, etag=self.etag,
                                        expires=self.expires if code < 300 else 0))

    def _refresh(self, now: float) -> None:
        self._timer = None
        if not self._removed:
            self._send(now, self.requested, with_body=False)


def publish(ua: UserAgent, target: str, event: str, body: bytes, now: float, *, content_type: str,
            expires: int = 3600) -> Publication:
    pub = Publication(ua=ua, target=target, event=event, content_type=content_type, body=body,
                      requested=expires, call_id=ua.new_call_id())
    pub._send(now, expires, with_body=True)
    return pub
