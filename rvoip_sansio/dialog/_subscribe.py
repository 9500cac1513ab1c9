"""Event subscriptions (RFC 6665): SUBSCRIBE/NOTIFY with refresh and expiry, both roles.

Subscriber: ``ua.subscribe(target, event, now)`` returns a :class:`Subscription`; its
dialog is made by the 2xx or by a NOTIFY that overtakes it (§4.1.2.4); NOTIFYs become
:class:`NotificationReceived`; the subscription is refreshed before it expires (§4.1.2.2)
and ends on ``unsubscribe(now)``, a terminating NOTIFY, or a failed refresh.
Notifier: an incoming SUBSCRIBE is accepted (200) with an immediate NOTIFY (§4.2.1.2) and
reported as :class:`SubscriptionRequested`; ``notify(now, body=...)`` sends state, and the
subscription is terminated (``reason=timeout``) when the subscriber does not refresh it.
"""

from __future__ import annotations

import enum
from functools import partial
from typing import TYPE_CHECKING

import attrs

from rvoip_sansio._core import Address, LocalProtocolError, ParseError
from rvoip_sansio.sip import HeaderValue, Request, Response, make_response

from ._dialog import Dialog, DialogState
from ._events import NotificationReceived, SubscriptionChanged, SubscriptionRequested

if TYPE_CHECKING:
    from rvoip_sansio.transaction import TransactionKey

    from ._timers import Timer
    from ._ua import UserAgent

__all__ = ["Subscription", "SubscriptionRole", "subscribe", "on_subscribe", "on_notify_for_subscription",
           "in_subscription_dialog", "refresh_notifier", "start_expiry"]

MAX_EXPIRES = 3600


class SubscriptionRole(enum.Enum):
    SUBSCRIBER = "subscriber"
    NOTIFIER = "notifier"


