"""Identity: the canonical URL, never the title."""

from __future__ import annotations

import pytest

from harvester.identity import canonical_document_url, document_id, is_numeric_document_path
from replica.dataset import slugify
from tests.conftest import shared_data


@pytest.mark.parametrize(
    "variant",
    [
        "https://digitalarchive.wilsoncenter.org/document/50th-anniversary-october-revolution-dprk",
        "https://digitalarchive.wilsoncenter.org/document/50th-anniversary-october-revolution-dprk/",
        "HTTPS://DigitalArchive.WilsonCenter.org/document/50th-anniversary-october-revolution-dprk",
        "https://digitalarchive.wilsoncenter.org:443/document/50th-anniversary-october-revolution-dprk",
        "https://digitalarchive.wilsoncenter.org/document/50th-anniversary-october-revolution-dprk?utm=x#top",
    ],
)
def test_variants_of_one_address_are_one_identity(variant: str) -> None:
    assert canonical_document_url(variant) == (
        "https://digitalarchive.wilsoncenter.org/document/50th-anniversary-october-revolution-dprk"
    )


def test_document_id_and_legacy_addresses() -> None:
    assert document_id("http://127.0.0.1:8000/document/abc-0") == "abc-0"
    assert document_id("http://127.0.0.1:8000/node/92562") is None
    assert is_numeric_document_path("https://digitalarchive.wilsoncenter.org/document/116659")
    assert not is_numeric_document_path("https://digitalarchive.wilsoncenter.org/document/50th-anniversary")


def test_seed_titles_shared_by_two_documents_keep_two_identities() -> None:
    seed = shared_data("seed-search.json")
    mikoyan = [
        r for r in seed["results"] if r["title"] == "Telegram from A. Mikoyan to the CPSU Central Committee"
    ]
    assert [r["date_raw"] for r in mikoyan] == ["September 21, 1956", "September 23, 1956"]


@pytest.mark.parametrize(
    ("title", "slug"),
    [  # Real pairs from the fixtures and real records.
        (
            "50th Anniversary of the October Revolution in the DPRK",
            "50th-anniversary-october-revolution-dprk",
        ),
        (
            "Minutes, Mao’s Conversation with a Yugoslavian Communist Union Delegation, Beijing, [undated]",
            "minutes-maos-conversation-yugoslavian-communist-union-delegation-beijing-undated",
        ),
        (
            "‘Abd al-Mun‘im Shumays, 'Ghana: A Liberated African State' (Excerpts)",
            "abd-al-munim-shumays-ghana-liberated-african-state-excerpts",
        ),
        (
            "Additional Instructions Regarding the Sino-American Ambassadorial Talks at Geneva",
            "additional-instructions-regarding-sino-american-ambassadorial-talks-geneva",
        ),
        (
            "A.I. Mikoyan, Memorandum of Conversation with Robert Kennedy",
            "ai-mikoyan-memorandum-conversation-robert-kennedy",
        ),
        (
            "Account of a Meeting at the CPSU CC, on the Situation in Poland and Hungary",
            "account-meeting-cpsu-cc-situation-poland-and-hungary",
        ),
    ],
)
def test_replica_slugs_follow_pathauto_like_the_real_site(title: str, slug: str) -> None:
    assert slugify(title) == slug
