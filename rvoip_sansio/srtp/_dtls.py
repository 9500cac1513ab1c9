"""A sans-I/O DTLS-SRTP handshake driver (RFC 5763, RFC 5764) over pyOpenSSL memory BIOs.

Datagrams in with ``receive(data, now)``, datagrams out with ``datagrams_to_send(now)``,
events out with ``next_event()``, timers with ``next_deadline()`` / ``handle_timeout(now)``.
OpenSSL is imported lazily (``pip install rvoip-sansio[dtls]``).

Retransmission (RFC 6347 §4.2.4) is driven by ``now``, never by a clock: when a flight is
sent the deadline is ``now`` + 1 s (RFC 6347 §4.2.4.1's initial timer); when it passes, the
same flight is re-sent and the timeout doubles (up to 60 s). OpenSSL's own timer (which reads
the system clock: ``DTLSv1_get_timeout`` reports 1 s minus the wall time since the flight)
is never consulted. A peer
whose final flight was lost re-sends that flight when the other side retransmits (§4.2.4).
"""

from __future__ import annotations

import enum
import logging
from typing import Any, Literal, Sequence

import attrs

from rvoip_sansio._core import Address, Event, Transmit

from ._fingerprint import DtlsCertificate, DtlsError, DtlsRole, Fingerprint, fingerprint_matches
from ._profiles import MasterKey, SrtpPolicy, SrtpProfile
from ._session import SrtpSession

__all__ = ["DtlsSrtpEndpoint", "DtlsState", "DtlsConnected", "DtlsFailed", "DtlsFailureKind",
           "DtlsClosed"]

log = logging.getLogger("rvoip_sansio.srtp.dtls")

#: Our preference for the use_srtp extension (RFC 5764 §4.1.2, RFC 7714 §14.2).
DEFAULT_DTLS_PROFILES: tuple[SrtpProfile, ...] = (
    SrtpProfile.AEAD_AES_256_GCM,
    SrtpProfile.AEAD_AES_128_GCM,
    SrtpProfile.AES_CM_128_HMAC_SHA1_80,
    SrtpProfile.AES_CM_128_HMAC_SHA1_32,
)
_EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"  # RFC 5764 §4.2
_INITIAL_TIMEOUT = 1.0  # RFC 6347 §4.2.4.1
_MAX_TIMEOUT = 60.0  # RFC 6347 §4.2.4.1
#: How long a due retransmission may wait for OpenSSL's own timer (see handle_timeout).
_OPENSSL_SLACK = 0.05


class DtlsState(enum.Enum):
    NEW = "new"
    HANDSHAKING = "handshaking"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


@attrs.frozen(kw_only=True)
class DtlsConnected(Event):
    """The handshake finished and the peer's certificate matched its fingerprint."""

    profile: SrtpProfile
    tx_policy: SrtpPolicy
    rx_policy: SrtpPolicy
    peer_fingerprint: Fingerprint


#: Why a handshake failed: the peer's certificate is not the one in its ``a=fingerprint``,
#: no answer within the retransmission schedule, or any other DTLS/TLS error or alert.
DtlsFailureKind = Literal["fingerprint", "timeout", "handshake"]


@attrs.frozen(kw_only=True)
class DtlsFailed(Event):
    reason: str
    kind: DtlsFailureKind = "handshake"


@attrs.frozen(kw_only=True)
class DtlsClosed(Event):
    """The peer sent close_notify."""


def _ssl() -> Any:
    try:
        from OpenSSL import SSL
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "DTLS-SRTP needs pyOpenSSL: pip install 'rvoip-sansio[dtls]'"
        ) from exc
    return SSL


def _records(blob: bytes) -> list[bytes]:
    """The DTLS records in ``blob`` (RFC 6347 §4.1: 13-byte header ending in a length)."""
    out, pos = [], 0
    while pos + 13 <= len(blob):
        end = pos + 13 + int.from_bytes(blob[pos + 11 : pos + 13], "big")
        out.append(blob[pos:end])
        pos = end
    return out


def _handshake_seq(record: bytes) -> int | None:
    # An epoch-0 handshake record: message_seq from the fragment header (RFC 6347 §4.2.2:
    # msg_type 1, length 3, message_seq 2 bytes).
    if record[0] == 22 and record[3:5] == b"\x00\x00" and len(record) >= 19:
        return int.from_bytes(record[17:19], "big")
    return None


