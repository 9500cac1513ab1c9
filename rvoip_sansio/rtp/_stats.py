"""Per-source reception statistics, RFC 3550 Appendix A.1 (sequence validation and
probation, extended sequence numbers), A.3 (expected / lost / fraction lost) and A.8
(interarrival jitter), plus the LSR/DLSR bookkeeping of §6.4.1 and NTP time helpers.
"""

from __future__ import annotations

from ._rtcp import ReportBlock

__all__ = [
    "SourceStats",
    "MIN_SEQUENTIAL",
    "MAX_DROPOUT",
    "MAX_MISORDER",
    "ntp_from_unix",
    "ntp_middle",
    "NTP_UNIX_OFFSET",
]

#: RFC 3550 A.1 constants.
MIN_SEQUENTIAL = 2
MAX_DROPOUT = 3000
MAX_MISORDER = 100
RTP_SEQ_MOD = 1 << 16

#: Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
NTP_UNIX_OFFSET = 2208988800


def ntp_from_unix(seconds: float) -> int:
    """64-bit NTP timestamp (RFC 3550 §4) for a wall-clock time in Unix seconds."""
    s = seconds + NTP_UNIX_OFFSET
    whole = int(s)
    return ((whole & 0xFFFFFFFF) << 32) | int((s - whole) * 4294967296.0) & 0xFFFFFFFF


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp (the LSR / 'compact' form)."""
    return (ntp >> 16) & 0xFFFFFFFF


class SourceStats:
    """Reception state of one remote SSRC (RFC 3550 A.1 ``source`` struct and friends)."""

    __slots__ = (
        "ssrc", "max_seq", "cycles", "base_seq", "bad_seq", "probation", "received",
        "expected_prior", "received_prior", "transit", "jitter", "clock_rate", "octets",
        "last_sr_ntp", "last_sr_arrival", "last_arrival", "duplicates_or_old",
    )

    def __init__(self, ssrc: int, seq: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.jitter = 0.0
        self.transit: float | None = None
        self.octets = 0
        self.last_sr_ntp = 0
        self.last_sr_arrival: float | None = None
        self.last_arrival = 0.0
        self.duplicates_or_old = 0
        self._init_seq(seq)
        self.max_seq = (seq - 1) & 0xFFFF
        # A.1: a new source must send MIN_SEQUENTIAL in-sequence packets to be valid.
        self.probation = MIN_SEQUENTIAL

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1  # so seq == bad_seq is false
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update_seq(self, seq: int) -> bool:
        """RFC 3550 A.1 ``update_seq``: True when the packet counts (source valid)."""
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.probation:
            # Packets must be in sequence while on probation.
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            # In order, with a permissible gap.
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD  # sequence number wrapped
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            # The sequence number made a very large jump.
            if seq == self.bad_seq:
                # Two sequential packets: the other side restarted without telling us.
                self._init_seq(seq)
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        else:
            # Duplicate or reordered packet.
            self.duplicates_or_old += 1
        self.received += 1
        return True

    def update_jitter(self, timestamp: int, arrival: float) -> None:
        """RFC 3550 A.8: J += (|D| - J) / 16, in timestamp units, arrival in seconds."""
        transit = arrival * self.clock_rate - timestamp
        prev = self.transit
        self.transit = transit
        if prev is not None:
            d = transit - prev
            # Timestamps wrap at 2^32: fold the transit difference back into range.
            if d > 2147483648.0 or d < -2147483648.0:
                d = (d + 2147483648.0) % 4294967296.0 - 2147483648.0
            if d < 0:
                d = -d
            self.jitter += (d - self.jitter) * 0.0625

    # ---------------------------------------------------------------- A.3
    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.cycles + self.max_seq - self.base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        """Packets lost since the start (negative with duplicates), clamped to 24 bits."""
        lost = self.expected - self.received
        return max(-0x800000, min(0x7FFFFF, lost))

    @property
    def jitter_seconds(self) -> float:
        return self.jitter / self.clock_rate

    def report_block(self, now: float) -> ReportBlock:
        """A reception report for this source; advances the A.3 interval counters."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        if self.last_sr_arrival is None:
            lsr = dlsr = 0
        else:
            lsr = ntp_middle(self.last_sr_ntp)
            # §6.4.1: DLSR in units of 1/65536 s.
            dlsr = min(0xFFFFFFFF, max(0, int((now - self.last_sr_arrival) * 65536)))
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            cumulative_lost=self.cumulative_lost,
            highest_seq=self.extended_max & 0xFFFFFFFF,
            jitter=int(self.jitter) & 0xFFFFFFFF,
            lsr=lsr,
            dlsr=dlsr,
        )
