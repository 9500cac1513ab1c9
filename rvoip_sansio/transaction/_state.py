"""The four RFC 3261 §17 transaction state machines, as data.

Everything that decides *what happens* to a transaction lives in this module: the states,
the inputs, the actions and one transition table per machine, with the RFC 6026 corrections
(the Accepted state and Timers L and M). The classes in :mod:`._transaction` only execute
what these tables say.

A transition names the actions to run and the state to enter. Entering a *different* state
cancels every running timer not listed for it in ``STATE_TIMERS`` and arms the timers listed
in ``ENTRY_TIMERS``; a self-transition keeps the timers (a retransmission timer that fired
re-arms itself with the ``BACKOFF`` action).
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

__all__ = [
    "Kind",
    "State",
    "Input",
    "Action",
    "TimerName",
    "Transition",
    "TABLES",
    "ENTRY_TIMERS",
    "STATE_TIMERS",
    "INITIAL_STATE",
    "TIMER_INPUT",
]


# Members are singletons compared by identity, so the identity hash is consistent with
# equality; it is C-level, where Enum's own __hash__ is Python code run on every table lookup.
_identity_hash = object.__hash__


class Kind(enum.Enum):
    """Which of the four machines."""

    __hash__ = _identity_hash

    CLIENT_INVITE = "client INVITE"  # RFC 3261 §17.1.1, RFC 6026 §7.2
    CLIENT_NON_INVITE = "client non-INVITE"  # RFC 3261 §17.1.2
    SERVER_INVITE = "server INVITE"  # RFC 3261 §17.2.1, RFC 6026 §7.1
    SERVER_NON_INVITE = "server non-INVITE"  # RFC 3261 §17.2.2


class State(enum.Enum):
    """Transaction states (RFC 3261 §17, RFC 6026 Accepted)."""

    __hash__ = _identity_hash

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"  # RFC 6026
    TERMINATED = "Terminated"


class TimerName(enum.Enum):
    """RFC 3261 Table 4 timers, plus RFC 6026's L and M and the 200 ms 100-Trying timer."""

    __hash__ = _identity_hash

    A = "A"  # INVITE request retransmit (client, unreliable only)
    B = "B"  # INVITE transaction timeout (client)
    D = "D"  # wait time for response retransmits (client INVITE, Completed)
    E = "E"  # non-INVITE request retransmit (client, unreliable only)
    F = "F"  # non-INVITE transaction timeout (client)
    G = "G"  # INVITE final response retransmit (server, unreliable only)
    H = "H"  # wait time for ACK receipt (server INVITE)
    I = "I"  # noqa: E741 - RFC name; wait time for ACK retransmits (server INVITE, Confirmed)
    J = "J"  # wait time for non-INVITE request retransmits (server)
    K = "K"  # wait time for response retransmits (client non-INVITE)
    L = "L"  # RFC 6026: wait time for accepted INVITE request retransmits (server)
    M = "M"  # RFC 6026: wait time for retransmission of 2xx to INVITE (client)
    TRYING = "100"  # RFC 3261 §17.2.1: send 100 Trying if the TU has not answered in 200 ms


class Input(enum.Enum):
    """What can happen to a transaction."""

    __hash__ = _identity_hash

    # From the network.
    PROVISIONAL = "1xx received"
    SUCCESS = "2xx received"
    FAILURE = "300-699 received"
    REQUEST = "request retransmission received"
    ACK = "ACK received"
    # From the transaction user.
    TU_PROVISIONAL = "1xx from TU"
    TU_SUCCESS = "2xx from TU"
    TU_FAILURE = "300-699 from TU"
    # From the transport.
    TRANSPORT_ERROR = "transport error"
    # Timers.
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TIMER_TRYING = "200 ms without a TU response"