def _digits(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@attrs.define(slots=True, eq=False, repr=False)
class Subscription:
    """One subscription, ours (subscriber) or the peer's (notifier)."""

    ua: UserAgent
    role: SubscriptionRole
    event: str
    call_id: str
    local_tag: str
    target: str
    state: str = "pending"  # pending, active, terminated (RFC 6665 §4.1.3)
    expires: int = 0
    requested: int = 3600
    accept: str | None = None
    dialog: Dialog | None = None
    request: Request | None = None
    #: The implicit subscription of a REFER inside a call (RFC 3515 §2.4.4): it shares the
    #: call's dialog (and its CSeq), which outlives it.
    in_call: bool = False
    #: Notifier: the latest state sent (repeated after a refresh and on expiry).
    last_body: bytes = b""
    last_content_type: str | None = None
    _timer: Timer | None = None

    def __repr__(self) -> str:
        return f"<Subscription {self.role.value} {self.event} {self.state}>"

    # ---- subscriber verbs --------------------------------------------------------------

    def refresh(self, now: float) -> None:
        self._send_subscribe(now, self.requested)

    def unsubscribe(self, now: float) -> None:
        """SUBSCRIBE with Expires: 0 (§4.1.2.3); the final NOTIFY ends it."""
        if self.role is not SubscriptionRole.SUBSCRIBER:
            raise LocalProtocolError("dialog layer: only the subscriber unsubscribes")
        self._cancel_timer()
        self._send_subscribe(now, 0)

    # ---- notifier verbs ----------------------------------------------------------------

    def notify(self, now: float, *, body: bytes = b"", content_type: str | None = None,
               state: str | None = None, reason: str | None = None) -> None:
        """Send a NOTIFY with the resource's state (§4.2.2)."""
        if self.role is not SubscriptionRole.NOTIFIER or self.dialog is None:
            raise LocalProtocolError("dialog layer: only the notifier of an accepted subscription notifies")
        if self.state == "terminated":
            raise LocalProtocolError("dialog layer: the subscription is terminated")
        state = state or self.state
        if state == "terminated":
            value = f"terminated;reason={reason or 'noresource'}"
        else:
            remaining = max(0, int(self._remaining(now)))
            value = f"{state};expires={remaining}"
        headers: list[tuple[str, HeaderValue]] = [("Event", self.event), ("Subscription-State", value)]
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        self.last_body, self.last_content_type = body, content_type
        req, dest = self.dialog.request("NOTIFY", self.ua.dialog_contact(self.dialog), headers=headers, body=body)
        self.ua.send(req, now, _ignore, dest=dest)
        if state == "terminated":
            self._terminate(now, reason or "noresource", None)
        else:
            self.state = state

    def terminate(self, now: float, *, reason: str = "noresource") -> None:
        if self.role is SubscriptionRole.NOTIFIER:
            self.notify(now, state="terminated", reason=reason)
        else:
            self.unsubscribe(now)

    # ---- internals ---------------------------------------------------------------------

    def _remaining(self, now: float) -> float:
        timer = self._timer
        return timer.deadline - now if timer is not None and timer.active else float(self.expires)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send_subscribe(self, now: float, expires: int) -> None:
        ua = self.ua
        headers: list[tuple[str, HeaderValue]] = [("Event", self.event), ("Expires", str(expires))]
        if self.accept:
            headers.append(("Accept", self.accept))
        if self.dialog is not None and self.dialog.state is not DialogState.TERMINATED:
            req, dest = self.dialog.request("SUBSCRIBE", ua.dialog_contact(self.dialog), headers=headers)
            ua.send(req, now, partial(self._on_response, expires), dest=dest)
            return
        req = ua.new_request("SUBSCRIBE", self.target, headers=headers, call_id=self.call_id)
        req.set("From", f"{ua.from_header};tag={self.local_tag}")
        self.request = req
        ua.send(req, now, partial(self._on_response, expires))

    def _on_response(self, asked: int, resp: Response | None, now: float) -> None:
        if resp is None:
            if asked != 0:
                self._terminate(now, "timeout", 408)
            return
        code = resp.status_code
        if code < 200:
            return
        if code >= 300:
            if code == 423 and (minimum := _digits(resp.get("min-expires"))) and minimum > self.requested:
                self.requested = minimum  # §4.1.2.1: Interval Too Brief
                self._send_subscribe(now, minimum)
                return
            self._terminate(now, f"rejected {code}", code)
            return
        if self.dialog is None and self.request is not None:
            try:
                self.dialog = Dialog.from_response(self.request, resp)
            except ParseError:
                return
            self.ua.register_subscription(self.dialog.id, self)
        if asked == 0:
            return  # the terminating NOTIFY ends it
        granted = _digits(resp.get("expires"))
        self.expires = granted if granted is not None else asked
        self._arm_refresh(now)
        self.ua.emit(SubscriptionChanged(subscription=self, state=self.state, expires=self.expires,
                                         status_code=code))

    def _arm_refresh(self, now: float) -> None:
        self._cancel_timer()
        if self.expires <= 0:
            return
        margin = min(self.expires / 2.0, 30.0)  # §4.1.2.2: refresh before it runs out
        self._timer = self.ua.timers.arm(now + self.expires - margin, self._on_refresh_due)

    def _on_refresh_due(self, now: float) -> None:
        self._timer = None
        if self.state != "terminated":
            self._send_subscribe(now, self.requested)

    def _terminate(self, now: float, reason: str, code: int | None) -> None:
        if self.state == "terminated":
            return
        self.state = "terminated"
        self._cancel_timer()
        if self.dialog is not None and not self.in_call:
            self.ua.forget_subscription(self.dialog.id)
            self.dialog.state = DialogState.TERMINATED
        self.ua.emit(SubscriptionChanged(subscription=self, state="terminated", status_code=code,
                                         reason=reason))

    def _on_notify(self, req: Request, key: TransactionKey, now: float) -> None:
        """A NOTIFY for our subscription (§4.1.3)."""
        ua = self.ua
        event = (req.get("event") or "").split(";", 1)[0].strip().lower()
        if event != self.event.split(";", 1)[0].strip().lower():
            ua.respond(req, key, 489, now)  # §8.2.1 Bad Event
            return
        value = (req.get("subscription-state") or "").strip()
        state, *params = [p.strip() for p in value.split(";")]
        state = state.lower()
        ua.respond(req, key, 200, now)
        ua.emit(NotificationReceived(subscription=self, event=self.event, state=state,
                                     content_type=req.content_type, body=req.body))
        if state == "terminated":
            reason = next((p.partition("=")[2] for p in params if p.lower().startswith("reason=")), "")
            self._terminate(now, reason or "terminated", None)
            return
        if state in ("active", "pending"):
            changed = state != self.state
            self.state = state
            expires = next((_digits(p.partition("=")[2]) for p in params if p.lower().startswith("expires=")), None)
            if expires is not None and expires < self.expires:
                self.expires = expires
                self._arm_refresh(now)
            if changed:
                ua.emit(SubscriptionChanged(subscription=self, state=state, expires=self.expires))


def _ignore(resp: Response | None, now: float) -> None:
    return None


def subscribe(ua: UserAgent, target: str, event: str, now: float, *, expires: int = 3600,
              accept: str | None = None) -> Subscription:
    sub = Subscription(ua=ua, role=SubscriptionRole.SUBSCRIBER, event=event, call_id=ua.new_call_id(),
                       local_tag=ua.endpoint.new_tag(), target=target, requested=expires, accept=accept)
    ua.expect_subscription(sub)
    sub._send_subscribe(now, expires)
    return sub


def on_notify_for_subscription(ua: UserAgent, req: Request, key: TransactionKey, now: float) -> bool:
    """A NOTIFY whose dialog is not known yet may be the first of a subscription of ours
    whose 2xx it overtook (§4.1.2.4): make the dialog from it."""
    sub = ua.pending_subscription(req.call_id, req.to.tag or "")
    if sub is None or sub.request is None:
        return False
    try:
        dialog = Dialog.from_request(req, sub.local_tag, sub.request.cseq.number, confirmed=True)
    except ParseError:
        return False
    # From the NOTIFY's point of view the roles are swapped: keep our From/To as sent.
    dialog.local_seq = sub.request.cseq.number
    sub.dialog = dialog
    ua.register_subscription(dialog.id, sub)
    sub._on_notify(req, key, now)
    return True


def on_subscribe(ua: UserAgent, req: Request, source: Address, key: TransactionKey, now: float) -> None:
    """Notifier side: a new SUBSCRIBE (§4.2.1)."""
    event = (req.get("event") or "").strip()
    if not event:
        ua.respond(req, key, 489, now)  # §8.2.1
        return
    asked = _digits(req.get("expires"))
    expires = min(asked if asked is not None else 3600, MAX_EXPIRES)
    tag = ua.endpoint.new_tag()
    try:
        dialog = Dialog.from_request(req, tag, ua.rng.randrange(1, 2**16), confirmed=True, source=source)
    except ParseError as exc:
        ua.respond(req, key, 400, now, reason=f"Bad Request ({exc.reason})")
        return
    sub = Subscription(ua=ua, role=SubscriptionRole.NOTIFIER, event=event, call_id=req.call_id,
                       local_tag=tag, target=dialog.remote_target, state="active", expires=expires,
                       requested=expires, dialog=dialog)
    ua.respond(req, key, 200, now, to_tag=tag, headers=[("Expires", str(expires)), ("Contact", ua.response_contact(req))])
    ua.register_subscription(dialog.id, sub)
    if expires == 0:
        sub.notify(now, state="terminated", reason="timeout")  # a fetch (§4.4.3)
    else:
        sub._timer = ua.timers.arm(now + expires, partial(_expired, sub))
        sub.notify(now)  # §4.2.1.2: an immediate NOTIFY
    ua.emit(SubscriptionRequested(subscription=sub, event=event, request=req, source=source))


def start_expiry(sub: Subscription, now: float) -> None:
    sub._cancel_timer()
    sub._timer = sub.ua.timers.arm(now + sub.expires, partial(_expired, sub))


def _expired(sub: Subscription, now: float) -> None:
    sub._timer = None
    if sub.state != "terminated":
        sub.notify(now, state="terminated", reason="timeout", body=sub.last_body,
                   content_type=sub.last_content_type)  # §4.2.2: not refreshed


def in_subscription_dialog(ua: UserAgent, sub: Subscription, req: Request, key: TransactionKey,
                           now: float) -> None:
    dialog = sub.dialog
    if dialog is None or not dialog.check_remote_cseq(req):
        ua.respond(req, key, 500, now)
        return
    if req.method == "NOTIFY" and sub.role is SubscriptionRole.SUBSCRIBER:
        sub._on_notify(req, key, now)
    elif req.method == "SUBSCRIBE" and sub.role is SubscriptionRole.NOTIFIER:
        refresh_notifier(ua, sub, req, key, now)
    else:
        ua.respond(req, key, 405 if req.method in ("SUBSCRIBE", "NOTIFY") else 481, now)


def refresh_notifier(ua: UserAgent, sub: Subscription, req: Request, key: TransactionKey, now: float) -> None:
    """A SUBSCRIBE refreshing (or, with Expires: 0, ending) a subscription we notify
    (RFC 6665 §4.2.1.2 / §4.2.1.4); a NOTIFY with the current state follows either way."""
    if sub.state == "terminated":
        ua.respond(req, key, 481, now)  # §4.2.1.2: the subscription no longer exists
        return
    asked = _digits(req.get("expires"))
    expires = min(asked if asked is not None else sub.requested, MAX_EXPIRES)
    ua.respond(req, key, 200, now, headers=[("Expires", str(expires)), ("Contact", ua.response_contact(req))])
    sub._cancel_timer()
    sub.expires = expires
    body, content_type = sub.last_body, sub.last_content_type
    if expires == 0:
        sub.notify(now, state="terminated", reason="timeout", body=body, content_type=content_type)
    else:
        sub._timer = ua.timers.arm(now + expires, partial(_expired, sub))
        sub.notify(now, body=body, content_type=content_type)
