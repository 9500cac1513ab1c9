"""A real RFC 5626 client: baresip 1.0 registers with ``rvoip serve`` over TCP, and over TLS
with no certificate of its own (it trusts the test CA), with SIP Outbound (``sipnat=outbound``,
its ``outbound=`` proxy: ``+sip.instance``, ``reg-id``, and a keep-alive flow), on 127.0.0.1. Our UDP UserAgent (Bob) calls baresip's account through the
B2BUA; baresip answers; Bob hangs up. Checked: serve took baresip's REGISTER as an outbound
binding, the INVITE and the BYE reached baresip over the connection baresip opened (serve
opened none to it), and baresip saw the call answered and then closed by the far end.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from pathlib import Path

import pytest

from rvoip_sansio import Event
from rvoip_sansio.adapters.asyncio import open_sip_transports
from rvoip_sansio.adapters.cli._common import free_ports
from rvoip_sansio.dialog import (CallAnswered, CallEnded, RegistrationChanged, RegistrationState, UAConfig,
                                 UserAgent)
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.sip.auth import Credentials
from tests.adapters.test_asyncio_transports import Pki
from tests.conftest import require_program
from tests.server._serve import Server

pytestmark = pytest.mark.interop

LO = "127.0.0.1"
ACCOUNTS = {"realm": "pbx.test", "users": {"carol": "carol-pw", "bob": "bob-pw"}}
CONFIG = """\
poll_method		poll
sip_listen		{lo}:{port}
audio_source		aufile,{silence}
audio_player		aufile,{record}
audio_alert		aufile,/dev/null
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			uuid.so
module			account.so
module			menu.so
"""
# sipnat=outbound: RFC 5626 through the outbound proxy (serve); regint keeps it registered.
ACCOUNT = ('<sip:carol@{lo}:{pbx};transport={transport}>;auth_pass=carol-pw;regint=120;sipnat=outbound;'
           'outbound="sip:{lo}:{pbx};transport={transport}";answermode=auto;audio_codecs=PCMU/8000/1\n')


def _silence(path: Path) -> None:
    import wave
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 5)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_baresip_outbound_called_through_serve(tmp_path: Path, transport: str) -> None:
    baresip = require_program("baresip")
    extra: list[str] = []
    if transport == "tls":
        pki = Pki(tmp_path)  # serve's certificate; baresip trusts the CA and has none of its own
        extra = ["--tls", "--cert", str(tmp_path / "good.crt"), "--key", str(tmp_path / "good.key")]
    srv = Server(tmp_path, ACCOUNTS, *extra)
    cfg = tmp_path / "baresip"
    cfg.mkdir()
    port = free_ports(1)[0]
    _silence(tmp_path / "silence.wav")
    config = CONFIG.format(lo=LO, port=port, silence=tmp_path / "silence.wav", record=tmp_path / "heard.wav")
    if transport == "tls":
        config += f"sip_cafile\t\t{pki.ca[1]}\n"
    (cfg / "config").write_text(config)
    (cfg / "accounts").write_text(ACCOUNT.format(lo=LO, pbx=srv.ports[transport.upper()], transport=transport))
    log = tmp_path / "baresip.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([baresip, "-4", "-n", LO, "-f", str(cfg), "-t", "20"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        srv.wait_log("REGISTER sip:carol@127.0.0.1", "(outbound: calls go over this connection)",
                     timeout=10.0)
        asyncio.run(asyncio.wait_for(_bob_calls_carol(srv), 20.0))
        deadline = time.monotonic() + 5
        while b"terminated" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = log.read_text(errors="replace")
        assert "Using sipnat: 'outbound'" in text and "Call established" in text, text
        # baresip reports a BYE from the far end as "session closed: Connection reset by peer".
        assert "session closed" in text and "terminated" in text, text
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        served = srv.stop()
    # The call reached baresip over the flow it opened: serve never connected to it.
    assert f"{transport.upper()} connection from" in served, served
    assert f"{transport.upper()} connection to" not in served, served
    assert "answered (leg to <sip:carol" in served, served


async def _bob_calls_carol(srv: Server) -> None:
    local = (LO, free_ports(1)[0])
    media = LocalCapabilities(address=LO, media=(MediaCapabilities(codecs=(PCMU,), port=free_ports(1)[0]),))
    ua = UserAgent(config=UAConfig(local=local, user="bob", media=media,
                                   credentials=(Credentials(username="bob", password="bob-pw"),)),
                   rng=random.Random(7))
    events: list[Event] = []
    t = await open_sip_transports(ua, {"UDP": local}, on_event=lambda ev, now: events.append(ev))

    async def until(kind: type, n: int = 1) -> None:
        while len([e for e in events if isinstance(e, kind)]) < n:
            await asyncio.sleep(0.02)

    try:
        t.call(lambda now: ua.register(f"sip:{LO}:{srv.udp}", now, expires=300))
        await until(RegistrationChanged)
        assert [e.state for e in events if isinstance(e, RegistrationChanged)] == [RegistrationState.REGISTERED]
        calls = []
        t.call(lambda now: calls.append(ua.invite(f"sip:carol@{LO}:{srv.udp}", now)))
        await until(CallAnswered)
        await asyncio.sleep(1.0)  # a second of call
        t.call(lambda now: calls[0].hangup(now))
        await until(CallEnded)
        await asyncio.sleep(0.3)  # the BYE's 200 from baresip, through serve
    finally:
        await t.close()
