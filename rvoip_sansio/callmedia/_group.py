"""CallMediaGroup: many calls on one media clock, resampled in one matrix product per tick.

A media server or a bot farm runs hundreds of calls. Driving each on its own 20 ms timer costs
one wake-up per call per tick, and resampling each call's frames separately (8 <-> 16 kHz,
~17 µs per frame per direction) dominates the CPU. The group runs every member's tick at the
same instants (``start + n·ptime``) and converts all members' frames with one
:class:`BatchResampler` product per direction and rate pair, bit-identical to resampling them
one by one.

Each member stays a normal :class:`CallMedia` for the network (its own ``receive``,
``datagrams_to_send``, ``next_event`` and, for RTCP/DTMF timers only, ``next_deadline`` /
``handle_timeout``); only the media ticks move to the group's ``handle_timeout``.
"""

from __future__ import annotations

import numpy as np

from .._core import LocalProtocolError
from ._receive import PCM
from ..codecs import BatchResampler
from ._send import SendQueue
from ._stream import CallMedia

__all__ = ["CallMediaGroup"]

_Key = tuple[int, int, int]


class CallMediaGroup:
    """One shared media clock for many :class:`CallMedia` (see module docs)."""

    __slots__ = ("ptime", "max_catchup", "_start", "_n", "_members", "_rs", "_plain",
                 "_mixed", "ticks_skipped")

    def __init__(self, *, now: float, ptime: float = 0.02, max_catchup: float = 0.2) -> None:
        self.ptime = ptime
        self.max_catchup = max_catchup
        self._start = now
        self._n = 0
        self._members: list[CallMedia] = []
        self._rs: dict[_Key, BatchResampler] = {}
        #: Members at their codec's rate (each runs its own tick) and members resampled
        #: here: (media, send key, send slot, receive key, receive slot).
        self._plain: list[CallMedia] = []
        self._mixed: list[tuple[CallMedia, _Key, int, _Key, int]] = []
        self.ticks_skipped = 0

    def __len__(self) -> int:
        return len(self._members)

    def _resampler(self, key: _Key) -> BatchResampler:
        rs = self._rs.get(key)
        if rs is None:
            rs = self._rs[key] = BatchResampler(*key)
        return rs

    def add(self, media: CallMedia) -> None:
        """Take over ``media``'s ticks. Call it before the media ran a tick or queued audio."""
        if media._grouped or media._n or media.tx.queued_frames or media.rx.queue:
            raise LocalProtocolError("callmedia group: add() a CallMedia before it starts")
        if abs(media._ptime - self.ptime) > 1e-9:
            raise LocalProtocolError("callmedia group: ptime differs from the group's")
        c = media.config
        info = media.codec.info
        app_frame = round(c.rate * self.ptime)
        codec_frame = round(info.sample_rate * self.ptime)
        # Send queue at the application rate: the group resamples at tick time.
        media.tx = SendQueue(app_rate=c.rate, codec_rate=c.rate, frame_samples=app_frame,
                             limit=c.send_queue_frames, policy=c.send_policy)
        media.rx._rs = None
        if c.rate != info.sample_rate:
            tx_key = (c.rate, info.sample_rate, app_frame)
            rx_key = (info.sample_rate, c.rate, codec_frame)
            tx_slot = self._resampler(tx_key).allocate()
            rx_slot = self._resampler(rx_key).allocate()
            self._mixed.append((media, tx_key, tx_slot, rx_key, rx_slot))
        else:
            self._plain.append(media)
        media._grouped = True
        media._start = self._start
        media._n = self._n
        self._members.append(media)

    def remove(self, media: CallMedia) -> None:
        """Drop a member (when its call ends); its resampler slots are zeroed for reuse."""
        self._members.remove(media)
        for i, (m, tx_key, tx_slot, rx_key, rx_slot) in enumerate(self._mixed):
            if m is media:
                self._rs[tx_key].release(tx_slot)
                self._rs[rx_key].release(rx_slot)
                del self._mixed[i]
                return
        self._plain.remove(media)

    def next_deadline(self) -> float | None:
        return self._start + self._n * self.ptime if self._members else None

    def handle_timeout(self, now: float) -> None:
        """Run every group tick due at or before ``now`` for every member."""
        ptime = self.ptime
        due = int((now - self._start) / ptime + 1e-9) + 1
        behind = due - self._n
        max_run = max(1, int(self.max_catchup / ptime + 1e-9))
        if behind > max_run:
            skip = behind - max_run
            self.ticks_skipped += skip
            for m in self._members:
                if not m._closed:
                    m._skip_ticks(skip)
            self._n += skip
        while self._n < due:
            t = self._start + self._n * ptime
            self._n += 1
            self._tick(t)

    def _tick(self, t: float) -> None:
        # Members at their codec's rate: each runs its own tick (nothing to batch).
        for m in self._plain:
            if not m._closed:
                m._n += 1
                m._tick(t)
        if self._mixed:
            self._tick_resampled(t)

    def _tick_resampled(self, t: float) -> None:
        members = [e for e in self._mixed if not e[0]._closed]
        rs = self._rs
        # ---- send: take every member's frame, resample per rate pair in one product.
        frames: list[PCM | None] = [e[0]._take(t) for e in members]
        groups: dict[_Key, tuple[list[int], list[int], list[PCM]]] = {}
        for i, f in enumerate(frames):
            if f is not None:
                e = members[i]
                g = groups.get(e[1])
                if g is None:
                    g = groups[e[1]] = ([], [], [])
                g[0].append(i)
                g[1].append(e[2])
                g[2].append(f)
        for key, (idx, sl, fr) in groups.items():
            out = rs[key].process(sl, fr)
            for j, i in enumerate(idx):
                frames[i] = out[:, j]
        for e, f in zip(members, frames):
            e[0]._put(f, t)
        # ---- receive: decode every member's slot, resample per rate pair, deliver.
        rgroups: dict[_Key, tuple[list[CallMedia], list[int], list[PCM], list[int],
                                  list[int]]] = {}
        for m, _tk, _ts, key, slot in members:
            pf = m.rtp.pop_frame(t)
            m._n += 1
            if not m.receiving:
                continue
            pcm, flags = m.rx.decode(pf, m._events)
            n = key[2]
            if len(pcm) != n:  # a peer packing another ptime: fit the slot
                pcm = pcm[:n] if len(pcm) > n else np.concatenate(
                    (pcm, np.zeros(n - len(pcm), np.int16)))
            g2 = rgroups.get(key)
            if g2 is None:
                g2 = rgroups[key] = ([], [], [], [], [])
            g2[0].append(m)
            g2[1].append(slot)
            g2[2].append(pcm)
            g2[3].append(flags)
            g2[4].append(pf[1])
        for key, (ms, sl, pcms, fl, ts) in rgroups.items():
            out = rs[key].process(sl, pcms)
            for j, m in enumerate(ms):
                m.rx.push(out[:, j], fl[j], ts[j], t)
