"""SIPp (a real, independent SIP implementation) against our Endpoint on a real UDP socket."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import require_program

from ._sipp import run_sipp, start_endpoint

pytestmark = pytest.mark.interop


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def scenario(scenario: str, calls: int, rate: int, invite_code: int = 486, extra: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    sipp = require_program("sipp")
    udp, tu = await start_endpoint(invite_code)
    try:
        result = await run_sipp(
            sipp, udp.local_address, scenario=scenario, calls=calls, rate=rate, extra=extra
        )
        await asyncio.sleep(0.2)  # let the last ACKs/retransmissions arrive
    finally:
        await udp.close()
    return result, tu


def test_options_answered_200() -> None:
    result, tu = run(scenario("options_uac.xml", calls=200, rate=100))
    assert (result.returncode, result.successful, result.failed) == (0, 200, 0), result.stdout
    assert tu.requests == {"OPTIONS": 200}  # each transaction reached the TU once
    assert tu.timeouts == 0 and tu.stray_acks == 0 and tu.other == []


def test_invite_rejected_486_and_ack_absorbed() -> None:
    result, tu = run(scenario("invite_486_uac.xml", calls=200, rate=100))
    assert (result.returncode, result.successful, result.failed) == (0, 200, 0), result.stdout
    # The ACKs for the 486 matched the server INVITE transactions (same branch) and were
    # absorbed there: none reached the TU, and no Timer H fired.
    assert tu.requests == {"INVITE": 200}
    assert tu.stray_acks == 0 and tu.timeouts == 0
    stats = tu.endpoint.stats
    assert stats.requests == 400  # 200 INVITEs + 200 ACKs


def test_retransmissions_into_lossy_replies_are_absorbed() -> None:
    # SIPp drops 25% of our 200s and retransmits OPTIONS (from 200 ms, capped at T2 = 1 s):
    # our server transactions answer the copies from Completed; the TU sees each request
    # once. 12 retransmissions make a call whose every 200 is lost (0.25**13) practically
    # impossible; with SIPp's default of 7 at 40% loss about one run in ten failed.
    result, tu = run(
        scenario(
            "options_uac_lossy.xml", calls=150, rate=75,
            extra=("-max_non_invite_retrans", "12", "-T2", "1000"),
        )
    )
    assert (result.returncode, result.successful, result.failed) == (0, 150, 0), result.stdout
    assert tu.requests == {"OPTIONS": 150}
    stats = tu.endpoint.stats
    assert result.retransmissions > 20
    assert stats.retransmissions_absorbed == stats.requests - 150 > 20