def strip_resent_flight(blob: bytes, flight: Sequence[bytes]) -> tuple[bytes, int]:
    """``blob`` without a leading re-send of ``flight`` (our last flight's datagrams), and the
    number of records dropped.

    OpenSSL re-sends the last flight by itself when its own timer, which reads the system
    clock, has expired by the time the peer's next flight is read (``dtls1_handle_timeout``
    inside the read), fragmenting it anew. Retransmission here is driven by ``now`` only
    (``handle_timeout``), so such a re-send is removed: its handshake messages carry
    message_seq values of the last flight, new ones are higher (RFC 6347 §4.2.2); when the
    last flight ended with ChangeCipherSpec + Finished, those follow the stale messages.
    """
    sent = [_records(d) for d in flight]
    seqs = [q for rs in sent for r in rs if (q := _handshake_seq(r)) is not None]
    if not seqs:
        return blob, 0
    last_seq = max(seqs)
    had_ccs = any(r[0] == 20 for rs in sent for r in rs)
    records = _records(blob)
    n = 0
    while n < len(records) and (q := _handshake_seq(records[n])) is not None and q <= last_seq:
        n += 1
    if n and had_ccs:
        while n < len(records) and (records[n][0] == 20 or records[n][3:5] != b"\x00\x00"):
            n += 1
    return (b"".join(records[n:]), n) if n else (blob, 0)


def _split_records(blob: bytes, mtu: int) -> list[bytes]:
    """Cut OpenSSL's output into DTLS records (RFC 6347 §4.1: 13-byte header with a length)
    and pack whole records into datagrams of at most ``mtu`` bytes."""
    datagrams: list[bytes] = []
    current = b""
    pos = 0
    while pos + 13 <= len(blob):
        end = pos + 13 + int.from_bytes(blob[pos + 11 : pos + 13], "big")
        record = blob[pos:end]
        if current and len(current) + len(record) > mtu:
            datagrams.append(current)
            current = b""
        current += record
        pos = end
    if current:
        datagrams.append(current)
    return datagrams


