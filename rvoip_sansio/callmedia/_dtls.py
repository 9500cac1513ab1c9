"""DTLS-SRTP keying for calls (RFC 5763, RFC 5764, RFC 8842 SDP, RFC 7983 demultiplexing).

Two pure pieces, mirroring the SDES helpers of ``_keying.py``:

* SDP: :func:`dtls_offer` (``UDP/TLS/RTP/SAVP``, ``a=fingerprint``, ``a=setup:actpass``,
  ``a=tls-id``), :func:`dtls_answer` (``a=setup:active`` unless the offer forces passive)
  and :func:`dtls_from_answer` (the offerer's view of the answer). They produce
  :class:`DtlsParams`: our DTLS role and the peer's fingerprints.
* :class:`DtlsMediaLeg`: one call's RTP socket carrying both the DTLS handshake and the
  (S)RTP/RTCP of a :class:`~rvoip_sansio.callmedia.CallMedia`, told apart by the first octet
  (RFC 7983 §7). It checks the peer's certificate against its SDP fingerprint, keys the media
  with ``set_srtp`` when the handshake completes, and keeps the ``DatagramCore`` contract, so
  an adapter or the phone core runs it wherever it ran a ``CallMedia``.

Certificates come from :class:`~rvoip_sansio.srtp.DtlsCertificate` (one per phone is enough:
the fingerprint, not the certificate, is what the peer trusts). pyOpenSSL is needed only once
a handshake is driven (``pip install 'rvoip-sansio[dtls]'``).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Sequence

import attrs

from .._core import Address, Event, LocalProtocolError, RandomSource, Transmit
from ..sdp import Fingerprint as SdpFingerprint
from ..sdp import MediaCapabilities, NegotiatedMedia, SessionDescription, Setup, parse_sdp
from ..srtp import (
    DEFAULT_DTLS_PROFILES,
    DtlsCertificate,
    DtlsClosed,
    DtlsConnected,
    DtlsError,
    DtlsFailed,
    DtlsRole,
    DtlsSrtpEndpoint,
    DtlsState,
    Fingerprint,
    SrtpProfile,
    dtls_role,
)
from ._config import SrtpKeys
from ._stream import CallMedia

__all__ = [
    "UDP_TLS_SAVP", "UDP_TLS_SAVPF", "DTLS_PROTOS", "DtlsSdpError", "DtlsOffer", "DtlsParams",
    "dtls_offer", "dtls_answer", "dtls_from_answer", "dtls_keep_association",
    "DtlsFailure", "DtlsKeyed",
    "DtlsKeyingFailed", "DtlsMediaLeg",
]

log = logging.getLogger("rvoip_sansio.callmedia.dtls")

#: RFC 5764 §8: the transport protocol of DTLS-SRTP media (and its feedback variant).
UDP_TLS_SAVP = "UDP/TLS/RTP/SAVP"
UDP_TLS_SAVPF = "UDP/TLS/RTP/SAVPF"
DTLS_PROTOS = (UDP_TLS_SAVP, UDP_TLS_SAVPF)

# RFC 8122 §5 hash functions we can check, with their digest sizes.
_DIGEST_SIZES = {"sha-1": 20, "sha-224": 28, "sha-256": 32, "sha-384": 48, "sha-512": 64}
# RFC 8842 §4: tls-id-value = 20*255(tls-id-char), tls-id-char = ALPHA / DIGIT / "+" / "/"
_TLS_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class DtlsSdpError(DtlsError):
    """The peer's SDP cannot set up DTLS-SRTP: no ``a=fingerprint`` on a UDP/TLS/RTP/SAVP
    stream, only unsupported hash functions, a digest of the wrong size, or ``a=setup``
    values that do not give one DTLS client and one server. Answering: 488; in an answer:
    end the call."""


@attrs.frozen(kw_only=True)
class DtlsOffer:
    """What we offered (keep it until the answer): our setup role, fingerprints, tls-id."""

    setup: Setup
    fingerprints: tuple[Fingerprint, ...]
    tls_id: str


@attrs.frozen(kw_only=True)
class DtlsParams:
    """The outcome of the SDP exchange for one DTLS-SRTP stream: what a leg needs."""

    #: CLIENT: we send the ClientHello (``a=setup:active``); SERVER: we wait for it.
    role: DtlsRole
    local_setup: Setup
    remote_setup: Setup
    #: The peer's ``a=fingerprint`` values with a hash function we support.
    remote_fingerprints: tuple[Fingerprint, ...]
    remote_tls_id: str | None = None
    #: Our ``a=tls-id`` (RFC 8842 §4): reuse it in later offers/answers of the dialog to keep
    #: the association (``dtls_offer(..., tls_id=)``, ``dtls_answer(..., tls_id=)``).
    local_tls_id: str | None = None

    def same_association(self, later: DtlsParams) -> bool:
        """Whether ``later`` (from a re-offer or its answer) keeps this DTLS association, so the
        call's leg goes on: same roles, same peer fingerprints, and the peer's ``a=tls-id``
        unchanged where both carry one (RFC 8842 §5: a new tls-id means a new association).
        False: the owner builds a new :class:`DtlsMediaLeg` for the new association."""
        if (later.role, later.remote_fingerprints) != (self.role, self.remote_fingerprints):
            return False
        return None in (self.remote_tls_id, later.remote_tls_id) or \
            self.remote_tls_id == later.remote_tls_id


# ------------------------------------------------------------------------------------ SDP
def _tls_id(rng: RandomSource) -> str:
    return "".join(_TLS_ID_CHARS[rng.getrandbits(6)] for _ in range(24))


def _with_dtls(media: MediaCapabilities, certificate: DtlsCertificate, setup: Setup,
               tls_id: str, hash_functions: Sequence[str], *, offer: bool,
               ) -> tuple[MediaCapabilities, tuple[Fingerprint, ...]]:
    prints = tuple(certificate.fingerprint(h) for h in hash_functions)
    accept = (*media.accept_protos, *(p for p in DTLS_PROTOS if p not in media.accept_protos))
    # RFC 8122 §5 a=fingerprint, RFC 4145 §4 / RFC 8842 §5 a=setup, RFC 8842 §4 a=tls-id.
    attributes = (*media.attributes, *(f"fingerprint:{p}" for p in prints),
                  f"setup:{setup.value}", f"tls-id:{tls_id}")
    return attrs.evolve(media, proto=UDP_TLS_SAVP if offer else media.proto,
                        accept_protos=accept, attributes=attributes), prints


def dtls_offer(
    media: MediaCapabilities, certificate: DtlsCertificate, *, rng: RandomSource,
    setup: Setup = Setup.ACTPASS, hash_functions: Sequence[str] = ("sha-256",),
    tls_id: str | None = None,
) -> tuple[MediaCapabilities, DtlsOffer]:
    """Capabilities for a DTLS-SRTP offer: ``media`` on UDP/TLS/RTP/SAVP (RFC 5764 §8) with
    our certificate's fingerprint(s), ``a=setup:actpass`` (RFC 8842 §5.2: the offerer lets
    the answerer choose) and a fresh ``a=tls-id`` (or ``tls_id``: the current one, in a
    re-offer that keeps the association); and the pending offer to keep."""
    if setup is Setup.HOLDCONN:
        raise ValueError("a=setup:holdconn is not used with DTLS (RFC 8842 §5.1)")
    tls_id = tls_id or _tls_id(rng)
    caps, prints = _with_dtls(media, certificate, setup, tls_id, hash_functions, offer=True)
    return caps, DtlsOffer(setup=setup, fingerprints=prints, tls_id=tls_id)


def remote_fingerprints(values: Sequence[SdpFingerprint]) -> tuple[Fingerprint, ...]:
    """The peer's ``a=fingerprint`` values we can check (RFC 8122 §5), or
    :class:`DtlsSdpError` when none is given or none uses a hash function we know."""
    if not values:
        raise DtlsSdpError("DTLS-SRTP stream without a=fingerprint (RFC 5763 §5)")
    usable = []
    for v in values:
        name = v.hash_function.lower()
        size = _DIGEST_SIZES.get(name)
        if size is None:
            continue
        if len(v.digest) != size:
            raise DtlsSdpError(f"a=fingerprint:{name} has {len(v.digest)} bytes, not {size}")
        usable.append(Fingerprint(algorithm=name, value=v.digest))
    if not usable:
        names = ", ".join(sorted({v.hash_function for v in values}))
        raise DtlsSdpError(f"a=fingerprint uses only unsupported hash functions: {names}")
    return tuple(usable)


def _role(local: Setup, remote: Setup) -> DtlsRole:
    try:
        return dtls_role(local.value, remote.value)
    except DtlsError as exc:
        raise DtlsSdpError(str(exc)) from None


def dtls_answer(
    media: MediaCapabilities, offer: SessionDescription | bytes, certificate: DtlsCertificate,
    *, rng: RandomSource, setup: Setup = Setup.ACTIVE,
    hash_functions: Sequence[str] = ("sha-256",), tls_id: str | None = None,
) -> tuple[MediaCapabilities, DtlsParams | None]:
    """Answer the DTLS-SRTP offer on the first m-line of ``offer`` whose media type is
    ``media.media``: the capabilities to answer with (our fingerprint, ``a=setup`` and
    ``a=tls-id``; the offered UDP/TLS proto accepted) and the leg's parameters.

    ``a=setup``: an ``actpass`` offer is answered ``setup`` (default ``active``, RFC 5763 §5:
    the answerer starts the handshake, saving a round trip); ``active`` forces ``passive`` and
    ``passive`` forces ``active``; no ``a=setup`` means ``active`` (RFC 4145 §4).
    ``tls_id``: ours to keep (answering a re-offer of the same association, RFC 8842 §5);
    a fresh one otherwise. An offer that is not on UDP/TLS/RTP/SAVP(F) gives
    ``(media, None)`` unchanged. Raises
    :class:`~rvoip_sansio.ParseError` (malformed SDP) or :class:`DtlsSdpError` (missing or
    unusable fingerprint, ``holdconn``): both mean answering 488.
    """
    sdp = parse_sdp(offer) if isinstance(offer, bytes) else offer
    stream = next((m for m in sdp.media if m.media == media.media), None)
    if stream is None or stream.proto.upper() not in DTLS_PROTOS:
        return media, None
    fps = remote_fingerprints(stream.fingerprints or sdp.fingerprints)
    offered = stream.setup or sdp.setup or Setup.ACTIVE
    if offered is Setup.HOLDCONN:
        raise DtlsSdpError("a=setup:holdconn cannot start DTLS (RFC 8842 §5.1)")
    if setup not in (Setup.ACTIVE, Setup.PASSIVE):
        raise ValueError("an answer's a=setup is active or passive")
    ours = setup if offered is Setup.ACTPASS else offered.answer()
    mine = tls_id or _tls_id(rng)
    caps, _ = _with_dtls(media, certificate, ours, mine, hash_functions, offer=False)
    theirs = stream.attribute("tls-id") or sdp.attribute("tls-id")
    return caps, DtlsParams(role=_role(ours, offered), local_setup=ours, remote_setup=offered,
                            remote_fingerprints=fps, remote_tls_id=theirs, local_tls_id=mine)


def dtls_keep_association(media: MediaCapabilities, params: DtlsParams) -> MediaCapabilities:
    """``media`` (as built by :func:`dtls_offer` / :func:`dtls_answer`) with ``a=setup`` set to
    the role negotiated in ``params``: the capabilities to keep on the dialog for every later
    offer and answer (hold, resume, session refresh), so that a re-offer keeps our role and
    tls-id and an automatic answer to the peer's re-offer never says ``actpass`` (RFC 8842 §5:
    an unchanged tls-id and fingerprint keep the DTLS association)."""
    attributes = tuple(f"setup:{params.local_setup.value}" if a.startswith("setup:") else a
                       for a in media.attributes)
    return attrs.evolve(media, attributes=attributes)


def dtls_from_answer(offer: DtlsOffer, answer: NegotiatedMedia, *,
                     remote_sdp: SessionDescription | None = None) -> DtlsParams | None:
    """The offerer's parameters from the negotiated answer stream (RFC 8842 §5.4).

    None when the answer is not on UDP/TLS/RTP/SAVP(F) and has no fingerprint (the peer
    answered another profile; the caller decides whether that is acceptable).
    :class:`DtlsSdpError` for a missing/unsupported fingerprint, or an answer ``a=setup``
    that does not complement ours (``actpass`` and ``holdconn`` are not answers; no
    ``a=setup`` in an answer means ``passive``, RFC 4145 §4). ``remote_sdp`` (the answer,
    ``NegotiatedSession.remote_sdp``) supplies the peer's ``a=tls-id`` when given.
    """
    if answer.proto.upper() not in DTLS_PROTOS and not answer.remote_fingerprints:
        return None
    tls_id = None
    if remote_sdp is not None and answer.index < len(remote_sdp.media):
        m = remote_sdp.media[answer.index]
        tls_id = m.attribute("tls-id") or remote_sdp.attribute("tls-id")
    fps = remote_fingerprints(answer.remote_fingerprints)
    remote = answer.remote_setup or Setup.PASSIVE
    if remote in (Setup.ACTPASS, Setup.HOLDCONN):
        raise DtlsSdpError(f"a=setup:{remote.value} is not a valid answer (RFC 8842 §5.3)")
    local = offer.setup
    if local is Setup.ACTPASS:
        local = Setup.PASSIVE if remote is Setup.ACTIVE else Setup.ACTIVE
    return DtlsParams(role=_role(local, remote), local_setup=local, remote_setup=remote,
                      remote_fingerprints=fps, remote_tls_id=tls_id, local_tls_id=offer.tls_id)


# ------------------------------------------------------------------------------ events
class DtlsFailure(enum.Enum):
    """Why a leg could not key its call."""

    #: The peer's certificate does not match its ``a=fingerprint`` (an attack, or a broken
    #: signalling path): the call must end.
    FINGERPRINT = "fingerprint"
    #: No answer to our flights within the retransmission schedule (RFC 6347 §4.2.4.1).
    TIMEOUT = "timeout"
    #: Any other DTLS failure (alert, no common SRTP profile, malformed handshake).
    HANDSHAKE = "handshake"


@attrs.frozen(kw_only=True)
class DtlsKeyed(Event):
    """The handshake finished, the peer's certificate matched its fingerprint and the call's
    media is keyed (SRTP both ways from now on)."""

    profile: SrtpProfile
    role: DtlsRole
    peer_fingerprint: Fingerprint
    #: From :meth:`DtlsMediaLeg.set_params` (when the handshake could start) to keying.
    handshake_seconds: float
    time: float
    #: DTLS datagrams this leg sent and received up to keying (retransmissions included).
    datagrams_sent: int = 0
    datagrams_received: int = 0


@attrs.frozen(kw_only=True)
class DtlsKeyingFailed(Event):
    """DTLS-SRTP failed; the media stays silent (nothing unencrypted is sent or played) and
    the owner should end the call (BYE)."""

    kind: DtlsFailure
    reason: str
    time: float


# --------------------------------------------------------------------------------- leg
_MAX_EARLY = 16  # DTLS datagrams kept while the SDP answer (our role) is not known yet


class DtlsMediaLeg:
    """One call's media socket with DTLS-SRTP keying: a ``DatagramCore``.

    Lifecycle (the order of :meth:`attach` and :meth:`set_params` does not matter):

    * create it when the call's RTP socket is bound (the offerer: before sending the offer,
      since the answerer's ClientHello may arrive before the SIP answer, RFC 5763 §5; those
      datagrams are kept until the role is known);
    * :meth:`set_params` with :func:`dtls_answer`'s or :func:`dtls_from_answer`'s result: the
      handshake starts (a DTLS client sends its ClientHello at once);
    * :meth:`attach` the call's :class:`CallMedia` once negotiated; it is keyed when the
      handshake completes (:class:`DtlsKeyed`); until then no RTP goes out and none is played.

    Datagrams are told apart by their first octet (RFC 7983 §7): 20..63 DTLS, 128..191
    RTP/RTCP (to the media); STUN (0..3), ZRTP (16..19), TURN channels (64..79) and anything
    else are counted and dropped (no ICE here).
    """

    __slots__ = (
        "certificate", "media", "params", "endpoint", "keys", "call_id", "_remote", "_events",
        "_early", "_held", "_started", "_profiles", "_mtu", "_max_retransmits",
        "dtls_received", "dtls_sent", "media_dropped", "media_blocked", "other_dropped",
        "early_dropped",
    )

    def __init__(
        self, *, certificate: DtlsCertificate, media: CallMedia | None = None,
        params: DtlsParams | None = None, remote: Address | None = None, now: float = 0.0,
        profiles: Sequence[SrtpProfile] = DEFAULT_DTLS_PROFILES, mtu: int = 1200,
        max_retransmits: int = 6, call_id: str = "",
    ) -> None:
        self.certificate = certificate
        self.media: CallMedia | None = None
        self.params: DtlsParams | None = None
        self.endpoint: DtlsSrtpEndpoint | None = None
        #: The SRTP keys from the handshake (None until :class:`DtlsKeyed`).
        self.keys: SrtpKeys | None = None
        self.call_id = call_id
        self._remote = remote
        self._events: deque[Event] = deque()
        self._early: list[tuple[bytes, Address]] = []
        self._held: list[bytes] = []
        self._started = now
        self._profiles = tuple(profiles)
        self._mtu = mtu
        self._max_retransmits = max_retransmits
        #: Counters: DTLS datagrams in/out; media datagrams dropped because no media was
        #: attached or keys were missing (in), media datagrams held back before keys (out);
        #: other datagrams (STUN, ZRTP, TURN, unknown); DTLS dropped before the role was known.
        self.dtls_received = 0
        self.dtls_sent = 0
        self.media_dropped = 0
        self.media_blocked = 0
        self.other_dropped = 0
        self.early_dropped = 0
        if media is not None:
            self.attach(media)
        if params is not None:
            self.set_params(params, now, remote=remote)

    # ------------------------------------------------------------------------ set-up
    @property
    def state(self) -> DtlsState:
        return self.endpoint.state if self.endpoint is not None else DtlsState.NEW

    @property
    def remote(self) -> Address | None:
        """Where DTLS goes: the address given, else the media's signalled RTP address, else
        the source of the first DTLS datagram received."""
        if self._remote is not None:
            return self._remote
        if self.media is not None and self.media.config.remote_rtp is not None:
            return self.media.config.remote_rtp
        return None

    def attach(self, media: CallMedia) -> None:
        """Plug in the call's media (created from the negotiated SDP); keyed at once if the
        handshake has already completed."""
        self.media = media
        if self.keys is not None:
            media.set_srtp(self.keys)

    def set_params(self, params: DtlsParams, now: float, *, remote: Address | None = None) -> None:
        """Start the handshake with the negotiated role and the peer's fingerprints; any
        DTLS datagrams that arrived before are processed now."""
        if self.endpoint is not None:
            raise LocalProtocolError(
                f"callmedia DTLS leg {self.call_id!r}: set_params in state {self.state.value}: "
                "the association has started (a new one needs a new leg)")
        if remote is not None:
            self._remote = remote
        self.params = params
        self._started = now
        ep = self.endpoint = DtlsSrtpEndpoint(
            role=params.role, certificate=self.certificate,
            remote_fingerprints=params.remote_fingerprints, profiles=self._profiles,
            remote=self.remote or ("", 0), mtu=self._mtu,
            max_retransmits=self._max_retransmits)
        log.debug("call %s: DTLS-SRTP starts as %s", self.call_id, params.role.value,
                  extra={"call_id": self.call_id})
        ep.start(now)
        early, self._early = self._early, []
        for data, _ in early:
            ep.receive(data, now)  # counted when it arrived
        self._collect(now)

    # ------------------------------------------------------------------------ contract
    def receive(self, data: bytes, source: Address, now: float) -> None:
        """One datagram from the call's socket, routed by its first octet (RFC 7983 §7)."""
        if not data:
            self.other_dropped += 1
            return
        first = data[0]
        if 20 <= first <= 63:
            self._dtls_in(data, source, now)
            self._collect(now)
        elif 128 <= first <= 191:
            media = self.media
            if media is None or self.keys is None:
                # Never play media that is not authenticated by the DTLS-derived keys.
                self.media_dropped += 1
                return
            media.receive(data, source, now)
        else:
            self.other_dropped += 1

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        # Media first: at close the RTCP BYE (SRTCP) leaves before the DTLS close_notify.
        out: list[Transmit] = []
        media = self.media
        if media is not None:
            produced = media.datagrams_to_send(now)
            if self.keys is None:
                self.media_blocked += len(produced)  # RTCP or RTP before keys: never plain
            else:
                out = produced
        ep = self.endpoint
        if ep is not None:
            remote = self.remote
            if remote is not None and ep.remote != remote:
                ep.remote = remote
            sent = ep.datagrams_to_send(now)
            if remote is None:
                # Nowhere to send yet (no address signalled, nothing heard): keep the flight.
                self._held = (self._held + [t.data for t in sent])[-32:]
            else:
                dtls = [Transmit(data=d, dest=remote) for d in self._held] + sent
                self._held = []
                self.dtls_sent += len(dtls)
                out.extend(dtls)
        return out

    def next_event(self) -> Event | None:
        if self._events:
            return self._events.popleft()
        return self.media.next_event() if self.media is not None else None

    def next_deadline(self) -> float | None:
        d = self.endpoint.next_deadline() if self.endpoint is not None else None
        m = self.media.next_deadline() if self.media is not None else None
        if d is None:
            return m
        return d if m is None or d < m else m

    def handle_timeout(self, now: float) -> None:
        ep = self.endpoint
        if ep is not None:
            d = ep.next_deadline()
            if d is not None and d <= now:
                ep.handle_timeout(now)  # re-sends the flight (RFC 6347 §4.2.4)
                self._collect(now)
        if self.media is not None:
            self.media.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        if self.media is not None:
            self.media.transport_error(dest, now)

    def close(self, now: float) -> None:
        """End the call's media: RTCP BYE (if keyed), then DTLS close_notify."""
        if self.media is not None:
            self.media.close(now)
        if self.endpoint is not None:
            self.endpoint.close(now)

    # ------------------------------------------------------------------------ internals
    def _unsent(self) -> int:
        ep = self.endpoint
        return len(self._held) + (ep.queued_datagrams if ep is not None else 0)

    def _dtls_in(self, data: bytes, source: Address, now: float) -> None:
        self.dtls_received += 1
        if self.remote is None:
            self._remote = source  # nothing signalled: answer where the peer speaks from
        ep = self.endpoint
        if ep is None:
            if len(self._early) < _MAX_EARLY:
                self._early.append((bytes(data), source))
            else:
                self.early_dropped += 1
            return
        ep.receive(data, now)

    def _collect(self, now: float) -> None:
        ep = self.endpoint
        if ep is None:
            return
        while (ev := ep.next_event()) is not None:
            if isinstance(ev, DtlsConnected):
                self.keys = SrtpKeys(tx=ev.tx_policy, rx=ev.rx_policy)
                if self.media is not None:
                    self.media.set_srtp(self.keys)
                assert self.params is not None
                keyed = DtlsKeyed(profile=ev.profile, role=self.params.role,
                                  peer_fingerprint=ev.peer_fingerprint,
                                  handshake_seconds=now - self._started, time=now,
                                  datagrams_sent=self.dtls_sent + self._unsent(),
                                  datagrams_received=self.dtls_received)
                log.info("call %s: DTLS-SRTP keyed (%s) in %.3f s", self.call_id,
                         ev.profile.value, keyed.handshake_seconds,
                         extra={"call_id": self.call_id})
                self._events.append(keyed)
            elif isinstance(ev, DtlsFailed):
                log.warning("call %s: DTLS-SRTP failed: %s", self.call_id, ev.reason,
                            extra={"call_id": self.call_id})
                self._events.append(DtlsKeyingFailed(kind=DtlsFailure(ev.kind),
                                                     reason=ev.reason, time=now))
            elif isinstance(ev, DtlsClosed):
                self._events.append(ev)
