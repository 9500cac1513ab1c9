"""The shared vocabulary: wrapping arithmetic and the pump."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from rvoip_sansio import Event, ParseError, Transmit, pump, seq_delta16, seq_lt16, ts_delta32


@given(st.integers(0, 0xFFFF), st.integers(-0x8000, 0x7FFF))
def test_seq_delta16_inverts_wrapping_addition(base: int, step: int) -> None:
    assert seq_delta16((base + step) & 0xFFFF, base) == step


def test_seq_delta16_across_the_wrap() -> None:
    assert seq_delta16(0, 0xFFFF) == 1
    assert seq_delta16(0xFFFF, 0) == -1
    assert seq_lt16(0xFFF0, 0x0010)
    assert not seq_lt16(0x0010, 0xFFF0)


@given(st.integers(0, 0xFFFFFFFF), st.integers(-(2**31), 2**31 - 1))
def test_ts_delta32_inverts_wrapping_addition(base: int, step: int) -> None:
    assert ts_delta32((base + step) & 0xFFFFFFFF, base) == step


def test_parse_error_carries_offset_and_reason() -> None:
    err = ParseError("bad thing", 17)
    assert isinstance(err, ValueError)
    assert (err.offset, err.reason) == (17, "bad thing")
    assert "17" in str(err)


@attrs.frozen(kw_only=True)
class _Ping(Event):
    n: int


class _Echo:
    """A toy protocol object: each event it reports produces one datagram."""

    def __init__(self) -> None:
        self.out: list[Transmit] = []
        self.events: list[Event] = [_Ping(n=1), _Ping(n=2)]

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out, self.out = self.out, []
        return out

    def next_event(self) -> Event | None:
        return self.events.pop(0) if self.events else None

    def next_deadline(self) -> float | None:
        return 5.0


def test_pump_sends_output_produced_while_delivering_events() -> None:
    obj = _Echo()
    sent: list[Transmit] = []
    got: list[Event] = []

    def deliver(ev: Event) -> None:
        got.append(ev)
        obj.out.append(Transmit(data=b"x", dest=("127.0.0.1", 5060)))

    assert pump(obj, 0.0, sent.append, deliver) == 5.0
    assert got == [_Ping(n=1), _Ping(n=2)]
    assert len(sent) == 2
