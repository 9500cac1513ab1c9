"""The ``rvoip`` command: subcommands register themselves in :data:`SUBCOMMANDS`."""

from __future__ import annotations

import os

# numpy's BLAS (the resamplers' small matrix products) must not spin worker threads: with
# several calls per process they cost 2-3x the CPU of the work itself. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib
import sys
from typing import Callable, Sequence

# name -> (module under rvoip_sansio.adapters.cli, one-line help). Each module defines
# ``add_arguments(parser)`` and ``run(args) -> int``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "parse": ("parse", "parse one SIP message and print its structure as JSON"),
    "answer": ("answer", "a user agent that answers every call (hangs up when the caller does)"),
    "b2bua": ("b2bua", "bridge every incoming call to another address (a B2BUA)"),
    "demo": ("demo", "a real call on loopback: registrar/B2BUA, two phones, SRTP, tones both ways"),
    "serve": ("serve", "a registrar + B2BUA (small PBX): accounts from JSON/TOML, one log line per event"),
    "call": ("call", "place one call: register, play a WAV or tone, record, DTMF, hang up after --duration"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rvoip", description="rvoip-sansio command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(f"{__package__}.{module_name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        add: Callable[[argparse.ArgumentParser], None] = module.add_arguments
        add(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args._run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
