"""Two (or more) PhoneCores on the simulated network, each played by a tiny application that
binds an RTP socket per call (MultiSocketNode) and answers when told to."""

from __future__ import annotations

import random
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from rvoip_sansio import Address, Event
from rvoip_sansio.phone import IncomingCall, MediaSocketReleased, PhoneConfig, PhoneCore
from rvoip_sansio.sim import LinkConfig, MultiSocketNode, Network

ALICE: Address = ("10.0.0.1", 5060)
BOB: Address = ("10.0.0.2", 5060)
CAROL: Address = ("10.0.0.3", 5060)
PBX: Address = ("10.0.0.100", 5060)


class App:
    """The application on top of one PhoneCore: auto-answers when the event says so, closes
    RTP sockets when the core releases them, keeps every event."""

    def __init__(self, net: Network, name: str, address: Address, *, seed: int,
                 answer_headers: tuple[tuple[str, str], ...] = (), **config: Any) -> None:
        config.setdefault("user", name)
        self.core = PhoneCore(config=PhoneConfig(local=address, **config),
                              rng=random.Random(seed), key_rng=random.Random(seed + 1000))
        self.net = net
        self.answer_headers = answer_headers
        self.hooks: list[Callable[[Event, float], object]] = []
        self.node = MultiSocketNode(net, name, address, self.core, on_event=self._on_event,
                                    first_port=40000 + 1000 * (address[0].endswith(".2")))

    def _on_event(self, node: object, event: Event, now: float) -> None:
        if isinstance(event, IncomingCall) and event.auto_answer:
            self.core.answer(event.call_id, now, rtp=self.node.bind(), headers=self.answer_headers)
        elif isinstance(event, MediaSocketReleased):
            self.node.release(event.local)
        for hook in self.hooks:
            hook(event, now)

    def events(self, kind: type[Any] | None = None) -> list[Any]:
        return [e for _, e in self.node.events if kind is None or isinstance(e, kind)]

    def timed(self, kind: type[Any]) -> list[tuple[float, Any]]:
        return [(t, e) for t, e in self.node.events if isinstance(e, kind)]

    def act(self, when: float, action: Callable[[PhoneCore, float], object]) -> None:
        """Run ``action(core, now)`` at ``when`` (the network drains the node afterwards)."""
        self.net.at(when, lambda now: action(self.core, now))

    def call(self, when: float, target: str, out: list[str], **kw: Any) -> None:
        self.act(when, lambda core, now: out.append(core.call(target, now, rtp=self.node.bind(), **kw)))


def network(seed: int = 1, link: LinkConfig | None = None) -> Network:
    return Network(seed=seed, link=link or LinkConfig(delay=0.02))


def tone(freq: float, rate: int, seconds: float, amplitude: float = 8000.0) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_frequency(x: npt.NDArray[Any], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def rms(x: npt.NDArray[Any]) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def speech(core: PhoneCore, call_id: str) -> npt.NDArray[np.int16]:
    """Every frame decoded from real packets waiting for the application, joined."""
    out = []
    while (frame := core.read_frame(call_id)) is not None:
        if frame.flags.is_speech:
            out.append(frame.samples)
    return np.concatenate(out) if out else np.zeros(0, np.int16)


def tone_segment(x: npt.NDArray[np.int16], rate: int = 16000, seconds: float = 0.6) -> npt.NDArray[np.int16]:
    """``seconds`` of ``x`` starting 100 ms after the tone's onset (skips codec/PLC ramps)."""
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > 2000)
    assert len(loud), "no tone arrived"
    start = int(loud[0]) + rate // 10
    seg = x[start:start + int(rate * seconds)]
    assert len(seg) == int(rate * seconds), "tone too short"
    return seg
