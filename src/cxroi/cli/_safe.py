"""Make strings from customer data safe for a terminal.

Control characters (ANSI escapes such as ``\\x1b[2J``, OSC-8 hyperlinks, bare CR, BEL) are
shown as visible ``\\xNN`` escapes instead of being sent to the terminal. Rich markup is never
interpreted: every cell and title is passed to Rich as a plain :class:`rich.text.Text`.
"""

from __future__ import annotations

import re

__all__ = ["plain"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_NL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def plain(text: object, *, newlines: bool = False) -> str:
    """``text`` with every control character escaped (``\\n`` kept when ``newlines``).

    >>> plain("a\\x1b[2Jb")
    'a\\\\x1b[2Jb'
    """
    s = str(text)
    if newlines:
        return _CONTROL_NL.sub(_escape, s)
    return _CONTROL.sub(_escape, s.replace("\n", "\\n").replace("\t", " "))
