"""RFC 3264 offer/answer: build offers, answer offers, process answers, re-offers.

One :class:`OfferAnswer` per SIP session (dialog). It keeps what RFC 3264 requires across
exchanges: the o= session id and version (§8: the version increments only when the SDP
changes), the m-line layout (§8: re-offers keep every m-line, disabled ones with port 0),
and the payload type numbers already agreed.
"""

from __future__ import annotations

import enum
import logging
import random
from typing import Mapping, Sequence, TypeVar, cast

import attrs

from rvoip_sansio._core import LocalProtocolError, RandomSource, RemoteProtocolError

from ._attributes import Direction, Group
from ._capabilities import (
    STATIC_PAYLOAD_TYPES,
    TELEPHONE_EVENT,
    Codec,
    LocalCapabilities,
    MediaCapabilities,
    NegotiatedMedia,
    NegotiatedSession,
)
from ._model import Attribute, Connection, MediaDescription, Origin, SessionDescription
from ._parser import parse_sdp

__all__ = ["OfferAnswer", "OfferAnswerState", "OfferAnswerError", "offered_codecs"]

logger = logging.getLogger("rvoip_sansio.sdp")

_CodecKey = tuple[str, int, int]
_T = TypeVar("_T")
#: Equal negotiated codec values, shared across exchanges (Codec and tuples of them are
#: frozen, so one object serves every call that agreed the same): an established call keeps
#: its NegotiatedMedia for its whole life, and its own copies would be objects more for the
#: garbage collector to walk. Bounded: cleared when full.
_SHARED: dict[object, object] = {}
_SHARED_MAX = 256


def _shared(value: _T) -> _T:
    hit = _SHARED.get(value)
    if hit is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        _SHARED[value] = hit = value
    return cast(_T, hit)


class OfferAnswerError(RemoteProtocolError):
    """The peer's SDP breaks RFC 3264 (e.g. an answer with a different number of m-lines)."""


class OfferAnswerState(enum.Enum):
    STABLE = "stable"
    WAITING_FOR_ANSWER = "waiting-for-answer"


def offered_codecs(media: MediaDescription) -> list[Codec]:
    """The formats of an m-line as codecs with their payload types, in the m-line's order.

    Dynamic types without ``a=rtpmap`` are skipped (nothing says what they are).
    """
    maps = {r.payload_type: r for r in media.rtpmaps}
    fmtps = {f.format: f.params for f in media.fmtps}
    out = []
    for pt in media.payload_types:
        rtpmap = maps.get(pt)
        if rtpmap is not None:
            name, rate, channels = rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels or 1
        elif pt in STATIC_PAYLOAD_TYPES:
            name, rate, channels = STATIC_PAYLOAD_TYPES[pt]
        else:
            continue
        out.append(Codec(name=name, clock_rate=rate, channels=channels,
                         fmtp=fmtps.get(str(pt)), payload_type=pt))
    return out


