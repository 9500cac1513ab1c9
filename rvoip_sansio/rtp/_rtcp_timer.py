"""RTCP transmission interval and timer rules, RFC 3550 §6.3 and Appendix A.7.

:func:`rtcp_interval` is A.7's ``rtcp_interval()``; :class:`RtcpScheduler` keeps the §6.3
variables (tp, tn, pmembers, members, senders, avg_rtcp_size, initial, we_sent) and applies
timer reconsideration (§6.3.6), reverse reconsideration on BYE (§6.3.4) and BYE
reconsideration (§6.3.7). Randomness comes from the injected ``rng``.
"""

from __future__ import annotations

import math

from .._core import RandomSource

__all__ = ["rtcp_interval", "RtcpScheduler", "COMPENSATION"]

#: A.7: "e - 3/2" compensates for timer reconsideration converging below the mean.
COMPENSATION = math.e - 1.5
RTCP_SENDER_BW_FRACTION = 0.25
RTCP_RCVR_BW_FRACTION = 1.0 - RTCP_SENDER_BW_FRACTION


def rtcp_interval(
    members: int,
    senders: int,
    rtcp_bw: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    rng: RandomSource,
    min_time: float = 5.0,
) -> float:
    """A.7 ``rtcp_interval``: seconds until the next report (``rtcp_bw`` in octets/s)."""
    # §6.2: halve the minimum before the first report to speed up startup.
    rtcp_min_time = min_time / 2 if initial else min_time
    n = members
    if senders <= members * RTCP_SENDER_BW_FRACTION:
        if we_sent:
            rtcp_bw *= RTCP_SENDER_BW_FRACTION
            n = senders
        else:
            rtcp_bw *= RTCP_RCVR_BW_FRACTION
            n -= senders
    t = avg_rtcp_size * n / rtcp_bw if rtcp_bw > 0 else rtcp_min_time
    if t < rtcp_min_time:
        t = rtcp_min_time
    # Spread over [0.5, 1.5] T so reports of many members do not synchronise.
    t = t * (rng.random() + 0.5)
    return t / COMPENSATION


class RtcpScheduler:
    """When to send the next compound RTCP packet (§6.3). Pure: ``now`` is always passed in."""

    __slots__ = (
        "rtcp_bw", "min_time", "rng", "tp", "tn", "pmembers", "members", "senders",
        "avg_rtcp_size", "initial", "we_sent", "leaving", "_bye_members",
    )

    def __init__(
        self, *, rtcp_bw: float, rng: RandomSource, now: float, min_time: float = 5.0,
        initial_size: float = 100.0,
    ) -> None:
        self.rtcp_bw = rtcp_bw
        self.min_time = min_time
        self.rng = rng
        # §6.3.2 initialisation.
        self.tp = now
        self.pmembers = 1
        self.members = 1
        self.senders = 0
        self.we_sent = False
        self.avg_rtcp_size = initial_size
        self.initial = True
        self.leaving = False
        self._bye_members = 0
        self.tn = now + self._interval()

    def _interval(self) -> float:
        return rtcp_interval(self.members, self.senders, self.rtcp_bw, self.we_sent,
                             self.avg_rtcp_size, self.initial, self.rng, self.min_time)

    def on_expire(self, now: float) -> bool:
        """§6.3.6 / A.7 ``OnExpire``: True when a report is to be sent now (the caller then
        calls :meth:`sent`); otherwise the timer has been pushed out (reconsideration)."""
        if self.leaving:
            # §6.3.7: BYE reconsideration counts received BYEs as members.
            t = rtcp_interval(max(1, self._bye_members), 0, self.rtcp_bw, False,
                              self.avg_rtcp_size, self.initial, self.rng, self.min_time)
        else:
            t = self._interval()
        tn = self.tp + t
        if tn <= now:
            return True
        self.tn = tn
        return False

    def sent(self, now: float, size: int) -> None:
        """A report of ``size`` octets (UDP/IP overhead included) left at ``now``."""
        # §6.3.3: avg_rtcp_size = 1/16 * packet_size + 15/16 * avg_rtcp_size.
        self.avg_rtcp_size = size / 16.0 + self.avg_rtcp_size * 15.0 / 16.0
        self.tp = now
        self.initial = False
        self.pmembers = self.members
        self.tn = now + self._interval()

    def received(self, size: int) -> None:
        """An RTCP packet arrived (§6.3.3)."""
        self.avg_rtcp_size = size / 16.0 + self.avg_rtcp_size * 15.0 / 16.0

    def set_members(self, members: int, senders: int, we_sent: bool) -> None:
        self.members = max(1, members)
        self.senders = senders
        self.we_sent = we_sent

    def member_left(self, now: float, members: int) -> None:
        """§6.3.4 reverse reconsideration when a BYE shrank the member count."""
        members = max(1, members)
        if self.leaving:
            self._bye_members += 1
            return
        if members < self.pmembers and self.pmembers > 0:
            ratio = members / self.pmembers
            self.tn = now + ratio * (self.tn - now)
            self.tp = now - ratio * (now - self.tp)
            self.pmembers = members
        self.members = members

    def leave(self, now: float, bye_size: int) -> float | None:
        """Start leaving. Returns None when the BYE may go at once (§6.3.7: fewer than 50
        members), else the time BYE reconsideration schedules it for."""
        if self.members < 50:
            return None
        self.leaving = True
        self.tp = now
        self.members = self.pmembers = 1
        self._bye_members = 1
        self.initial = True
        self.we_sent = False
        self.senders = 0
        self.avg_rtcp_size = float(bye_size)
        self.tn = now + self._interval()
        return self.tn
