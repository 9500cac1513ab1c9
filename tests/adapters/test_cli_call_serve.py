"""``rvoip serve`` and ``rvoip call`` on 127.0.0.1: the server runs as a process with a JSON
accounts file, bob is a Phone registered there playing a 1000 Hz tone, alice is ``rvoip call``
(another process) registering, calling bob through the B2BUA, playing 440 Hz and sending DTMF.
What each side heard is measured (frequency, level), the digits bob received are checked, and
the server's log is read for the registration and call lines."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rvoip_sansio.adapters.asyncio import Phone
from rvoip_sansio.adapters.cli import serve
from rvoip_sansio.adapters.cli._common import free_ports, measure
from rvoip_sansio.adapters.cli.main import main
from rvoip_sansio.callmedia import AudioFlags, AudioFrame
from rvoip_sansio.media import ToneSource, read_wav_bytes
from rvoip_sansio.phone import DtmfReceived
from rvoip_sansio.sip.auth import Credentials

LO = "127.0.0.1"
ACCOUNTS = {"realm": "test.example", "users": {"alice": "alice-pw", "bob": "bob-pw"}}
RVOIP = [sys.executable, "-m", "rvoip_sansio.adapters.cli.main"]


class Server:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port, self.log = proc, port, ""

    def stop(self) -> str:
        """SIGTERM (as Ctrl-C would); the server hangs up, exits 0; returns its log."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                _, err = self.proc.communicate(timeout=10)
            finally:
                self.proc.kill()
            self.log += err
            assert self.proc.returncode == 0 and "Traceback" not in self.log, self.log
        return self.log


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS))
    port = free_ports(1)[0]
    proc = subprocess.Popen([*RVOIP, "serve", "--listen", f"{LO}:{port}", "--accounts", str(accounts)],
                            stderr=subprocess.PIPE, text=True)
    srv = Server(proc, port)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline() + proc.stderr.readline()
        assert "2 users" in first and "test.example" in first and "Ctrl-C to stop" in first
        yield srv
    finally:
        srv.stop()


def _frames(pcm: np.ndarray) -> list[AudioFrame]:
    return [AudioFrame(samples=pcm[i:i + 320], rate=16000, index=i, time=0.0, rtp_timestamp=0,
                       flags=AudioFlags(0)) for i in range(0, len(pcm) - 319, 320)]


@pytest.mark.timeout(30)
def test_call_through_serve_records_the_far_tone(server: Server, tmp_path: Path) -> None:
    recorded = tmp_path / "heard.wav"

    async def scenario() -> tuple[int, str, list[AudioFrame], str]:
        bob = await Phone.open("bob", (LO, free_ports(1)[0]), auto_answer=True)
        try:
            await bob.register(f"sip:{LO}:{server.port}", Credentials(username="bob", password="bob-pw"))
            proc = await asyncio.create_subprocess_exec(
                *RVOIP, "call", f"sip:bob@{LO}:{server.port}", "--from", "alice", "--password", "alice-pw",
                "--registrar", f"{LO}:{server.port}", "--record", str(recorded), "--duration", "2.5",
                "--dtmf", "1#", stderr=asyncio.subprocess.PIPE)
            b = await bob.accept(10)
            await b.wait_answered(5)
            b.audio.write_nowait(ToneSource(freqs=(1000.0,), rate=16000, level_dbm0=-10.0).read(16000 * 4))
            heard = [frame async for frame in b.audio.frames()]  # until alice hangs up
            _, err = await asyncio.wait_for(proc.communicate(), 10)
            digits = "".join([ev.digit async for ev in b.events() if isinstance(ev, DtmfReceived)])
            assert proc.returncode is not None
            return proc.returncode, err.decode(), heard, digits
        finally:
            await bob.close()

    rc, err, bob_heard, digits = asyncio.run(scenario())
    assert rc == 0, err
    assert "registered alice" in err and "answered: codec G722, SRTP" in err and "hung up" in err
    assert len(re.findall(r"alice hears G722 .* MOS [34]\.\d\d", err)) >= 2  # live quality lines
    assert digits == "1#"  # RFC 4733 events, decoded by bob's RTP session
    # What alice recorded: bob's 1000 Hz tone at -10 dBm0 (leading/trailing silence trimmed).
    pcm, rate, channels = read_wav_bytes(recorded.read_bytes())
    assert rate == 16000 and channels == 1
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 1000)
    freq, level, n = measure(_frames(pcm[loud[0]:loud[-1]]), rate)
    assert abs(freq - 1000) <= 5 and abs(level + 10) <= 2 and n >= 1.2 * rate
    # What bob heard: alice's default 440 Hz tone (DTMF replaced it briefly).
    freq, level, n = measure(bob_heard, 16000)
    assert abs(freq - 440) <= 5 and abs(level + 10) <= 3 and n >= 1.2 * 16000
    # The server's log: registrations and the call, by Call-ID, start / answered / ended.
    call_id = re.search(r"Call-ID (\S+)", err)
    assert call_id is not None
    log = server.stop()
    lines = [ln for ln in log.splitlines() if f"call {call_id[1]}:" in ln]
    assert "sip:alice@" in lines[0] and "sip:bob@" in lines[0]
    assert any("answered" in ln for ln in lines) and "ended" in lines[-1]
    assert re.search(r"REGISTER sip:alice@\S+ from \S+: registered", log)
    assert re.search(r"REGISTER sip:bob@\S+ from \S+: unregistered", log)


