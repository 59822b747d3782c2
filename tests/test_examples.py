"""Example questions made from the indexed articles themselves, and the index's date range."""
from __future__ import annotations

import re

import pytest

import qa


def test_examples_come_from_the_indexed_articles(tiny_index):
    questions = qa.example_questions(3, index_dir=tiny_index)
    assert questions, "a small real corpus gives at least one answerable example"
    text = " ".join(a.text for a in qa.index_info(index_dir=tiny_index).articles)
    for q in questions:
        name = re.sub(r"^(Who is |What do the articles say about )|\?$", "", q)
        assert name != q and name in text, q
        assert qa.ask(q, index_dir=tiny_index).outcome == qa.ANSWERED
    with pytest.raises(ValueError, match="positive integer"):
        qa.example_questions(0, index_dir=tiny_index)


def test_index_info_gives_the_articles_date_range_and_build_time(tiny_index):
    info = qa.index_info(index_dir=tiny_index)
    dated = [a.published for a in info.articles if a.published]
    assert dated and (info.first_published, info.last_published) == (min(dated), max(dated))
    assert info.built is not None and info.built.tzinfo is not None
