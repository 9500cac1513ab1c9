"""Building responses from requests (RFC 3261 §8.2.6, §12.1.1)."""

from __future__ import annotations

from collections.abc import Iterable

from rvoip_sansio._core import ParseError

from ._message import HeaderValue, Request, Response

__all__ = ["make_response"]

# Requests whose 101-299 responses create a dialog, so Record-Route is copied (§12.1.1;
# RFC 6665 §4.1.3 for SUBSCRIBE, RFC 3515 for REFER).
_DIALOG_CREATING = frozenset(("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"))


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, HeaderValue]] = (),
    body: bytes = b"",
    copy_record_route: bool | None = None,
) -> Response:
    """A response to ``request`` (RFC 3261 §8.2.6.2).

    Via (every value, in order), From, To, Call-ID and CSeq are copied verbatim. ``to_tag``
    is added to To when the request's To has no tag (a tag already there is kept, §8.2.6.2).
    A 100 copies Timestamp (§8.2.6.1). Record-Route is copied into 101-299 responses to
    dialog-creating requests (§12.1.1) unless ``copy_record_route`` says otherwise.
    ``headers`` and ``body`` are appended; Content-Length is computed on serialization.
    """
    out: list[tuple[str, HeaderValue]] = [("Via", v) for v in request.get_all("via", split=False)]
    from_value = request.get("from")
    if from_value is not None:
        out.append(("From", from_value))
    to_value = request.get("to")
    if to_value is not None:
        if to_tag is not None and status_code != 100 and not _has_tag(request):
            to_value = f"{to_value};tag={to_tag}"
        out.append(("To", to_value))
    for name in ("Call-ID", "CSeq"):
        value = request.get(name)
        if value is not None:
            out.append((name, value))
    if status_code == 100:
        timestamp = request.get("timestamp")
        if timestamp is not None:
            out.append(("Timestamp", timestamp))
    if copy_record_route is None:
        copy_record_route = 100 < status_code < 300 and request.method in _DIALOG_CREATING
    if copy_record_route:
        out.extend(("Record-Route", v) for v in request.get_all("record-route", split=False))
    out.extend(headers)
    return Response(status_code, reason, out, body)


def _has_tag(request: Request) -> bool:
    try:
        return request.to.tag is not None
    except ParseError:
        # A To we cannot read (the reply is probably a 400): do not add a second tag.
        return ";tag=" in (request.get("to") or "").replace(" ", "").lower()