TIMER_INPUT: Final[dict[TimerName, Input]] = {
    TimerName.A: Input.TIMER_A,
    TimerName.B: Input.TIMER_B,
    TimerName.D: Input.TIMER_D,
    TimerName.E: Input.TIMER_E,
    TimerName.F: Input.TIMER_F,
    TimerName.G: Input.TIMER_G,
    TimerName.H: Input.TIMER_H,
    TimerName.I: Input.TIMER_I,
    TimerName.J: Input.TIMER_J,
    TimerName.K: Input.TIMER_K,
    TimerName.L: Input.TIMER_L,
    TimerName.M: Input.TIMER_M,
    TimerName.TRYING: Input.TIMER_TRYING,
}


class Action(enum.Enum):
    """Side effects a transition asks for, run in the order listed."""

    __hash__ = _identity_hash

    SEND = "send the TU's response"  # server: also remembered for retransmission
    RETRANSMIT = "retransmit the last message sent"
    BACKOFF = "re-arm the retransmission timer that fired"  # A doubles; E and G cap at T2
    SEND_ACK = "build and send the ACK for a non-2xx final response"  # §17.1.1.3
    SEND_TRYING = "send 100 Trying"  # §17.2.1
    STOP_TRYING = "cancel the 200 ms 100-Trying timer"  # the TU answered in time
    PASS_UP = "pass the message to the TU"
    REPORT_TIMEOUT = "tell the TU the transaction timed out"
    REPORT_TRANSPORT_ERROR = "tell the TU the transport failed"


Transition: TypeAlias = tuple[tuple[Action, ...], State]

_S = State
_I = Input
_A = Action
_NONE: tuple[Action, ...] = ()

