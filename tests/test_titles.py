"""Title rules: real titles pass unchanged; entities, white space and invisibles are cleaned."""

from __future__ import annotations

import unicodedata

import pytest

from harvester.titles import normalize_title
from tests.conftest import shared_data


def test_real_titles_keep_letters_case_and_punctuation() -> None:
    seed = shared_data("seed-search.json")
    records = shared_data("real-records.json")
    titles = [r["title"] for r in seed["results"]] + [r["title"] for r in records if r.get("title")]
    assert len(titles) > 50
    for title in titles:
        # The real titles are already clean: the rule must not touch them.
        assert normalize_title(title) == unicodedata.normalize("NFC", " ".join(title.split()))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Real titles with quotes, brackets and non-ASCII letters (seed and fixture pages).
        ("Information on the Attitude of the Korean Workers’ Party to Some Decisions of the 22nd CPSU "
         "[Communist Party of the Soviet Union] Congress",
         "Information on the Attitude of the Korean Workers’ Party to Some Decisions of the 22nd CPSU "
         "[Communist Party of the Soviet Union] Congress"),
        ("‘Abd al-Mun‘im Shumays, 'Ghana: A Liberated African State' (Excerpts)",
         "‘Abd al-Mun‘im Shumays, 'Ghana: A Liberated African State' (Excerpts)"),
        # Invented untidiness, each one a thing markup can carry.
        ("Cable from the Chinese Foreign Ministry, &#039;Sending the Plan&#039;",
         "Cable from the Chinese Foreign Ministry, 'Sending the Plan'"),
        ("Chun &amp;amp; Jane", "Chun & Jane"),  # escaped twice
        ("  Telegram\n from  A. Mikoyan\t", "Telegram from A. Mikoyan"),
        ("Telegram\u00a0from A. Mikoyan", "Telegram from A. Mikoyan"),
        ("Telegram \u200bfrom\u2060 A.\ufeff Mikoyan", "Telegram from A. Mikoyan"),
        ("Report\x00 from\x07 Etre Sándor", "Report from Etre Sándor"),
        ("Report from Etre Sa\u0301ndor", "Report from Etre Sándor"),  # NFD -> NFC
        ("Letter\u200e from Nehru", "Letter from Nehru"),
    ],
)
def test_normalize_title(raw: str, expected: str) -> None:
    assert normalize_title(raw) == expected


def test_joiners_that_spell_words_are_kept() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ is part of the spelling
    assert normalize_title(persian) == persian


@pytest.mark.parametrize("raw", [None, "", "   ", "\u200b", "\x00"])
def test_nothing_visible_is_none(raw: str | None) -> None:
    assert normalize_title(raw) is None
