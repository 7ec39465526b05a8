"""Title rules: real titles pass unchanged; white space and invisibles are cleaned; nothing is
decoded twice. Every expected value is written out, never computed by the steps under test."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from harvester.titles import normalize_title
from tests.shared import DATA_DIR, require_shared


def real_titles() -> list[str]:
    seed: dict[str, Any] = json.loads(
        require_shared(DATA_DIR / "seed-search.json").read_text(encoding="utf-8")
    )
    records: list[dict[str, Any]] = json.loads(
        require_shared(DATA_DIR / "real-records.json").read_text(encoding="utf-8")
    )
    return [r["title"] for r in seed["results"]] + [r["title"] for r in records if r.get("title")]


def test_real_titles_pass_unchanged() -> None:
    titles = real_titles()
    assert len(titles) > 50
    for title in titles:
        # The real titles are already clean: the rule must not touch them.
        assert normalize_title(title) == title


def test_no_real_title_is_escaped_twice() -> None:
    # Why normalize_title decodes nothing: no real title shows an entity (it would if the
    # archive escaped titles twice), so a title that shows one means it.
    for title in real_titles():
        assert not re.search(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+\d*);?", title, re.IGNORECASE), title


def test_nfc_is_applied_to_a_real_title_with_a_decomposed_accent() -> None:
    decomposed = "Report from Etre Sa\u0301ndor"  # "a" + COMBINING ACUTE ACCENT, as some markup has it
    composed = "Report from Etre S\u00e1ndor"  # the real title's "á" (U+00E1)
    assert decomposed != composed
    assert normalize_title(decomposed) == composed
    assert normalize_title("Pe\u0301rez\u200b Ca\u0301rdenas") == "P\u00e9rez C\u00e1rdenas"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Real titles with quotes, brackets and non-ASCII letters (seed and fixture pages).
        (
            "Information on the Attitude of the Korean Workers\u2019 Party to Some Decisions of the 22nd CPSU "
            "[Communist Party of the Soviet Union] Congress",
            "Information on the Attitude of the Korean Workers\u2019 Party to Some Decisions of the 22nd CPSU "
            "[Communist Party of the Soviet Union] Congress",
        ),
        (
            "\u2018Abd al-Mun\u2018im Shumays, 'Ghana: A Liberated African State' (Excerpts)",
            "\u2018Abd al-Mun\u2018im Shumays, 'Ghana: A Liberated African State' (Excerpts)",
        ),
        # What a reader sees is kept: the parser decoded the markup's entities once already.
        ("Fish &amp; Chips", "Fish &amp; Chips"),
        ("&lt;b&gt;", "&lt;b&gt;"),
        ("&para 3 &copy 1962 &not final", "&para 3 &copy 1962 &not final"),
        ("Cable, &#039;Sending the Plan&#039;", "Cable, &#039;Sending the Plan&#039;"),
        ("Fish & Chips <b>", "Fish & Chips <b>"),
        # White space.
        ("  Telegram\n from  A. Mikoyan\t", "Telegram from A. Mikoyan"),
        ("Telegram\u00a0from\u2003A.\u3000Mikoyan", "Telegram from A. Mikoyan"),
        # Invisible and control characters.
        ("Telegram \u200bfrom\u2060 A.\ufeff Mikoyan", "Telegram from A. Mikoyan"),
        ("Report\x00 from\x07 Etre\x9b S\u00e1ndor", "Report from Etre S\u00e1ndor"),
        ("Letter\u200e from\u202e Nehru\u2066", "Letter from Nehru"),
        (
            "\u0631\u0633\u0627\u0644\u0629\u061c \u0645\u0646",
            "\u0631\u0633\u0627\u0644\u0629 \u0645\u0646",
        ),  # ALM
        ("Memo\U000e0001\U000e0041\U000e007f to Mao", "Memo to Mao"),  # tag characters
        ("Soft\u00adhyphen and\u2063 invisible\u2064 operators", "Softhyphen and invisible operators"),
        ("Hangul \u3164filler\uffa0s\u115f\u1160", "Hangul fillers"),
        ("Mongolian\u180e vowel separator", "Mongolian vowel separator"),
        ("Variation\ufe0f selectors\U000e0100", "Variation selectors"),
    ],
)
def test_normalize_title(raw: str, expected: str) -> None:
    assert normalize_title(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # ZWNJ is part of the Persian spelling of "I want"; ZWJ joins an emoji family.
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        ),
        (
            "Family \U0001f468\u200d\U0001f469\u200d\U0001f467",
            "Family \U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
        # Joining nothing, at the ends of a word, they go.
        ("\u200dTelegram\u200c from \u200d Mikoyan\u200d", "Telegram from Mikoyan"),
    ],
)
def test_joiners_are_kept_inside_words_only(raw: str, expected: str) -> None:
    assert normalize_title(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "\u200b",
        "\x00",
        "\u2063",
        "\u2064\u2062",
        "\u3164",
        "\u115f\u1160",
        "\uffa0 \u3164",
        "\u061c",
        "\u180e",
        "\U000e0001\U000e0074\U000e0065\U000e0073\U000e0074\U000e007f",  # a tag-character sequence
        "\ufe0f\ufe00 \U000e01ef",
        "\u200d",
        "\u200c \u200d",
        "\u00ad\u034f\u17b4",
        "\u00a0\u200b\u2028\u3000",
    ],
)
def test_nothing_visible_is_none(raw: str | None) -> None:
    assert normalize_title(raw) is None


@pytest.mark.parametrize(
    "raw",
    ["Fish &amp;amp; Chips", " a\u0301\u200b b ", "\u200d x \u200c", "Report from Etre Sa\u0301ndor"],
)
def test_normalizing_twice_changes_nothing(raw: str) -> None:
    once = normalize_title(raw)
    assert normalize_title(once) == once
