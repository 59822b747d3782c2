"""Follow-ups: only questions that lean on the conversation are rewritten, and 'he/it' resolve to the right thing."""
from __future__ import annotations

import pytest

import qa
from qa.followup import Turn, needs_context, rewrite


@pytest.mark.parametrize(
    "question, needs",
    [
        ("sanctions", False),  # a standalone keyword search is searched as typed
        ("oil prices asia markets", False),
        ("What is the population of Texas?", False),
        ("Did Apple raise its prices?", False),  # "its" refers to a name in the question itself
        ("Are there any survivors of the crash?", False),  # existential "there"
        ("Why is he being investigated?", True),
        ("When did that happen?", True),
        ("Who else was there?", True),
        ("And in 2019?", True),
        ("what about his eldest daughter?", True),
        ("Why?", True),
        ("How many?", True),
    ],
)
def test_needs_context(question, needs):
    assert needs_context(question) is needs


def test_standalone_question_is_searched_as_typed():
    assert rewrite("sanctions", [Turn("Who became acting prime minister?")]) == "sanctions"
    pasted = "The council approved the new budget on Tuesday after a long debate about the bridge plan."
    assert rewrite(pasted, [Turn("Who is the mayor?")]) == pasted


def test_pronoun_resolved_from_the_earlier_answer_sentence():
    turn = Turn("Who became acting prime minister?", "Deputy Prime Minister Jane Doe was named acting prime minister.")
    assert "Jane Doe" in rewrite("When did he take office?", [turn])


def test_a_new_name_replaces_the_old_one():
    query = rewrite("And in Peru?", [Turn("How many people died in Bolivia?")])
    assert "Bolivia" not in query and "died" in query


def test_ask_accepts_earlier_answers_as_history(tiny_index):
    first = qa.ask("Why are water levels in Lake Balkhash falling?", index_dir=tiny_index)
    follow = qa.ask("What does the authority plan to do about it?", history=[first], index_dir=tiny_index)
    assert follow.rewritten and "Balkhash" in follow.query
    assert "Kapchagay reservoir" in follow.passages[0].text
    alone = qa.ask("fishermen catches", history=[first], index_dir=tiny_index)
    assert alone.query == "fishermen catches"


def test_history_of_the_wrong_type_is_a_clear_error(tiny_index):
    with pytest.raises(ValueError, match="earlier questions"):
        qa.ask("Why?", history=[42], index_dir=tiny_index)
