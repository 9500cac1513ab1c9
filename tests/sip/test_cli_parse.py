"""``rvoip parse``: JSON on stdout for a good message, the ParseError on stderr and exit 1."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rvoip_sansio.adapters.cli.main import main
from tests.conftest import DATA, ROOT


def test_invite_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(DATA / "sip" / "invite_sdp.sip")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["type"] == "request"
    assert out["start_line"]["method"] == "INVITE"
    assert out["start_line"]["uri"]["user"] == "bob"
    assert out["headers"][0] == {"name": "Via", "value": "SIP/2.0/UDP pc33.atlanta.example.com:"
                                 "5060;branch=z9hG4bK776asdhds;rport"}
    assert [h["name"] for h in out["headers"]][-2:] == ["Content-Type", "Content-Length"]
    assert out["via"][0]["branch"] == "z9hG4bK776asdhds" and out["via"][0]["rport"] is True
    assert out["cseq"] == {"number": 314159, "method": "INVITE"}
    assert out["call_id"] == "a84b4c76e66710@pc33.atlanta.example.com"
    assert out["from"]["tag"] == "1928301774" and out["from"]["display_name"] == "Alice Liddell"
    assert out["to"]["tag"] is None
    assert out["contact"][0]["uri"]["params"] == {"transport": "udp"}
    assert out["body"].startswith("v=0\r\n") and out["body_length"] == 262


def test_response_and_binary_body(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(DATA / "rfc4475" / "mpart01.dat")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "body_base64" in out and out["body_length"] == 553
    assert main(["parse", str(DATA / "sip" / "ok_sdp.sip")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["start_line"] == {"version": "SIP/2.0", "status_code": 200, "reason": "OK"}
    assert len(out["record_route"]) == 2


def test_parse_error_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(DATA / "rfc4475" / "lwsstart.dat")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error at offset 0: invalid request line")


def test_typed_header_error_and_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(DATA / "rfc4475" / "badaspec.dat")]) == 1
    assert "inside <>" in capsys.readouterr().err
    assert main(["parse", str(DATA / "rfc4475" / "mismatch01.dat")]) == 0
    capsys.readouterr()
    assert main(["parse", "--validate", str(DATA / "rfc4475" / "mismatch01.dat")]) == 1
    assert "CSeq method INVITE does not match OPTIONS" in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(DATA / "nope.sip")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_stdin_through_the_console_script() -> None:
    data = (DATA / "sip" / "bye.sip").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "rvoip_sansio.adapters.cli.main", "parse"],
                          input=data, capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["cseq"] == {"number": 231, "method": "BYE"}
    bad = subprocess.run([sys.executable, "-m", "rvoip_sansio.adapters.cli.main", "parse", "-"],
                         input=b"INVITE sip:a@b SIP/2.0\r\n", capture_output=True, cwd=ROOT,
                         timeout=60)
    assert bad.returncode == 1 and bad.stdout == b""
    assert b"error at offset" in bad.stderr
