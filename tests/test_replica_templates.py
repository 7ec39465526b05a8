"""The replica's templates (``replica/templates/``): every file parses, every slot is filled."""

from __future__ import annotations

from importlib import resources

import pytest

from replica.html import page_shell, render_document_page
from replica.template import Template, load
from tests.test_replica_html import make_doc, make_related

TEMPLATES = sorted(
    p.name for p in resources.files("replica").joinpath("templates").iterdir() if p.name.endswith(".html")
)


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_parses(name: str) -> None:
    assert isinstance(load(name), Template)


def test_slots_and_dollars() -> None:
    template = Template("a ${x} b $y $$ c")
    assert template.names == ("x", "y")
    assert template.render(x="1", y="$z") == "a 1 b $z $ c"
    with pytest.raises(KeyError, match="'y'"):
        template.render(x="1")
    with pytest.raises(ValueError, match="not a slot"):
        Template("costs $5")
    assert template.fill(y=Template("<${w}>")).render(x="1", w="2") == "a 1 b <2> $ c"


def test_pages_have_no_unfilled_slot() -> None:
    for page in (
        page_shell(title="t", main_html="m"),
        render_document_page(make_doc(), make_related(2)),
        render_document_page(make_doc(pane="transcript"), []),
        render_document_page(make_doc(pane="original", text=[]), []),
    ):
        assert "${" not in page
