"""Titles: decoded, NFC, white space collapsed, invisible and control characters removed.

Letters, case and punctuation stay as the archive has them: curly quotes, brackets and
non-ASCII letters are part of a title.

>>> normalize_title("Minutes, Mao\u2019s Conversation ,  Beijing, [undated] ")
'Minutes, Mao’s Conversation , Beijing, [undated]'
>>> normalize_title("Cable from the Chinese Foreign Ministry, &#039;Sending the Plan&#039;")
"Cable from the Chinese Foreign Ministry, 'Sending the Plan'"
"""

from __future__ import annotations

import html
import re
import unicodedata

# Invisible format characters that carry no letter: zero-width space, word joiner, BOM,
# soft hyphen, bidi marks and embeddings. ZWJ/ZWNJ (U+200C/U+200D) are kept: they change
# how Persian, Arabic and Indic names are written.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
        "\u2066\u2067\u2068\u2069\u180e",
    )
)
# C0/C1 control characters other than the white space that the collapse below handles.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")


def normalize_title(raw: str | None) -> str | None:
    """Return the title to publish, or ``None`` when nothing visible is left."""
    if raw is None:
        return None
    text = raw
    # Drupal sometimes escapes a title twice; decode until stable (at most a few rounds).
    for _ in range(3):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_INVISIBLE)
    text = _CONTROL.sub("", text)
    text = _SPACE.sub(" ", text).strip()
    return text or None