@pytest.mark.timeout(20)
def test_call_with_a_wrong_password_exits_1(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", f"sip:bob@{LO}:{server.port}", "--from", "alice", "--password", "wrong",
                 "--registrar", f"{LO}:{server.port}", "--duration", "1"]) == 1
    assert "FAIL: registration failed (status 401)" in capsys.readouterr().err


@pytest.mark.timeout(20)
def test_call_to_an_unregistered_user_exits_1(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", f"sip:carol@{LO}:{server.port}", "--duration", "1", "--no-srtp"]) == 1
    assert "failed: rejected (404)" in capsys.readouterr().err


@pytest.mark.parametrize("command, option", [("serve", "--accounts"), ("call", "--dtmf")])
def test_help(command: str, option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and option in capsys.readouterr().out


def test_accounts_from_toml_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "a.toml"
    good.write_text('realm = "pbx.example"\n[users]\ncarol = "c-pw"\n')
    assert serve.load_accounts(str(good)) == ({"carol": "c-pw"}, "pbx.example")
    assert serve.load_accounts(None)[0] == {u: serve.DEFAULT_PASSWORD for u in ("alice", "bob", "carol")}
    for name, text in (("b.json", "{"), ("c.json", '{"users": {}}'), ("d.toml", "users = 3")):
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError):
            serve.load_accounts(str(tmp_path / name))


async def _call_bob_then(server: Server, act: str) -> tuple[int, str, str]:
    """Bob (a Phone) registered; ``rvoip call`` for 20 s as alice; once bob's call is up,
    ``act``: "sigint-call" interrupts the caller, "sigterm-server" stops the server."""
    bob = await Phone.open("bob", (LO, free_ports(1)[0]), auto_answer=True)
    try:
        await bob.register(f"sip:{LO}:{server.port}", Credentials(username="bob", password="bob-pw"))
        proc = await asyncio.create_subprocess_exec(
            *RVOIP, "call", f"sip:bob@{LO}:{server.port}", "--from", "alice", "--password", "alice-pw",
            "--registrar", f"{LO}:{server.port}", "--duration", "20", stderr=asyncio.subprocess.PIPE)
        b = await bob.accept(10)
        await b.wait_answered(5)
        await asyncio.sleep(0.5)
        if act == "sigint-call":
            proc.send_signal(signal.SIGINT)
        else:
            await asyncio.get_running_loop().run_in_executor(None, server.stop)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert await b.wait_ended(5)
        assert proc.returncode is not None and b.end is not None
        return proc.returncode, err.decode(), b.end.reason.value
    finally:
        await bob.close()


@pytest.mark.timeout(30)
def test_ctrl_c_on_call_hangs_up_and_exits_130(server: Server) -> None:
    rc, err, bob_saw = asyncio.run(_call_bob_then(server, "sigint-call"))
    assert rc == 130 and "interrupted" in err and "Traceback" not in err
    assert bob_saw == "remote hangup"  # the BYE went out before the caller exited


@pytest.mark.timeout(30)
def test_stopping_serve_ends_the_calls_through_it(server: Server) -> None:
    rc, err, bob_saw = asyncio.run(_call_bob_then(server, "sigterm-server"))
    assert bob_saw == "remote hangup" and rc == 0 and "the far end hung up" in err
    assert "stopping: hanging up 2 call legs" in server.log


@pytest.mark.timeout(20)
def test_call_not_answered_in_time_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # takes the INVITE, never answers
        silent.bind((LO, 0))
        port = silent.getsockname()[1]
        assert main(["call", f"sip:bob@{LO}:{port}", "--duration", "1", "--timeout", "0.5"]) == 1
        assert silent.recv(65535).startswith(b"INVITE sip:bob@")
    assert "no answer within 0.5 s" in capsys.readouterr().err
