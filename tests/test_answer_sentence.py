"""The answer sentence: how candidates are scored (qa.answer._candidates), and the fit of its weights
(bench/tune.py)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import qa
from qa import answer as A
from qa.retrieve import get_index
from qa.settings import Settings
from qa.types import ANSWERED

from .conftest import bench_module

# The answer to "who pays" is the second sentence, which never names the tram line: the first one does.
TRAM = """Riverside council backs new tram line

By Ana Writer, May 4, 2023

The Riverside council voted on Monday to build a tram line from the central station to the university campus.

It will cost 40 million euros and take three years to finish, the council's finance office said.

Local shop owners said they feared years of roadworks on the high street.

Students welcomed the plan, saying buses to the campus were often full at peak times.

The council will hold a public meeting about the route next month.
"""
FIRST, SECOND = "The Riverside council voted", "It will cost 40 million euros"


def one_article_index(tmp_path_factory, name: str, text: str):
    """A real index of a folder holding one article, `text` as <name>.txt."""
    folder = tmp_path_factory.mktemp(name)
    (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp(f"{name}-index")
    qa.build(folder, out)
    return out


@pytest.fixture(scope="module")
def tram_index(tmp_path_factory):
    return one_article_index(tmp_path_factory, "tram", TRAM)


def candidates(index_dir, question: str, settings: Settings):
    """The candidate answer sentences qa.ask chose from, by their text."""
    index = get_index(index_dir)
    cands = A._ask(question, index_dir=index_dir, settings=settings)[2]
    return {index.articles[c.doc_id].text[c.start : c.end]: c for c in cands}


def test_context_is_the_match_gained_from_the_sentence_before(tram_index):
    got = candidates(tram_index, "What will the tram line to the university campus cost?", Settings.fitted())
    first = next(c for text, c in got.items() if text.startswith(FIRST))
    second = next(c for text, c in got.items() if text.startswith(SECOND))
    assert len(got) == 5  # every sentence once, though the spans of the hits overlap
    assert first.context == first.maxsim  # the article's first sentence has none before it
    # "tram line", "university" and "campus" are matched only in the sentence before
    assert second.context > second.maxsim + 0.1
    assert all(c.context >= c.maxsim for c in got.values())


@pytest.mark.parametrize("cosine, context", [(0.25, 0.0), (0.227, 0.705), (0.0, 1.0)])
def test_candidate_score_is_maxsim_plus_the_weighted_cosine_and_context(tram_index, cosine, context):
    s = replace(Settings.fitted(), sentence_cosine_weight=cosine, sentence_context_weight=context)
    for c in candidates(tram_index, "Who is paying for the university tram line?", s).values():
        assert c.score == pytest.approx(c.maxsim + cosine * c.cosine + context * (c.context - c.maxsim))


def test_the_context_weight_lets_the_sentence_after_the_restated_question_answer(tram_index):
    question = "Who is paying for the university tram line?"
    without = qa.ask(question, index_dir=tram_index, settings=replace(Settings.fitted(), sentence_context_weight=0.0))
    with_context = qa.ask(question, index_dir=tram_index,
                          settings=replace(Settings.fitted(), sentence_context_weight=0.705))
    assert without.sentence.startswith(FIRST)
    assert with_context.sentence.startswith(SECOND)
    assert with_context.passage.text.find(with_context.sentence) >= 0


def test_the_sentence_scorer_fit_recovers_the_weights_that_chose_the_answers():
    tune = bench_module("tune")
    rng = np.random.default_rng(7)
    truth = np.array([1.0, 0.3, 0.7])
    groups = []
    for _ in range(300):
        X = rng.normal(size=(8, 3))
        p = np.exp(3 * X @ truth)
        y = np.zeros(8, bool)
        y[rng.choice(8, p=p / p.sum())] = True
        groups.append((X, y))
    cosine, context, scale = tune.fit_sentence_scorer(groups)
    assert cosine == pytest.approx(0.3, abs=0.12)
    assert context == pytest.approx(0.7, abs=0.15)
    assert scale == pytest.approx(3.0, abs=0.6)  # the softmax's own scale: scores become the chance of each
    assert tune.top1(groups, cosine, context) > tune.top1(groups, 0.0, 0.0)


@pytest.mark.parametrize("scale", [10.637, 1.0])
def test_share_is_the_chosen_sentences_chance_among_the_candidates(tram_index, scale):
    s = replace(Settings.fitted(), sentence_scale=scale)
    ans, ev, cands = A._ask("What will the tram line to the university campus cost?", index_dir=tram_index,
                            settings=s, all_evidence=True)
    scores = np.array([c.score for c in cands])
    assert ev["sentence_score"] == scores.max()
    assert ev["share"] == pytest.approx(1 / np.exp(scale * (scores - scores.max())).sum())
    assert 1 / len(cands) <= ev["share"] <= 1.0


def test_the_answer_threshold_refuses_the_share_of_near_misses_asked_for():
    tune = bench_module("tune")
    from qa.settings import Abstention

    a = Abstention(features=("cosine",), weights=(1.0,), bias=0.0, answer_threshold=0.5, unsure_threshold=0.2)
    row = lambda kind, sub, x: dict(kind=kind, subkind=sub, ev={"cosine": x}, right=False)  # noqa: E731
    # sigmoid(x): near-misses at 0.45..0.73, off-topic at most 0.55, answerable spread out
    near = [row("unanswerable", "on_topic", x) for x in np.linspace(-0.2, 1.0, 10)]
    rows = near + [row("unanswerable", "off_topic", 0.2)] + [row("answerable", None, x) for x in np.linspace(-2, 3, 20)]
    got = tune.choose_thresholds(rows, a)
    p = np.array([a.probability(r["ev"]) for r in near])
    assert np.mean(p < got.answer_threshold) >= 0.70
    assert np.mean(p < got.answer_threshold - 0.02) < 0.70  # no higher than it needs to be
    assert got.answer_threshold > a.probability({"cosine": 0.2})  # no off-topic question answered
    loose = tune.choose_thresholds(rows, a, on_topic_refused=0.0)
    assert loose.answer_threshold == pytest.approx(0.56, abs=0.005)  # the off-topic rule alone


def test_near_miss_separation_measures_how_answerable_questions_stand_above_near_misses():
    tune = bench_module("tune")
    from qa.settings import Abstention

    a = Abstention(features=("cosine",), weights=(1.0,), bias=0.0, answer_threshold=0.5, unsure_threshold=0.2)
    row = lambda kind, sub, x: dict(kind=kind, subkind=sub, ev={"cosine": x}, right=False)  # noqa: E731
    near = [row("unanswerable", "on_topic", x) for x in range(10)]  # 0..9
    off = [row("unanswerable", "off_topic", 100.0)]  # never counted: off-topic is not a near-miss
    apart = tune.near_miss_separation(near + off + [row("answerable", None, x) for x in range(20, 30)], a)
    assert apart == {"AUC": 1.0, "answered at the cut": 1.0}
    # answerable questions scored like the near-misses: chance, and only those above the 7th near-miss are answered
    alike = tune.near_miss_separation(near + off + [row("answerable", None, x) for x in range(10)], a)
    assert alike["AUC"] == pytest.approx(0.5)
    assert alike["answered at the cut"] == pytest.approx(0.3)  # 7, 8, 9 of 0..9 stand above the cut at 6


@pytest.mark.parametrize("question",
                         ["What is the population of Almaty?", "How old is Tokayev?", "Who is Samat Abish?"])
def test_asking_for_fewer_passages_does_not_change_the_answer(question):
    """The chat shows 3 passages, the API 5: the answer, its sentence and its confidence are the same (a passage
    ranked 4th or 5th that overlaps a top one is merged into it either way)."""
    got = [qa.ask(question, k=k) for k in (3, 4, 5)]
    seen = {(a.outcome, a.sentence, round(a.confidence, 9)) for a in got}
    assert len(seen) == 1, [(a.outcome, a.confidence) for a in got]
    assert [p.text for p in got[0].passages] == [p.text for p in got[2].passages[:3]]


@pytest.mark.parametrize("question", ["asdf qwerty zxcv", "a" * 500, "Zorblatt frimble?"])
def test_a_question_none_of_whose_words_the_articles_hold_is_not_found(question):
    ans = qa.ask(question)
    assert (ans.outcome, ans.reason, ans.sentence, ans.confidence) == (qa.NOT_FOUND, qa.NO_MATCH, None, 0.0)
    assert ans.passages  # the closest passages are still shown, as for any question not found


def test_one_word_the_articles_hold_is_enough_to_be_judged_on_the_evidence():
    """A question with an unknown word (a typo, a name spelt otherwise) and a known one is answered as usual."""
    ans = qa.ask("Who replaced Smailov as prime minster xyzzyq?")
    assert ans.outcome != qa.NOT_FOUND or ans.reason != qa.NO_MATCH or ans.confidence > 0.0


@pytest.mark.parametrize("question", ["Who is Arman Shuraev?", "Nazarbayev age"])
def test_how_many_passages_are_asked_for_changes_neither_the_answer_nor_its_confidence(question):
    """The answer comes from the second passage here: asked for one passage, that passage is the one returned."""
    full = qa.ask(question, k=5)
    assert full.passage is not None and full.passage != full.passages[0]
    for k in (1, 2, 3):
        ans = qa.ask(question, k=k)
        assert (ans.outcome, ans.sentence, ans.confidence) == (full.outcome, full.sentence, full.confidence)
        assert len(ans.passages) == k and ans.passage in ans.passages


def test_the_cli_says_which_passage_the_answer_is_from(capsys):
    from qa.cli import main

    ans = qa.ask("Nazarbayev age", k=3)
    n = ans.passages.index(ans.passage) + 1
    assert n > 1  # not the first: the marker is needed
    assert main(["ask", "Nazarbayev age", "-k", "3"]) == 0
    assert f", from [{n}]" in capsys.readouterr().out.splitlines()[0]


# A story with sub-headings: each heading is a sentence of its own that holds the keyword question's every word.
HEADED = """Riverside council backs new tram line

