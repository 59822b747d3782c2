"""Follow-ups: only questions that lean on the conversation are rewritten, and 'he/it' resolve to the right thing."""
from __future__ import annotations

import pytest

import qa
from qa.followup import Turn, context_article, needs_context, rewrite


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


ARTICLE = ("The port reopened on Monday. Seven decades after it was built, the harbour needed work, said Jane Roe. "
           "According to Roe, the work took two years. Now the ships are back, and Roe is the port's director.")


@pytest.mark.parametrize("sentence, wanted, not_wanted", [
    ("Seven decades later, Roe runs the port.", "Roe", "Seven"),  # a sentence's first word, not a name
    ("According to Roe, the work took two years.", "Roe", "According"),
    ("Now the ships are back, says Jane Roe, the port's director.", "Jane Roe", "Now"),
    ("Roe runs the port. Ships are back.", "Roe", "Ships"),  # a name the article writes mid-sentence stays
])
def test_a_sentences_first_word_is_taken_for_a_name_only_when_the_article_writes_it_so(sentence, wanted, not_wanted):
    query = rewrite("What did she say?", [Turn("Who runs the port?", sentence, "port", ARTICLE)])
    assert wanted in query and not_wanted not in query.split()


def test_a_name_phrases_small_words_are_not_searched_for():
    turn = Turn("Who is the director?", "Jane Roe is the Director of Ports.", "port", ARTICLE + " Director of Ports")
    assert " of " not in rewrite("What did she say?", [turn])


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


def test_only_a_question_that_needs_the_context_is_about_the_previous_answers_article():
    turns = [Turn("Who runs the port?", "Jane Doe runs the port.", "port-article")]
    assert context_article("What did she say about the strike?", turns) == "port-article"
    assert context_article("And the airport?", turns) == "port-article"
    assert context_article("sanctions", turns) is None  # standalone: may be about any article
    assert context_article("What did she say?", []) is None
    assert context_article("What did she say?", [Turn("Who runs the port?")]) is None  # that turn gave no answer


def test_search_within_one_article_ranks_all_its_passages_and_keeps_the_filters(tiny_index):
    from qa.embed import encode_query_tokens
    from qa.retrieve import check_filters, get_index, search

    index = get_index(tiny_index)
    doc = index.chunks[0].doc_id
    question = "What does the authority plan to do about it?"
    vec, states, ids = encode_query_tokens(question)
    hits = search(index, question, vec, len(index.chunks), qtok=(states, ids), within=doc)
    own = [i for i, c in enumerate(index.chunks) if c.doc_id == doc]
    assert hits and {index.chunks[h.row].doc_id for h in hits} == {doc}
    # every passage of the article was ranked: together the hits cover its passages' text
    covered = {i for i in own for h in hits if h.start <= index.chunks[i].start and index.chunks[i].end <= h.end}
    assert len(covered) >= len(own) - 1  # a passage reduced to text not shown yet may be dropped
    # a date filter that lets another article through but not this one: nothing of this article is ranked
    own_day = index.articles[doc].published
    day = next(a.published for a in index.articles.values() if a.published and a.published != own_day)
    only_other = check_filters(index, since=day, until=day)
    assert search(index, question, vec, 5, only_other, (states, ids), within=doc) == []
    assert search(index, question, vec, 5, only_other, (states, ids))  # the filter itself lets passages through


def test_a_follow_up_ranks_the_previous_answers_article_by_the_question_as_typed(tiny_index):
    import qa.answer as A

    first = qa.ask("Why are water levels in Lake Balkhash falling?", index_dir=tiny_index)
    question = "What does the authority plan to do about it?"
    calls = []
    real = A.search

    def spy(*args, **kwargs):
        calls.append((args[1], kwargs.get("within")))
        return real(*args, **kwargs)

    A.search = spy
    try:
        follow = qa.ask(question, history=[first], index_dir=tiny_index)
    finally:
        A.search = real
    assert (follow.query, None) in calls  # the whole corpus, for the question with the earlier turn's words
    assert (question, first.passage.doc_id) in calls  # the previous answer's article, for the question as typed
    alone = qa.ask("fishermen catches", history=[first], index_dir=tiny_index)
    assert alone.query == "fishermen catches"


def test_history_of_the_wrong_type_is_a_clear_error(tiny_index):
    with pytest.raises(ValueError, match="earlier questions"):
        qa.ask("Why?", history=[42], index_dir=tiny_index)
