"""The gates in front of the e-mail and secret patterns never hide a match.

A gate is a cheap test run on every text; when it says no, the pattern is not run. It must
say no only where the pattern cannot match, including under the patterns' IGNORECASE, which
matches the long s, the dotless and dotted i and the Kelvin sign to ASCII letters.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cxroi.privacy import find_pii
from cxroi.privacy.detect import _EMAIL, _SECRET, _folded, _may_hold_email, _may_hold_secret

# pieces of e-mails, obfuscations and secrets, with the letters IGNORECASE folds
_PIECES = [
    "@", " at ", "\tat\n", " AT ", "(at)", "[at]", "(at]", "[AT)", "(@)", " arobase ",
    " ARROBA ", " chez ", " dot ", " DOT ", "\tpunkt ", " pun\u212at ", " po\u0131nt ",
    " po\u0130nt ", " punto ", "[dot]", "(point)", ".", "jo", "anna.smith", "example", "com",
    "org", "de", "sk_live_", "pk_test_", "ghp_", "gh", "AKIA", "xoxb-", "password",
    "pa\u017f\u017fword", "PASSWORT", "pwd", "mot de passe", "contrase\u00f1a", ": ", "=", " ",
    "hunter2",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCD", "ABCDEFGHIJKLMNOP", "0123456789", "though",
    "high", "passed", "what", "that",
]  # fmt: skip

texts = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.text(alphabet="ao \u017f\u0131K_@.[]():=", max_size=4)),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_a_text_the_gates_turn_away_holds_no_email_and_no_secret(text):
    low = _folded(text)
    if not _may_hold_email(text, low):
        assert _EMAIL.search(text) is None
    if not _may_hold_secret(low):
        assert _SECRET.search(text) is None


def test_the_gates_let_through_what_the_patterns_find_and_turn_away_plain_text():
    # each of these is found only when its gate opens
    assert [s.kind for s in find_pii("write to jo at example dot com")] == ["email"]
    assert [s.kind for s in find_pii("write to jo [at] example [dot] com")] == ["email"]
    assert [s.kind for s in find_pii("my pa\u017f\u017fword: hunter2")] == ["secret"]
    assert [s.kind for s in find_pii("key ghp_" + "a1" * 16)] == ["secret"]
    # ordinary words that the old gates let through ("gh", "pass", " at ") open none now
    for plain in ("Though the high pass was shut, we met at the shop at noon.",
                  "I passed by at five, and it was late."):  # fmt: skip
        low = _folded(plain)
        assert not _may_hold_secret(low)
        assert not _may_hold_email(plain, low)
        assert find_pii(plain) == []