def _addrtype(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


def _remote_direction(sdp: SessionDescription, index: int) -> Direction:
    direction = sdp.media_direction(index)
    conn = sdp.media_connection(index)
    if conn is not None and conn.host in ("0.0.0.0", "::"):
        # RFC 3264 §8.4 (RFC 2543 hold): a null address means "do not send to me".
        direction = direction & Direction.SENDONLY
    return direction


@attrs.define
class _Slot:
    """One m-line position kept across exchanges (RFC 3264 §8)."""

    media: str
    proto: str
    cap: int | None  # index into LocalCapabilities.media, None: rejected / not ours
    fallback_format: str = "0"
    mid: str | None = None


class OfferAnswer:
    """RFC 3264 offerer and answerer for one session."""

    def __init__(
        self,
        *,
        local: LocalCapabilities,
        rng: RandomSource | None = None,
        session_id: int | None = None,
    ) -> None:
        self.local = local
        rng = rng if rng is not None else random.SystemRandom()
        sid = session_id if session_id is not None else rng.getrandbits(62)
        # RFC 8866 §5.2: sess-id and sess-version are numeric; any start value is fine.
        self._origin = Origin(
            username=local.username,
            session_id=sid,
            session_version=sid,
            nettype="IN",
            addrtype=_addrtype(local.address),
            address=local.address,
        )
        self.state = OfferAnswerState.STABLE
        self.negotiated: NegotiatedSession | None = None
        self._slots: list[_Slot] = []
        self._pending_slots: list[_Slot] = []
        self._payload_types: dict[_CodecKey, int] = {}
        self._last_sent: tuple[str, ...] | None = None
        self._pending_offer: SessionDescription | None = None
        self._remote_version: tuple[str, int, int] | None = None
        self._remote_holding: dict[int, bool] = {}

    # -- helpers ------------------------------------------------------------------------------
    @property
    def session_id(self) -> int:
        return self._origin.session_id

    @property
    def session_version(self) -> int:
        return self._origin.session_version

    def _finish(self, sdp: SessionDescription) -> SessionDescription:
        """Set o= with the version rule of RFC 3264 §8 and remember what was sent."""
        o = self._origin
        sdp.origin = Origin(o.username, o.session_id, o.session_version, o.nettype, o.addrtype,
                            o.address)
        body = tuple(sdp.lines())
        key = body[:1] + body[2:]  # everything but o=
        if self._last_sent is not None and key != self._last_sent:
            o.session_version += 1
            sdp.origin.session_version = o.session_version
        self._last_sent = key
        return sdp

    def _session(self) -> SessionDescription:
        sdp = SessionDescription(
            session_name=self.local.session_name,
            connection=Connection("IN", _addrtype(self.local.address), self.local.address),
        )
        for line in self.local.attributes:
            name, sep, value = line.partition(":")
            sdp.add_attribute(name, value if sep else None)
        return sdp

    def _pt_for(self, codec: Codec, used: set[int]) -> int:
        """The payload type to offer ``codec`` with (RFC 3264 §8.3.2: a number agreed in this
        session keeps its codec; it is never reused for another one)."""
        agreed = self._payload_types.get(codec.key)
        if agreed is not None and agreed not in used:
            return agreed
        taken = {pt for key, pt in self._payload_types.items() if key != codec.key}
        for candidate in (codec.payload_type, codec.static_payload_type):
            if candidate is not None and candidate not in used and candidate not in taken:
                return candidate
        pt = 96
        while pt in used or pt in taken:
            pt += 1
            if pt > 127:
                raise LocalProtocolError("sdp: more codecs than dynamic payload types")
        return pt

    def _assign(self, codecs: Sequence[Codec], used: set[int]) -> list[Codec]:
        """Payload types for ``codecs``: agreed numbers first, so a codec listed earlier can
        never take the number another codec already has in this session."""
        numbers: list[int | None] = []
        for codec in codecs:
            agreed = self._payload_types.get(codec.key)
            if agreed is not None and agreed not in used:
                used.add(agreed)
                numbers.append(agreed)
            else:
                numbers.append(None)
        out = []
        for codec, number in zip(codecs, numbers):
            if number is None:
                number = self._pt_for(codec, used)
                used.add(number)
            out.append(codec.with_payload_type(number, codec.fmtp))
        return out

    def _media_section(
        self,
        cap: MediaCapabilities,
        proto: str,
        codecs: Sequence[Codec],
        events: Sequence[Codec],
        direction: Direction,
        extra: Sequence[str],
        mid: str | None,
        rtcp_mux: bool,
    ) -> MediaDescription:
        m = MediaDescription(media=cap.media, port=cap.port, proto=proto)
        if cap.address is not None and cap.address != self.local.address:
            m.connections.append(Connection("IN", _addrtype(cap.address), cap.address))
        for codec in [*codecs, *events]:
            assert codec.payload_type is not None
            m.formats.append(str(codec.payload_type))
        for codec in [*codecs, *events]:
            channels = f"/{codec.channels}" if codec.channels != 1 else ""
            m.add_attribute("rtpmap", f"{codec.payload_type} {codec.name}/{codec.clock_rate}{channels}")
            if codec.fmtp:
                m.add_attribute("fmtp", f"{codec.payload_type} {codec.fmtp}")
        if mid is not None:
            m.add_attribute("mid", mid)
        if cap.ptime is not None:
            m.add_attribute("ptime", _num(cap.ptime))
        if cap.maxptime is not None:
            m.add_attribute("maxptime", _num(cap.maxptime))
        if cap.rtcp_port is not None:
            m.add_attribute("rtcp", cap.rtcp_port)
        if rtcp_mux:
            m.add_attribute("rtcp-mux")
        for line in [*cap.attributes, *extra]:
            name, sep, value = line.partition(":")
            m.add_attribute(name, value if sep else None)
        m.direction = direction
        return m

    def _events_for(self, cap: MediaCapabilities, rates: Sequence[int], used: set[int]) -> list[Codec]:
        events = []
        for rate in dict.fromkeys(rates):
            ev = Codec(name=TELEPHONE_EVENT, clock_rate=rate, fmtp=cap.telephone_event_events)
            pt = self._pt_for(ev, used)
            used.add(pt)
            events.append(ev.with_payload_type(pt, cap.telephone_event_events))
        return events

    # -- offerer ------------------------------------------------------------------------------
    def create_offer(
        self,
        *,
        hold: bool = False,
        media_attributes: Mapping[int, Sequence[str]] | None = None,
    ) -> SessionDescription:
        """A new offer (initial or re-offer) from ``self.local``.

        ``hold`` puts every stream on hold (RFC 3264 §8.4: sendonly, or inactive if the peer
        holds us). ``media_attributes`` adds lines to the m-line at that index.
        """
        if self.state is not OfferAnswerState.STABLE:
            raise LocalProtocolError("sdp offer/answer: create_offer while waiting for an answer")
        extra = media_attributes or {}
        slots = [attrs.evolve(s) for s in self._slots]
        used_caps = {s.cap for s in slots if s.cap is not None}
        for i, cap in enumerate(self.local.media):
            if i not in used_caps:
                slots.append(_Slot(media=cap.media, proto=cap.proto, cap=i))
        sdp = self._session()
        for index, slot in enumerate(slots):
            # A stream the peer refused before is offered again while we can do it: the refusal
            # may have been about the peer's capabilities then, which can change (RFC 3264 §8).
            if slot.cap is None or slot.cap >= len(self.local.media):
                # RFC 3264 §8.2: a stream is removed by offering it with port 0.
                disabled = MediaDescription(media=slot.media, port=0, proto=slot.proto,
                                            formats=[slot.fallback_format])
                if slot.mid is not None:
                    disabled.add_attribute("mid", slot.mid)
                sdp.media.append(disabled)
                continue
            cap = self.local.media[slot.cap]
            used: set[int] = set()
            codecs = self._assign(cap.codecs, used)
            events = (
                self._events_for(cap, [c.clock_rate for c in codecs], used)
                if cap.telephone_event and cap.media == "audio" else []
            )
            direction = cap.direction
            if hold:
                direction = direction & Direction.SENDONLY
            if self._remote_holding.get(index):
                direction = direction & Direction.RECVONLY  # RFC 6337 §5.3
            sdp.media.append(self._media_section(
                cap, slot.proto, codecs, events, direction, extra.get(index, ()), slot.mid,
                cap.rtcp_mux,
            ))
            slot.fallback_format = str(codecs[0].payload_type) if codecs else "0"
        self._pending_slots = slots
        self._pending_offer = self._finish(sdp)
        self.state = OfferAnswerState.WAITING_FOR_ANSWER
        return self._pending_offer

    def rollback(self) -> None:
        """Forget the outstanding offer (rejected request, 491 glare; RFC 3264 §8)."""
        self.state = OfferAnswerState.STABLE
        self._pending_offer = None

    def process_answer(self, answer: SessionDescription | bytes) -> NegotiatedSession:
        """The peer's answer to our offer: the negotiated session (RFC 3264 §7)."""
        if self.state is not OfferAnswerState.WAITING_FOR_ANSWER or self._pending_offer is None:
            raise LocalProtocolError("sdp offer/answer: process_answer without an outstanding offer")
        remote = answer if isinstance(answer, SessionDescription) else parse_sdp(answer)
        offer = self._pending_offer
        if len(remote.media) != len(offer.media):
            raise OfferAnswerError(
                f"answer has {len(remote.media)} m-lines, the offer had {len(offer.media)}"
            )
        results = []
        for index, (ours, theirs) in enumerate(zip(offer.media, remote.media)):
            if ours.media != theirs.media:
                raise OfferAnswerError(f"m-line {index}: answer is {theirs.media}, offer {ours.media}")
            ours_codecs = offered_codecs(ours)
            by_key = {c.key: c for c in ours_codecs}
            agreed, received, events, recv_events = [], [], [], []
            for codec in offered_codecs(theirs):
                mine = by_key.get(codec.key)
                if mine is None:
                    continue  # RFC 3264 §6.1: answers only carry offered formats; ignore others
                if codec.is_telephone_event:
                    events.append(codec)
                    recv_events.append(mine)
                else:
                    agreed.append(codec)
                    received.append(mine)
            accepted = theirs.port != 0 and ours.port != 0 and bool(agreed)
            remote_dir = _remote_direction(remote, index)
            local_dir = offer.media_direction(index) & remote_dir.reversed()
            results.append(self._negotiated(
                index, remote, theirs, accepted, agreed, received, events, recv_events,
                local_dir, remote_dir, ours.rtcp_mux and theirs.rtcp_mux,
            ))
            for codec in received + recv_events:
                assert codec.payload_type is not None
                self._payload_types[codec.key] = codec.payload_type
        self._slots = self._pending_slots
        for slot, theirs in zip(self._slots, remote.media):
            slot.mid = theirs.mid or slot.mid
        self.state = OfferAnswerState.STABLE
        self._pending_offer = None
        return self._conclude(offer, remote, results,
                              None if isinstance(answer, SessionDescription) else answer)

    def _conclude(
        self, local: SessionDescription, remote: SessionDescription, results: list[NegotiatedMedia],
        remote_raw: bytes | None,
    ) -> NegotiatedSession:
        """``remote_raw``: the bytes ``remote`` was parsed from (None: it was given as a model)."""
        o = remote.origin
        version = (o.username, o.session_id, o.session_version)
        changed = self._remote_version != version
        self._remote_version = version
        for m in results:
            # Remember if the peer holds us (does not want to receive): RFC 6337 §5.3.
            self._remote_holding[m.index] = m.accepted and not m.remote_direction.receives
        self.negotiated = NegotiatedSession(
            # Bytes, not models: a call keeps this for its whole life (see NegotiatedSession).
            media=tuple(results), local_sdp=bytes(local),
            remote_sdp=bytes(remote) if remote_raw is None else bytes(remote_raw), remote_origin=o,
            remote_changed=changed,
        )
        return self.negotiated

    def _negotiated(
        self,
        index: int,
        remote: SessionDescription,
        theirs: MediaDescription,
        accepted: bool,
        codecs: Sequence[Codec],
        received: Sequence[Codec],
        events: Sequence[Codec],
        recv_events: Sequence[Codec],
        direction: Direction,
        remote_dir: Direction,
        rtcp_mux: bool,
    ) -> NegotiatedMedia:
        conn = remote.media_connection(index)
        address = conn.host if conn is not None else None
        rtcp_address, rtcp_port = address, (theirs.port + 1 if theirs.port else None)
        rtcp = theirs.rtcp
        if rtcp_mux:
            rtcp_port = theirs.port  # RFC 5761 §5.1.3
        elif rtcp is not None:
            rtcp_port = rtcp.port
            rtcp_address = rtcp.address or address
        # RFC 4733 §2.5.1.2: events at the rate of the codec in use. Peers such as baresip
        # answer opus with telephone-event/8000 only; then that one is used (they do too).
        primary_rate = codecs[0].clock_rate if codecs else None
        event = next((e for e in events if e.clock_rate == primary_rate), None)
        recv_event = next((e for e in recv_events if e.clock_rate == primary_rate), None)
        if event is None and events:
            event, recv_event = events[0], recv_events[0]
        return NegotiatedMedia(
            index=index,
            media=theirs.media,
            proto=theirs.proto,
            accepted=accepted,
            remote_address=address,
            remote_port=theirs.port,
            remote_rtcp_address=rtcp_address,
            remote_rtcp_port=rtcp_port,
            codecs=_shared(tuple(codecs)) if accepted else (),
            receive_codecs=_shared(tuple(received)) if accepted else (),
            telephone_event=_shared(event) if accepted and event else None,
            receive_telephone_event=_shared(recv_event) if accepted and recv_event else None,
            direction=direction if accepted else Direction.INACTIVE,
            remote_direction=remote_dir,
            ptime=theirs.ptime,
            maxptime=theirs.maxptime,
            rtcp_mux=rtcp_mux,
            mid=theirs.mid,
            remote_crypto=tuple(theirs.crypto),
            remote_fingerprints=tuple(theirs.fingerprints or remote.fingerprints),
            remote_setup=theirs.setup or remote.setup,
            remote_ice_ufrag=theirs.ice_ufrag or remote.ice_ufrag,
            remote_ice_pwd=theirs.ice_pwd or remote.ice_pwd,
            remote_candidates=tuple(theirs.candidates),
        )

    # -- answerer -----------------------------------------------------------------------------
    def answer_offer(
        self,
        offer: SessionDescription | bytes,
        *,
        hold: bool = False,
        media_attributes: Mapping[int, Sequence[str]] | None = None,
    ) -> tuple[SessionDescription, NegotiatedSession]:
        """Answer the peer's offer (RFC 3264 §6): the answer SDP and the negotiated session.

        Raises :class:`LocalProtocolError` when our own offer is outstanding (glare: the
        dialog layer answers 491), :class:`ParseError` / :class:`OfferAnswerError` for a
        malformed offer (answer 488 or 400).
        """
        if self.state is not OfferAnswerState.STABLE:
            raise LocalProtocolError("sdp offer/answer: offer received while ours is outstanding")
        remote = offer if isinstance(offer, SessionDescription) else parse_sdp(offer)
        if self._slots and len(remote.media) < len(self._slots):
            # RFC 3264 §8: m-lines are never removed in a re-offer.
            raise OfferAnswerError("re-offer has fewer m-lines than the session")
        extra = media_attributes or {}
        sdp = self._session()
        results = []
        slots: list[_Slot] = []
        taken: set[int] = set()
        for index, theirs in enumerate(remote.media):
            previous = self._slots[index] if index < len(self._slots) else None
            cap_index = self._match_cap(theirs, previous, taken)
            slots.append(_Slot(media=theirs.media, proto=theirs.proto, cap=cap_index,
                               mid=theirs.mid))
            offered = offered_codecs(theirs)
            remote_dir = _remote_direction(remote, index)
            cap = self.local.media[cap_index] if cap_index is not None else None
            agreed: list[Codec] = []
            events: list[Codec] = []
            if cap_index is not None and cap is not None and theirs.port != 0:
                taken.add(cap_index)
                agreed, events = _intersect(cap, offered)
            if cap is None or not agreed:
                logger.debug("sdp answer: m-line %d (%s %s) refused: %s", index, theirs.media,
                             theirs.proto, "no capability" if cap is None else "no common codec")
                sdp.media.append(_rejected(theirs))
                results.append(self._negotiated(index, remote, theirs, False, (), (), (), (),
                                                Direction.INACTIVE, remote_dir, False))
                continue
            local_dir = cap.direction & Direction.SENDONLY if hold else cap.direction
            direction = local_dir & remote_dir.reversed()
            rtcp_mux = cap.rtcp_mux and theirs.rtcp_mux
            sdp.media.append(self._media_section(
                cap, theirs.proto, agreed, events, direction, extra.get(index, ()), theirs.mid,
                rtcp_mux,
            ))
            for codec in agreed + events:
                assert codec.payload_type is not None
                self._payload_types[codec.key] = codec.payload_type
            results.append(self._negotiated(index, remote, theirs, True, agreed, agreed,
                                            events, events, direction, remote_dir, rtcp_mux))
        bundle = remote.bundle
        if self.local.bundle and bundle is not None:
            accepted_mids = {m.mid for m in results if m.accepted and m.mid}
            mids = tuple(mid for mid in bundle.mids if mid in accepted_mids)
            if mids:
                sdp.attributes.insert(0, Attribute("group", str(Group("BUNDLE", mids))))
        self._slots = slots
        answer = self._finish(sdp)
        return answer, self._conclude(answer, remote, results,
                                      None if isinstance(offer, SessionDescription) else offer)

    def _match_cap(
        self, theirs: MediaDescription, previous: _Slot | None, taken: set[int]
    ) -> int | None:
        if previous is not None and previous.cap is not None and previous.cap not in taken:
            cap = self.local.media[previous.cap] if previous.cap < len(self.local.media) else None
            if cap is not None and cap.media == theirs.media and cap.accepts_proto(theirs.proto):
                return previous.cap
        for i, cap in enumerate(self.local.media):
            if i in taken or any(s.cap == i for s in self._slots if s is not previous):
                continue
            if cap.media == theirs.media and cap.accepts_proto(theirs.proto):
                return i
        return None


def _intersect(cap: MediaCapabilities, offered: Sequence[Codec]) -> tuple[list[Codec], list[Codec]]:
    """Common codecs in the offerer's order with the offerer's numbers (RFC 3264 §6.1)."""
    local = {c.key: c for c in cap.codecs}
    agreed = []
    for codec in offered:
        mine = local.get(codec.key)
        if mine is None or codec.is_telephone_event:
            continue
        assert codec.payload_type is not None
        agreed.append(codec.with_payload_type(codec.payload_type, mine.fmtp))
        if not cap.answer_all_codecs:
            break
    events = []
    if cap.telephone_event and agreed:
        rates = {c.clock_rate for c in agreed}
        for codec in offered:
            # RFC 4733 §2.5.1.2: telephone-event only at a rate of a codec in use.
            if codec.is_telephone_event and codec.clock_rate in rates:
                assert codec.payload_type is not None
                events.append(codec.with_payload_type(codec.payload_type, cap.telephone_event_events))
                rates.discard(codec.clock_rate)
    return agreed, events


def _rejected(theirs: MediaDescription) -> MediaDescription:
    """RFC 3264 §6: a declined stream keeps its m-line, port 0, an offered format."""
    m = MediaDescription(media=theirs.media, port=0, proto=theirs.proto,
                         formats=theirs.formats[:1] or ["0"])
    if theirs.mid is not None:
        m.add_attribute("mid", theirs.mid)
    return m


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