# RFC 3261 §17.1.1.2 (Figure 5) as corrected by RFC 6026 §7.2 (Figure 3).
_CLIENT_INVITE: dict[tuple[State, Input], Transition] = {
    (_S.CALLING, _I.TIMER_A): ((_A.RETRANSMIT, _A.BACKOFF), _S.CALLING),
    (_S.CALLING, _I.TIMER_B): ((_A.REPORT_TIMEOUT,), _S.TERMINATED),
    (_S.CALLING, _I.PROVISIONAL): ((_A.PASS_UP,), _S.PROCEEDING),
    (_S.CALLING, _I.SUCCESS): ((_A.PASS_UP,), _S.ACCEPTED),
    (_S.CALLING, _I.FAILURE): ((_A.SEND_ACK, _A.PASS_UP), _S.COMPLETED),
    (_S.CALLING, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    (_S.PROCEEDING, _I.PROVISIONAL): ((_A.PASS_UP,), _S.PROCEEDING),
    (_S.PROCEEDING, _I.SUCCESS): ((_A.PASS_UP,), _S.ACCEPTED),
    (_S.PROCEEDING, _I.FAILURE): ((_A.SEND_ACK, _A.PASS_UP), _S.COMPLETED),
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    # Completed: response retransmissions are answered with the ACK again, not passed up.
    (_S.COMPLETED, _I.FAILURE): ((_A.SEND_ACK,), _S.COMPLETED),
    (_S.COMPLETED, _I.PROVISIONAL): (_NONE, _S.COMPLETED),
    (_S.COMPLETED, _I.SUCCESS): (_NONE, _S.COMPLETED),
    (_S.COMPLETED, _I.TIMER_D): (_NONE, _S.TERMINATED),
    (_S.COMPLETED, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    # RFC 6026 Accepted: every 2xx (forks, retransmissions) goes to the TU, which ACKs it.
    (_S.ACCEPTED, _I.SUCCESS): ((_A.PASS_UP,), _S.ACCEPTED),
    (_S.ACCEPTED, _I.PROVISIONAL): (_NONE, _S.ACCEPTED),
    (_S.ACCEPTED, _I.FAILURE): (_NONE, _S.ACCEPTED),
    (_S.ACCEPTED, _I.TIMER_M): (_NONE, _S.TERMINATED),
}

# RFC 3261 §17.1.2.2 (Figure 6).
_CLIENT_NON_INVITE: dict[tuple[State, Input], Transition] = {
    (_S.TRYING, _I.TIMER_E): ((_A.RETRANSMIT, _A.BACKOFF), _S.TRYING),
    (_S.TRYING, _I.TIMER_F): ((_A.REPORT_TIMEOUT,), _S.TERMINATED),
    (_S.TRYING, _I.PROVISIONAL): ((_A.PASS_UP,), _S.PROCEEDING),
    (_S.TRYING, _I.SUCCESS): ((_A.PASS_UP,), _S.COMPLETED),
    (_S.TRYING, _I.FAILURE): ((_A.PASS_UP,), _S.COMPLETED),
    (_S.TRYING, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    (_S.PROCEEDING, _I.TIMER_E): ((_A.RETRANSMIT, _A.BACKOFF), _S.PROCEEDING),
    (_S.PROCEEDING, _I.TIMER_F): ((_A.REPORT_TIMEOUT,), _S.TERMINATED),
    (_S.PROCEEDING, _I.PROVISIONAL): ((_A.PASS_UP,), _S.PROCEEDING),
    (_S.PROCEEDING, _I.SUCCESS): ((_A.PASS_UP,), _S.COMPLETED),
    (_S.PROCEEDING, _I.FAILURE): ((_A.PASS_UP,), _S.COMPLETED),
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    # Completed buffers (absorbs) response retransmissions until Timer K.
    (_S.COMPLETED, _I.PROVISIONAL): (_NONE, _S.COMPLETED),
    (_S.COMPLETED, _I.SUCCESS): (_NONE, _S.COMPLETED),
    (_S.COMPLETED, _I.FAILURE): (_NONE, _S.COMPLETED),
    (_S.COMPLETED, _I.TIMER_K): (_NONE, _S.TERMINATED),
}

# RFC 3261 §17.2.1 (Figure 7) as corrected by RFC 6026 §7.1 (Figure 5).
_SERVER_INVITE: dict[tuple[State, Input], Transition] = {
    (_S.PROCEEDING, _I.TIMER_TRYING): ((_A.SEND_TRYING,), _S.PROCEEDING),
    # A retransmitted INVITE gets the most recent provisional response again (100 Trying
    # at once if nothing was sent yet: the client is evidently waiting).
    (_S.PROCEEDING, _I.REQUEST): ((_A.RETRANSMIT,), _S.PROCEEDING),
    (_S.PROCEEDING, _I.TU_PROVISIONAL): ((_A.STOP_TRYING, _A.SEND), _S.PROCEEDING),
    (_S.PROCEEDING, _I.TU_SUCCESS): ((_A.SEND,), _S.ACCEPTED),
    (_S.PROCEEDING, _I.TU_FAILURE): ((_A.SEND,), _S.COMPLETED),
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    (_S.COMPLETED, _I.REQUEST): ((_A.RETRANSMIT,), _S.COMPLETED),
    (_S.COMPLETED, _I.TIMER_G): ((_A.RETRANSMIT, _A.BACKOFF), _S.COMPLETED),
    (_S.COMPLETED, _I.TIMER_H): ((_A.REPORT_TIMEOUT,), _S.TERMINATED),
    (_S.COMPLETED, _I.ACK): (_NONE, _S.CONFIRMED),
    (_S.COMPLETED, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    (_S.CONFIRMED, _I.ACK): (_NONE, _S.CONFIRMED),
    (_S.CONFIRMED, _I.REQUEST): (_NONE, _S.CONFIRMED),
    (_S.CONFIRMED, _I.TIMER_I): (_NONE, _S.TERMINATED),
    # RFC 6026 Accepted: INVITE retransmissions are absorbed, the TU's 2xx retransmissions
    # are sent, an ACK that matches is passed up, Timer L ends it.
    (_S.ACCEPTED, _I.REQUEST): (_NONE, _S.ACCEPTED),
    (_S.ACCEPTED, _I.TU_SUCCESS): ((_A.SEND,), _S.ACCEPTED),
    (_S.ACCEPTED, _I.ACK): ((_A.PASS_UP,), _S.ACCEPTED),
    (_S.ACCEPTED, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.ACCEPTED),
    (_S.ACCEPTED, _I.TIMER_L): (_NONE, _S.TERMINATED),
}

# RFC 3261 §17.2.2 (Figure 8).
_SERVER_NON_INVITE: dict[tuple[State, Input], Transition] = {
    (_S.TRYING, _I.REQUEST): (_NONE, _S.TRYING),
    (_S.TRYING, _I.TU_PROVISIONAL): ((_A.SEND,), _S.PROCEEDING),
    (_S.TRYING, _I.TU_SUCCESS): ((_A.SEND,), _S.COMPLETED),
    (_S.TRYING, _I.TU_FAILURE): ((_A.SEND,), _S.COMPLETED),
    (_S.PROCEEDING, _I.REQUEST): ((_A.RETRANSMIT,), _S.PROCEEDING),
    (_S.PROCEEDING, _I.TU_PROVISIONAL): ((_A.SEND,), _S.PROCEEDING),
    (_S.PROCEEDING, _I.TU_SUCCESS): ((_A.SEND,), _S.COMPLETED),
    (_S.PROCEEDING, _I.TU_FAILURE): ((_A.SEND,), _S.COMPLETED),
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
    (_S.COMPLETED, _I.REQUEST): ((_A.RETRANSMIT,), _S.COMPLETED),
    (_S.COMPLETED, _I.TIMER_J): (_NONE, _S.TERMINATED),
    (_S.COMPLETED, _I.TRANSPORT_ERROR): ((_A.REPORT_TRANSPORT_ERROR,), _S.TERMINATED),
}

TABLES: Final[dict[Kind, dict[tuple[State, Input], Transition]]] = {
    Kind.CLIENT_INVITE: _CLIENT_INVITE,
    Kind.CLIENT_NON_INVITE: _CLIENT_NON_INVITE,
    Kind.SERVER_INVITE: _SERVER_INVITE,
    Kind.SERVER_NON_INVITE: _SERVER_NON_INVITE,
}

INITIAL_STATE: Final[dict[Kind, State]] = {
    Kind.CLIENT_INVITE: State.CALLING,
    Kind.CLIENT_NON_INVITE: State.TRYING,
    Kind.SERVER_INVITE: State.PROCEEDING,
    Kind.SERVER_NON_INVITE: State.TRYING,
}

# Timers armed on entering a state. Retransmission timers (A, E, G) are armed only on
# unreliable transports (§17.1.1.2, §17.1.2.2, §17.2.1); the wait timers D, I, J, K are zero
# on reliable transports; B, F, H, L, M are 64*T1 on both.
ENTRY_TIMERS: Final[dict[tuple[Kind, State], tuple[TimerName, ...]]] = {
    (Kind.CLIENT_INVITE, State.CALLING): (TimerName.A, TimerName.B),
    (Kind.CLIENT_INVITE, State.COMPLETED): (TimerName.D,),
    (Kind.CLIENT_INVITE, State.ACCEPTED): (TimerName.M,),
    (Kind.CLIENT_NON_INVITE, State.TRYING): (TimerName.E, TimerName.F),
    (Kind.CLIENT_NON_INVITE, State.COMPLETED): (TimerName.K,),
    (Kind.SERVER_INVITE, State.PROCEEDING): (TimerName.TRYING,),
    (Kind.SERVER_INVITE, State.COMPLETED): (TimerName.G, TimerName.H),
    (Kind.SERVER_INVITE, State.CONFIRMED): (TimerName.I,),
    (Kind.SERVER_INVITE, State.ACCEPTED): (TimerName.L,),
    (Kind.SERVER_NON_INVITE, State.COMPLETED): (TimerName.J,),
}

# Timers that keep running when the state is entered from another one (all others stop).
# Only the client non-INVITE machine carries timers across a state change: E and F keep
# running in Proceeding (§17.1.2.2), E then fires every T2.
STATE_TIMERS: Final[dict[tuple[Kind, State], frozenset[TimerName]]] = {
    (Kind.CLIENT_NON_INVITE, State.PROCEEDING): frozenset({TimerName.E, TimerName.F}),
}