By Ana Writer, May 4, 2023

The Riverside council voted on Monday to build a tram line from the central station to the university campus.

Tram fares

A single ride will cost two euros, and students will pay half.

Roadworks

Local shop owners said they feared years of roadworks on the high street.
"""


@pytest.fixture(scope="module")
def headed_index(tmp_path_factory):
    return one_article_index(tmp_path_factory, "headed", HEADED)


@pytest.mark.parametrize("question, sentence", [
    ("tram fares", "A single ride will cost two euros, and students will pay half."),
    ("Tram fares?", "A single ride will cost two euros, and students will pay half."),
    ("roadworks", "Local shop owners said they feared years of roadworks on the high street."),
])
def test_a_sentence_that_only_repeats_the_question_is_no_answer(headed_index, question, sentence):
    """A keyword question matched its sub-heading best, and the heading ("Tram fares") was given as the answer, as
    sure as a right one (0.84); a sentence whose every keyword is the question's says nothing it does not."""
    got = candidates(headed_index, question, Settings.fitted())
    assert not any(text.casefold().rstrip("?") == question.casefold().rstrip("?") for text in got)
    assert sentence in got
    assert qa.ask(question, index_dir=headed_index).sentence == sentence


QUOTED = "A single ride will cost two euros, and students will pay half."
SHOPS = "Local shop owners said they feared years of roadworks on the high street."


