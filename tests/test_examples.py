"""Example questions made from the indexed articles themselves, and the index's date range."""
from __future__ import annotations

import re

import pytest

import qa


def test_examples_come_from_the_indexed_articles(tiny_index):
    questions = qa.example_questions(3, index_dir=tiny_index)
    assert questions, "a small real corpus gives at least one example"
    text = " ".join(a.text for a in qa.index_info(index_dir=tiny_index).articles)
    for q in questions:
        name = re.sub(r"^(Who is |What do the articles say about )|\?$", "", q)
        assert name != q and name in text, q
        assert qa.ask(q, index_dir=tiny_index).outcome in (qa.ANSWERED, qa.UNSURE)
    with pytest.raises(ValueError, match="positive integer"):
        qa.example_questions(0, index_dir=tiny_index)


def test_index_info_gives_the_articles_date_range_and_build_time(tiny_index):
    info = qa.index_info(index_dir=tiny_index)
    dated = [a.published for a in info.articles if a.published]
    assert dated and (info.first_published, info.last_published) == (min(dated), max(dated))
    assert info.built is not None and info.built.tzinfo is not None


# A person in every sentence, none of which says who she is: "Who is Mara Quill?" has no sentence that stands out.
EVERYWHERE = """Harbour festival draws crowds

By Ana Writer, June 2, 2024

Mara Quill opened the harbour festival on Saturday morning.

Mara Quill said the festival had grown every year since it began.

Visitors queued to hear Mara Quill speak about the boats on the quay.

Mara Quill thanked the volunteers who built the stages.

Later, Mara Quill said she hoped the festival would return next summer.

Mara Quill walked along the quay with the mayor in the afternoon.
"""


def test_examples_fall_back_to_questions_shown_with_their_closest_sentence(tmp_path):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "festival.txt").write_text(EVERYWHERE, encoding="utf-8")
    qa.build(tmp_path / "seeds", tmp_path / "index")
    question = "Who is Mara Quill?"
    assert qa.ask(question, index_dir=tmp_path / "index").outcome == qa.UNSURE
    assert question in qa.example_questions(3, index_dir=tmp_path / "index")


def test_answered_examples_come_before_unsure_ones(tiny_index):
    outcomes = [qa.ask(q, index_dir=tiny_index).outcome for q in qa.example_questions(5, index_dir=tiny_index)]
    assert set(outcomes) <= {qa.ANSWERED, qa.UNSURE}
    assert outcomes == sorted(outcomes, key=lambda o: o != qa.ANSWERED)
