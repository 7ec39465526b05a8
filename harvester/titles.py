r"""Titles as a reader sees them: NFC, white space collapsed, invisible and control characters removed.

The title given is the text a reader sees: the HTML parser has already decoded the markup's
entities, once, as a browser does. Nothing is decoded again: a title shown as
``Fish &amp; Chips`` (``&amp;amp;`` in the markup) stays ``Fish &amp; Chips``, and none of
the archive's real titles is escaped twice (``../shared/data``). Letters, case and
punctuation stay as the archive has them: curly quotes, brackets and non-ASCII letters are
part of a title.

>>> normalize_title("Minutes, Mao\u2019s Conversation ,  Beijing, [undated] ")
'Minutes, Mao’s Conversation , Beijing, [undated]'
>>> normalize_title("Fish &amp; Chips")
'Fish &amp; Chips'
>>> normalize_title("\u2063\u3164\U000e0041 \u200d") is None
True
"""

from __future__ import annotations

import re
import unicodedata

# Characters that a reader never sees (Unicode's Default_Ignorable_Code_Point): soft hyphen,
# combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer inherent vowels,
# Mongolian variation selectors and vowel separator, zero-width space, bidi marks,
# embeddings and isolates, word joiner and invisible operators, variation selectors, BOM,
# shorthand format controls, musical format controls, tag characters. ZWNJ and ZWJ
# (U+200C/U+200D) are left to _EDGE_JOINERS: inside a word they change how Persian, Arabic,
# Indic names and emoji are written.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    # C0/C1 control characters other than the white space that the collapse below handles.
    "\x00-\x08\x0e-\x1f\x7f-\x9f]"
)
# ZWNJ and ZWJ that join nothing: at either end of a word.
_EDGE_JOINERS = re.compile(r"(?<!\S)[\u200c\u200d]+|[\u200c\u200d]+(?!\S)")


def normalize_title(raw: str | None) -> str | None:
    r"""Return the title to publish, or ``None`` when nothing visible is left.

    >>> normalize_title("Report from Etre Sa\u0301ndor") == "Report from Etre S\u00e1ndor"
    True
    """
    if raw is None:
        return None
    text = _INVISIBLE.sub("", raw)
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if "\u200c" in text or "\u200d" in text:
        text = " ".join(_EDGE_JOINERS.sub("", text).split())
    return text or None