@pytest.mark.parametrize("question, sentence", [
    (QUOTED, QUOTED),
    ("single ride cost two euros students pay half", QUOTED),
    (f"Where does it say that {QUOTED[0].lower()}{QUOTED[1:-1]}?", QUOTED),
    (SHOPS, SHOPS),
])
def test_a_question_that_quotes_a_sentence_gets_that_sentence(headed_index, question, sentence):
    """Every keyword of a full sentence the question quotes is the question's, but, unlike a heading that repeats
    it, the sentence is what the user is looking for (it was "not in the articles", or the "Roadworks" heading)."""
    ans = qa.ask(question, index_dir=headed_index)
    assert ans.sentence == sentence
    assert ans.outcome == ANSWERED


@pytest.mark.parametrize("sentence, asked, nothing_new", [
    ("Tram fares", {"tram", "fare"}, True),  # a heading
    ("Tram fares:", {"tram", "fare"}, True),
    ("It is.", {"tram"}, True),  # no keyword at all
    ("Tram fares.", {"tram", "fare"}, False),  # a full sentence the question quotes
    ('"Tram fares!"', {"tram", "fare"}, False),
    ("Tram fares rise", {"tram", "fare"}, False),  # a word the question lacks
])
def test_what_says_nothing_new(sentence, asked, nothing_new):
    assert A._says_nothing_new(sentence, asked) is nothing_new
