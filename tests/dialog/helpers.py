"""Builders for dialog scenarios: user agents on the simulated network, apps as callbacks."""

from __future__ import annotations

import random
from typing import Callable

from rvoip_sansio import Address, Event
from rvoip_sansio.dialog import Call, IncomingCall, UAConfig, UserAgent
from rvoip_sansio.sdp import PCMA, PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.sim import LinkConfig, Network, Node

ALICE: Address = ("10.0.0.1", 5060)
BOB: Address = ("10.0.0.2", 5060)
CAROL: Address = ("10.0.0.3", 5060)

LOSSY = LinkConfig(delay=0.02, jitter=0.03, loss=0.2, duplicate=0.1, reorder=0.2, reorder_delay=0.1)


def caps(address: Address, port: int = 40000, codecs=(PCMU, PCMA)) -> LocalCapabilities:  # type: ignore[no-untyped-def]
    return LocalCapabilities(address=address[0], media=(MediaCapabilities(codecs=tuple(codecs), port=port),))


def ua(address: Address, user: str, seed: int, *, media: bool = True, **kw: object) -> UserAgent:
    config = UAConfig(local=address, user=user, media=caps(address) if media else None, **kw)  # type: ignore[arg-type]
    return UserAgent(config=config, rng=random.Random(seed))


App = Callable[[Node, Event, float], object]


def answering(delay: float = 0.0, *, ring: bool = True) -> App:
    """An app that rings and answers every incoming call after ``delay``."""

    def on_event(node: Node, event: Event, now: float) -> None:
        if isinstance(event, IncomingCall):
            call = event.call
            if ring:
                call.ring(now)
            if delay == 0:
                call.answer(now)
            else:
                net: Network = node.endpoint._net  # type: ignore[attr-defined]
                net.at(now + delay, lambda t: call.answer(t) if call.state.value in ("incoming", "early") else None)

    return on_event


def network(link: LinkConfig | None = None, seed: int = 0) -> Network:
    return Network(seed=seed, link=link)


def add(net: Network, name: str, address: Address, agent: UserAgent, app: App | None = None) -> Node:
    agent._net = net  # type: ignore[attr-defined]
    return net.add_node(name, address, agent, app)


def kinds(net: Network, name: str) -> list[str]:
    return [type(e).__name__ for e in net.events(name)]


def of(net: Network, name: str, cls: type) -> list:  # type: ignore[type-arg]
    return [e for e in net.events(name) if isinstance(e, cls)]


def action(net: Network, node: Node, fn: Callable[[float], object]) -> Callable[[float], object]:
    def run(now: float) -> object:
        return fn(now)

    return run


def call_of(net: Network, name: str) -> Call:
    return of(net, name, IncomingCall)[0].call  # type: ignore[no-any-return]
