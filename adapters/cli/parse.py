"""``rvoip parse [FILE]``: parse one SIP message and print its structure as JSON.

Reads FILE (or stdin when FILE is omitted or ``-``). Exit status 0 with the JSON on stdout, or
1 with ``error at offset N: reason`` on stderr when the message (or one of its typed headers)
does not parse; ``--validate`` also applies the RFC 3261 semantic checks.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any

from rvoip_sansio import ParseError
from rvoip_sansio.sip import (
    NameAddr,
    Request,
    Response,
    SipUri,
    TelUri,
    Uri,
    Via,
    parse_message,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default="-",
                        help="file holding one SIP message (default: stdin)")
    parser.add_argument("--validate", action="store_true",
                        help="also check RFC 3261 semantics (mandatory headers, CSeq method...)")
    parser.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")


def _uri(uri: Uri) -> dict[str, Any]:
    out: dict[str, Any] = {"text": str(uri)}
    if isinstance(uri, SipUri):
        out.update(scheme=uri.scheme, user=uri.user, password=uri.password, host=uri.host,
                   port=uri.port, params=uri.params, headers=uri.headers)
    elif isinstance(uri, TelUri):
        out.update(scheme="tel", number=uri.number, is_global=uri.is_global, params=uri.params)
    else:
        out.update(scheme=uri.scheme, rest=uri.rest)
    return out


def _name_addr(value: NameAddr) -> dict[str, Any]:
    return {"display_name": value.display_name, "uri": _uri(value.uri), "tag": value.tag,
            "params": value.params}


def _via(via: Via) -> dict[str, Any]:
    return {"protocol": via.protocol, "transport": via.transport, "host": via.host,
            "port": via.port, "branch": via.branch, "received": via.received,
            "rport": via.rport if via.rport is not None else via.has_rport or None,
            "params": via.params}


def describe(msg: Request | Response) -> dict[str, Any]:
    """The JSON-able structure of a message; typed headers raise ParseError when broken."""
    out: dict[str, Any] = {}
    if isinstance(msg, Request):
        out["type"] = "request"
        out["start_line"] = {"method": msg.method, "uri": _uri(msg.uri),
                             "version": msg.version}
    else:
        out["type"] = "response"
        out["start_line"] = {"version": msg.version, "status_code": msg.status_code,
                             "reason": msg.reason}
    out["headers"] = [{"name": name, "value": value} for name, value in msg.headers]
    out["via"] = [_via(v) for v in msg.via]
    out["cseq"] = ({"number": msg.cseq.number, "method": msg.cseq.method}
                   if "cseq" in msg else None)
    out["call_id"] = msg.call_id if "call-id" in msg else None
    out["from"] = _name_addr(msg.from_) if "from" in msg else None
    out["to"] = _name_addr(msg.to) if "to" in msg else None
    out["contact"] = "*" if msg.contact_star else [_name_addr(c) for c in msg.contact]
    out["route"] = [_name_addr(r) for r in msg.route]
    out["record_route"] = [_name_addr(r) for r in msg.record_route]
    out["max_forwards"] = msg.max_forwards
    out["content_type"] = msg.content_type
    out["content_length"] = msg.content_length
    body = msg.body
    try:
        out["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(body).decode("ascii")
    out["body_length"] = len(body)
    return out


def run(args: argparse.Namespace) -> int:
    try:
        if args.file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as f:
                data = f.read()
    except OSError as exc:
        print(f"rvoip parse: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        msg = parse_message(data)
        structure = describe(msg)
        if args.validate:
            msg.validate()
    except ParseError as exc:
        print(f"error at offset {exc.offset}: {exc.reason}", file=sys.stderr)
        return 1
    json.dump(structure, sys.stdout, indent=args.indent or None, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