class DtlsSrtpEndpoint:
    """One side of a DTLS-SRTP association for one media stream (or a BUNDLE group)."""

    __slots__ = (
        "role", "remote", "state", "_remote_fps", "_mtu", "_max_retransmits", "_window",
        "_events", "_out", "_flight", "_deadline", "_timeout", "_retransmits",
        "_sent_last_flight", "_peer_der", "_result", "_handshake_complete", "_conn", "_waited",
    )

    def __init__(
        self,
        *,
        role: DtlsRole,
        certificate: DtlsCertificate,
        remote_fingerprints: Sequence[Fingerprint] | None = None,
        profiles: Sequence[SrtpProfile] = DEFAULT_DTLS_PROFILES,
        remote: Address = ("", 0),
        mtu: int = 1200,
        max_retransmits: int = 6,
        window_size: int = 128,
    ) -> None:
        SSL = _ssl()
        names = [p.spec.dtls_name for p in profiles]
        if not names or None in names:
            raise ValueError("DTLS-SRTP profiles must be ones with an RFC 5764/7714 name")
        self.role = role
        self.remote = remote
        self.state = DtlsState.NEW
        self._remote_fps = None if remote_fingerprints is None else list(remote_fingerprints)
        self._mtu = mtu
        self._max_retransmits = max_retransmits
        self._window = window_size
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._flight: list[bytes] = []
        self._deadline: float | None = None
        self._timeout = _INITIAL_TIMEOUT
        self._waited = False
        self._retransmits = 0
        self._sent_last_flight = False
        self._peer_der: bytes | None = None
        self._result: DtlsConnected | None = None
        self._handshake_complete = False
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.use_certificate(certificate.certificate)
        ctx.use_privatekey(certificate.private_key)
        ctx.check_privatekey()
        ctx.set_tlsext_use_srtp(":".join(n for n in names if n).encode("ascii"))
        # RFC 5763 §5: both sides present certificates; they are self-signed, so trust comes
        # from the SDP fingerprint, checked in the callback (and again once connected).
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        conn = SSL.Connection(ctx, None)
        conn.set_ciphertext_mtu(mtu)
        if role is DtlsRole.CLIENT:
            conn.set_connect_state()
        else:
            conn.set_accept_state()
        self._conn: Any = conn

    # ------------------------------------------------------------------ certificate check
    def _verify(self, conn: Any, x509: Any, errno: int, depth: int, ok: int) -> bool:
        if depth != 0:
            return True
        from cryptography.hazmat.primitives import serialization

        der = x509.to_cryptography().public_bytes(serialization.Encoding.DER)
        self._peer_der = der
        if self._remote_fps is None:
            return True  # checked when set_remote_fingerprints() is called
        return fingerprint_matches(der, self._remote_fps)

    def set_remote_fingerprints(self, fingerprints: Sequence[Fingerprint], now: float) -> None:
        """The peer's ``a=fingerprint`` values, when the SDP arrives after DTLS started."""
        self._remote_fps = list(fingerprints)
        if self.state is DtlsState.HANDSHAKING and self._handshake_complete:
            self._finish(now)

    # ------------------------------------------------------------------------ the contract
    def start(self, now: float) -> None:
        """Begin: the client sends its ClientHello; the server just waits for one."""
        if self.state is not DtlsState.NEW:
            return
        self.state = DtlsState.HANDSHAKING
        if self.role is DtlsRole.CLIENT:
            self._step(now)

    def receive(self, data: bytes, now: float) -> None:
        """One datagram from the peer (already demultiplexed as DTLS, RFC 7983: 20..63)."""
        if self.state in (DtlsState.FAILED, DtlsState.CLOSED) or not data:
            return
        if self.state is DtlsState.NEW:
            self.state = DtlsState.HANDSHAKING
        SSL = _ssl()
        self._conn.bio_write(bytes(data))
        if self.state is DtlsState.HANDSHAKING:
            self._step(now)
            return
        # Connected: a retransmitted handshake flight means our final flight was lost. The
        # flight may come in several datagrams: answer once, on its Finished (the encrypted
        # handshake record that ends it, epoch >= 1).
        if self._sent_last_flight and self._flight and any(
                r[0] == 22 and r[3:5] != b"\x00\x00" for r in _records(bytes(data))):
            if self._retransmits < self._max_retransmits:
                self._retransmits += 1
                self._out.extend(self._flight)
        try:
            while True:
                self._conn.recv(65536)  # no application data is expected; drop it
        except SSL.ZeroReturnError:
            self.state = DtlsState.CLOSED
            self._events.append(DtlsClosed())
        except SSL.WantReadError:
            pass
        except SSL.Error as exc:
            self._fail(f"DTLS error after the handshake: {exc}")
        self._collect(now, new_flight=False)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out, self._out = self._out, []
        return [Transmit(data=d, dest=self.remote) for d in out]

    @property
    def queued_datagrams(self) -> int:
        """Datagrams produced and not yet taken by ``datagrams_to_send``."""
        return len(self._out)

    def next_event(self) -> Event | None:
        return self._events.pop(0) if self._events else None

    def next_deadline(self) -> float | None:
        return self._deadline

    def handle_timeout(self, now: float) -> None:
        """Re-send the last flight when its deadline has passed (RFC 6347 §4.2.4).

        A retransmitted record needs a new record sequence number (RFC 6347 §4.1): an OpenSSL
        peer drops a copy of a record it has seen as a replay, so a client whose flight
        arrived but whose server's final flight was lost would never hear from it again.
        Only OpenSSL can renumber (and re-encrypt the Finished), and it does so only once its
        own timer on the system clock has expired. So: when that timer is about to expire
        (real time: it started a moment after ``now`` was taken), the deadline waits for it
        (at most ``_OPENSSL_SLACK``); when it has expired, OpenSSL re-sends the flight; when it
        is far from expiry (simulated time), the stored flight is re-sent as it was, which
        serves every case but that one.
        """
        if self._deadline is None or now < self._deadline:
            return
        if self.state is not DtlsState.HANDSHAKING:
            self._deadline = None
            return
        if self._retransmits >= self._max_retransmits:
            self._fail("DTLS handshake timed out", "timeout")
            return
        left = self._conn.DTLSv1_get_timeout()  # seconds on OpenSSL's system-clock timer
        if left is not None and 0 < left <= _OPENSSL_SLACK and not self._waited:
            self._waited = True
            self._deadline = now + left + 0.001
            return
        self._waited = False
        self._retransmits += 1
        self._timeout = min(self._timeout * 2, _MAX_TIMEOUT)
        self._deadline = now + self._timeout
        fresh = self._openssl_retransmit(now) if left is not None and left <= 0 else []
        if self.state is not DtlsState.HANDSHAKING:
            return
        if fresh:
            self._flight = fresh
        log.debug("DTLS retransmits its flight (%d, %s) at %.3f", self._retransmits,
                  "renumbered by OpenSSL" if fresh else "as sent", now)
        self._out.extend(fresh or self._flight)

    def _openssl_retransmit(self, now: float) -> list[bytes]:
        SSL = _ssl()
        try:
            self._conn.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._fail(f"DTLS retransmission failed: {exc}")
            return []
        blob = b""
        while True:
            try:
                chunk = self._conn.bio_read(65536)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            blob += chunk
        return _split_records(blob, self._mtu) if blob else []

    def close(self, now: float) -> None:
        """Send close_notify and stop."""
        if self.state is DtlsState.CONNECTED:
            SSL = _ssl()
            try:
                self._conn.shutdown()
            except SSL.Error:
                pass
            self._collect(now, new_flight=False)
        self.state = DtlsState.CLOSED
        self._deadline = None

    # ------------------------------------------------------------------------ results
    @property
    def result(self) -> DtlsConnected | None:
        return self._result

    def srtp_sessions(self, **kwargs: Any) -> tuple[SrtpSession, SrtpSession]:
        """``(tx, rx)`` SRTP sessions keyed by the handshake (after DtlsConnected)."""
        if self._result is None:
            raise DtlsError("the DTLS handshake has not completed")
        return (SrtpSession(self._result.tx_policy, **kwargs),
                SrtpSession(self._result.rx_policy, **kwargs))

    # ----------------------------------------------------------------------- internals
    def _step(self, now: float) -> None:
        SSL = _ssl()
        try:
            self._conn.do_handshake()
            self._handshake_complete = True
        except SSL.WantReadError:
            pass
        except SSL.Error as exc:
            self._collect(now, new_flight=False)  # the alert, if OpenSSL wrote one
            if (self._peer_der is not None and self._remote_fps is not None
                    and not fingerprint_matches(self._peer_der, self._remote_fps)):
                self._fail("peer certificate does not match a=fingerprint", "fingerprint")
            else:
                self._fail(f"DTLS handshake failed: {exc}")
            return
        self._collect(now, new_flight=True)
        if self._handshake_complete:
            self._finish(now)

    def _collect(self, now: float, *, new_flight: bool) -> None:
        SSL = _ssl()
        blob = b""
        while True:
            try:
                chunk = self._conn.bio_read(65536)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            blob += chunk
        blob, dropped = strip_resent_flight(blob, self._flight)
        if dropped:
            log.debug("DTLS: OpenSSL's wall-clock re-send of %d records dropped", dropped)
        if not blob:
            return
        datagrams = _split_records(blob, self._mtu)
        self._out.extend(datagrams)
        if new_flight:
            self._flight = datagrams
            self._retransmits = 0
            self._sent_last_flight = self._handshake_complete
            if not self._handshake_complete:
                # RFC 6347 §4.2.4.1: a new flight starts from the initial timer value.
                self._timeout = _INITIAL_TIMEOUT
                self._waited = False
                self._deadline = now + self._timeout

    def _finish(self, now: float) -> None:
        self._deadline = None
        if self._remote_fps is None:
            return  # wait for set_remote_fingerprints()
        der = self._peer_der
        if der is None or not fingerprint_matches(der, self._remote_fps):
            self._fail("peer certificate does not match a=fingerprint", "fingerprint")
            return
        name = self._conn.get_selected_srtp_profile().decode("ascii")
        profile = SrtpProfile.from_name(name)
        spec = profile.spec
        k, s = spec.key_len, spec.salt_len
        # RFC 5764 §4.2: client key, server key, client salt, server salt.
        m = self._conn.export_keying_material(_EXPORTER_LABEL, 2 * (k + s))
        client = MasterKey(key=m[:k], salt=m[2 * k : 2 * k + s])
        server = MasterKey(key=m[k : 2 * k], salt=m[2 * k + s :])
        mine, theirs = (client, server) if self.role is DtlsRole.CLIENT else (server, client)
        self._result = DtlsConnected(
            profile=profile,
            tx_policy=SrtpPolicy(profile=profile, keys=(mine,), window_size=self._window),
            rx_policy=SrtpPolicy(profile=profile, keys=(theirs,), window_size=self._window),
            peer_fingerprint=Fingerprint.of_der(der),
        )
        self.state = DtlsState.CONNECTED
        self._events.append(self._result)
        log.debug("DTLS-SRTP connected with %s", profile.value)

    def _fail(self, reason: str, kind: DtlsFailureKind = "handshake") -> None:
        self.state = DtlsState.FAILED
        self._deadline = None
        self._events.append(DtlsFailed(reason=reason, kind=kind))
        log.debug("DTLS-SRTP failed: %s", reason)
