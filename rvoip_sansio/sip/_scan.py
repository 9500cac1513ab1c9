"""Regexes over a whole header section (RFC 3261 §7.3.1, §7.5, §25.1).

The parser's fast path checks the start line and the shape of every header line, frames the
body and finds the first Via, CSeq, Call-ID, From and To lines with one regex match (their
usual value shapes are split into groups on the way); the message then finds any other header
with one regex search over the header section instead of splitting it into lines.

Each pattern here accepts a strict subset of what the general code in ``_parser`` and
``_headers`` accepts, with the same result; anything else takes that general path (which
also says what is wrong), so the subset only has to be right, not complete.

Header names are matched ASCII-case-insensitively right after a CRLF. In a section that
passed :data:`REQUEST_RE` / :data:`RESPONSE_RE` every CRLF starts a header line (folded lines
take the general path), so a search finds exactly the header lines wanted, in order, compact
forms included.
"""

from __future__ import annotations

import re

from ._headers import COMPACT_FORMS, NAME_ADDR_BODY, VIA_BODY

__all__ = ["REQUEST_RE", "RESPONSE_RE", "lookup_re", "G_VIA_SEEN", "G_VIA", "G_VIA_OK",
           "G_CSEQ_SEEN", "G_CSEQ", "G_CSEQ_OK", "G_CALL_ID", "G_FROM_SEEN", "G_FROM",
           "G_FROM_OK", "G_TO_SEEN", "G_TO", "G_TO_OK", "G_CL_DUP", "G_CL", "G_CL_BAD"]

_T = r"[A-Za-z0-9\-.!%*_+`'~]"  # token character
_COMPACT_OF = {full: compact for compact, full in COMPACT_FORMS.items()}


def _name(key: str) -> str:
    """The header name ``key`` (lower-case full name) or its compact form, any case, then
    optional SP/HT and the colon."""
    compact = _COMPACT_OF.get(key)
    return "(?i:" + re.escape(key) + ("|" + compact if compact else "") + r")[ \t]*+:"


_REST = r"[^\r]*+"  # the rest of a line (no CR: a bare CR fails the match; see no_bare_lf)

# One alternative per header the fast path reads. Each accepts every line of its header:
# ``(?(seen) rest-of-line | (seen) value-groups rest-of-line)``, so the value groups come from
# the FIRST such line. The seen group is numbered before it is defined, which the regex syntax
# allows; the numbers are filled in by _build below.
#
# The value groups are only meaningful when the empty "ok" group that ends them is set: the
# regex engine does not always clear the groups of an alternative that failed (when groups
# with higher numbers were set earlier in the match), so a half-matched value may leave some.
_HOT = {
    "via": r"(?({seen})" + _REST + r"|()[ \t]*+(?:" + VIA_BODY + r"[ \t]*+(?=[\r,])()|)"
           + _REST + ")",
    "cseq": r"(?({seen})" + _REST + r"|()(?:[ \t]*+([0-9]{1,10}+)[ \t]++(" + _T
            + r"++)[ \t]*+(?=\r)()|)" + _REST + ")",
    "call-id": r"(?({seen})" + _REST + r"|(" + _REST + "))",
    "from": r"(?({seen})" + _REST + r"|()[ \t]*+(?:" + NAME_ADDR_BODY + r"[ \t]*+(?=\r)()|)"
            + _REST + ")",
    "to": r"(?({seen})" + _REST + r"|()[ \t]*+(?:" + NAME_ADDR_BODY + r"[ \t]*+(?=\r)()|)"
          + _REST + ")",
    # Content-Length frames the body: a second one (group dup) or a value that is not 1-10
    # digits (group bad) sends the message to the general path, which reports it.
    "content-length": r"(?({seen})()" + _REST + r"|()(?:[ \t]*+([0-9]{1,10}+)[ \t]*+(?=\r)|()"
                      + _REST + "))",
}


def _build(start: str) -> tuple[re.Pattern[str], dict[str, int]]:
    """The start-line pattern ``start`` followed by the header lines and the empty line;
    returns the pattern and the group number where each hot header's groups begin."""
    number = re.compile(start).groups + 1
    alternatives = []
    first: dict[str, int] = {}
    for key, template in _HOT.items():
        # content-length's "dup" group comes before its seen group; the others start with it.
        seen = number + 1 if key == "content-length" else number
        first[key] = number
        alternatives.append(_name(key) + template.replace("{seen}", str(seen)))
        number += re.compile(template.replace("{seen}", "1") + "()").groups - 1
    # Each line (the start line too) begins by checking that the first LF ahead follows a
    # CR: with values free of CR, that rules out a bare LF in the line (RFC 3261 §7.3.1).
    no_bare_lf = r"(?=.*+(?<=\r)\n)"
    line = (r"\r\n" + no_bare_lf + r"(?:(?=[CcFfIiLlTtVv])(?:" + "|".join(alternatives)
            + r")|" + _T + r"++[ \t]*+:" + _REST + ")")
    pattern = re.compile(no_bare_lf + start + "(?:" + line + r")*+\r\n\r\n", re.ASCII)
    return pattern, first


#: Request-Line (RFC 3261 §7.1) with version SIP/2.0 and a printable-ASCII Request-URI, then
#: the header lines: groups 1 method, 2 Request-URI, then the G_* groups.
REQUEST_RE, _FIRST = _build(r"(" + _T + r"++) ([A-Za-z][A-Za-z0-9+\-.]*+:[!#-;=?-~]*+) "
                            r"SIP/2\.0")
#: Status-Line (RFC 3261 §7.2) with version SIP/2.0: groups 1 code, 2 reason, then G_*.
RESPONSE_RE, _FIRST_RESPONSE = _build(r"SIP/2\.0 ([1-9][0-9][0-9])(?: ([^\r]*+))?")
assert _FIRST == _FIRST_RESPONSE

# Indexes into ``match.groups()`` (0-based, so one less than the group numbers).
G_VIA_SEEN = _FIRST["via"] - 1
G_VIA = G_VIA_SEEN + 1                # the 7 groups of VIA_BODY
G_VIA_OK = G_VIA + 7
G_CSEQ_SEEN = _FIRST["cseq"] - 1
G_CSEQ = G_CSEQ_SEEN + 1              # number, method
G_CSEQ_OK = G_CSEQ + 2
G_CALL_ID = _FIRST["call-id"] - 1     # the raw text after the colon
G_FROM_SEEN = _FIRST["from"] - 1
G_FROM = G_FROM_SEEN + 1              # the 7 groups of NAME_ADDR_BODY
G_FROM_OK = G_FROM + 7
G_TO_SEEN = _FIRST["to"] - 1
G_TO = G_TO_SEEN + 1
G_TO_OK = G_TO + 7
G_CL_DUP = _FIRST["content-length"] - 1
G_CL = G_CL_DUP + 2                   # the digits
G_CL_BAD = G_CL_DUP + 3
assert REQUEST_RE.groups == G_CL_BAD + 1


_LOOKUPS: dict[str, re.Pattern[str]] = {}


def lookup_re(key: str) -> re.Pattern[str]:
    """Pattern finding the lines of header ``key`` (a lower-case full name) in a checked
    header section; group 1 is the raw text after the colon."""
    pattern = _LOOKUPS.get(key)
    if pattern is None:
        pattern = re.compile(r"\r\n" + _name(key) + "(" + _REST + ")", re.ASCII)
        if len(_LOOKUPS) >= 1024:  # keys come from code, but stay bounded anyway
            _LOOKUPS.clear()
        _LOOKUPS[key] = pattern
    return pattern
