"""``rvoip serve`` as a process for tests: UDP and TCP on one free port, TLS on another,
WS on a third; stderr goes to a file the test reads (no pipe to fill up)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from rvoip_sansio.adapters.cli._common import free_ports

LO = "127.0.0.1"
RVOIP = [sys.executable, "-m", "rvoip_sansio.adapters.cli.main"]


class Server:
    """Started with ``accounts`` (the JSON table) and ``extra`` options; ``stop()`` sends
    SIGTERM, checks the exit status 0 and no traceback, and returns the log."""

    def __init__(self, tmp: Path, accounts: Mapping[str, object], *extra: str) -> None:
        (tmp / "accounts.json").write_text(json.dumps(accounts))
        self.udp, self.tls, self.ws = free_ports(3)
        self.ports = {"UDP": self.udp, "TCP": self.udp, "TLS": self.tls, "WS": self.ws}
        self.log_path = tmp / "serve.log"
        self._log = open(self.log_path, "w")
        args = [*RVOIP, "serve", "--listen", f"{LO}:{self.udp}", "--accounts", str(tmp / "accounts.json"),
                "--tcp", "--ws", f"{LO}:{self.ws}", *extra]
        if "--tls" in args:  # on the third free port
            args.insert(args.index("--tls") + 1, f"{LO}:{self.tls}")
        self.proc = subprocess.Popen(args, stderr=self._log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while "Ctrl-C to stop" not in self.log():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, *texts: str, timeout: float = 5.0) -> str:
        """The log once every one of ``texts`` is in it (the server logs on its own time)."""
        deadline = time.monotonic() + timeout
        while not all(t in (log := self.log()) for t in texts):
            assert time.monotonic() < deadline, (texts, log)
            time.sleep(0.05)
        return log

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            finally:
                self.proc.kill()
        self._log.close()
        text = self.log()
        assert self.proc.returncode == 0 and "Traceback" not in text, text
        return text
