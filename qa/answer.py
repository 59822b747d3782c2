"""Passages -> an answer: follow-up rewriting, the best answering sentence, and "not in the articles"."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, replace
from datetime import date
from itertools import zip_longest
from typing import Sequence

import numpy as np

from . import bm25, config
from .answer_type import expected_type, has_answer_type
from .clean_lines import is_terminal
from .index import LoadedIndex
from .retrieve import (
    Hit,
    check_filters,
    check_k,
    check_question,
    excludes_everything,
    get_index,
    search,
    sentence_rows,
    to_passage,
)
from .followup import Turn, context_article, rewrite
from .settings import Settings
from .types import ANSWERED, FILTERED_OUT, LOW_CONFIDENCE, MISSING_TYPE, NO_MATCH, NOT_FOUND, UNSURE, Answer

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Answer sentence and abstention


@dataclass(frozen=True)
class _Sentence:
    doc_id: str
    start: int
    end: int
    cosine: float
    maxsim: float
    missing: float  # share of the question's weight with no good match inside the sentence
    unmatched: float  # share of the question's content tokens with no good match, unweighted (no corpus IDF)
    score: float
    row: int  # the passage (chunk row) of the hit it was found in
    context: float  # token MaxSim over this sentence and the one before it (= maxsim when there is none)


def _query_tokens(index: LoadedIndex, query: str) -> list[tuple[str, float]]:
    """Stemmed query tokens with their IDF; tokens unknown to the corpus get the highest IDF (they matter most)."""
    toks = list(dict.fromkeys(bm25.terms(query)))
    idfs = [index.keyword.idf(t) for t in toks]
    top = max(idfs, default=1.0) or 1.0
    return [(t, i if i > 0 else top * 1.5) for t, i in zip(toks, idfs)]


@dataclass(frozen=True)
class _Query:
    """Everything about the question that scoring needs, computed once."""

    vec: np.ndarray
    states: np.ndarray  # content tokens only
    weights: np.ndarray  # their IDF, summing to 1
    terms: list[tuple[str, float]]


def _prepare(index: LoadedIndex, query: str, vec: np.ndarray, states: np.ndarray, ids: np.ndarray) -> _Query:
    from .embed import content_token_mask

    keep = content_token_mask()[ids]
    if not keep.any():
        keep = np.ones(len(ids), bool)
    w = index.tokens.idf[ids[keep]] if index.tokens is not None else np.ones(int(keep.sum()), np.float32)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w), np.float32)
    return _Query(vec, states[keep], w, _query_tokens(index, query))


def _token_sims(index: LoadedIndex, q: _Query, row: int) -> np.ndarray:
    return q.states @ index.tokens.passage(row).T


def _candidates(
    index: LoadedIndex, hits: list[Hit], q: _Query, settings: Settings, kind: str | None = None, query: str = ""
) -> list[_Sentence]:
    """Every sentence that may answer, from the top `settings.answer_passages` hits (each sentence once), scored by
    settings: its token MaxSim, a share of its cosine, and a share of how much better the question's tokens are
    matched when the sentence before it is read too (the context weight: an answer often continues the sentence
    that names what the question asks about: "Now, at the show, the Japanese marque unveiled it"). When the question
    asks for a kind of answer (a date, a number...), only sentences holding one qualify. A heading that only repeats
    the question, or a sentence without a keyword, never qualifies (`_says_nothing_new`)."""
    out: list[_Sentence] = []
    seen: set[tuple[str, int]] = set()
    asked = {t for t, _ in q.terms}
    for h in hits[: settings.answer_passages]:
        doc_id = index.chunks[h.row].doc_id
        text = index.articles[doc_id].text
        # the shown span may be the passage merged with a neighbour: look for each sentence's tokens in either
        rows = [r for r in (h.row - 1, h.row, h.row + 1)
                if 0 <= r < len(index.chunks) and index.chunk_docs[r] == index.chunk_docs[h.row]]
        per_chunk = {}
        for r in rows:
            if index.tokens is not None:
                per_chunk[r] = (_token_sims(index, q, r), index.tokens.passage_spans(r))

        bests: dict[int, np.ndarray | None] = {}

        def best_per_token(srow: int) -> np.ndarray | None:
            """Each question token's best match inside sentence row srow, or None without its token vectors."""
            if srow not in bests:
                s, e = int(index.sentences[srow, 1]), int(index.sentences[srow, 2])
                bests[srow] = None
                for r, (sims, offs) in per_chunk.items():
                    c = index.chunks[r]
                    if c.start <= s and e <= c.end:
                        sel = (offs[:, 0] + c.start >= s) & (offs[:, 1] + c.start <= e)
                        bests[srow] = sims[:, sel].max(axis=1) if sel.any() else None
                        break
            return bests[srow]

        number = index.doc_numbers[doc_id]
        for srow in sentence_rows(index, doc_id, h.start, h.end):
            s, e = int(index.sentences[srow, 1]), int(index.sentences[srow, 2])
            if (doc_id, s) in seen or not has_answer_type(text[s:e], kind, query):
                continue
            if _says_nothing_new(text[s:e], asked):
                continue
            seen.add((doc_id, s))
            cos = float(np.asarray(index.sentence_vectors[srow], dtype=np.float32) @ q.vec)
            maxsim, missing = cos, (1.0 if per_chunk else 0.0)  # without token vectors: cosine only
            unmatched, context = missing, cos
            tok_best = best_per_token(srow)
            if tok_best is not None:
                maxsim = context = float(q.weights @ tok_best)
                missing = float(q.weights[tok_best < settings.token_match].sum())
                unmatched = float(np.mean(tok_best < settings.token_match))
                before = best_per_token(srow - 1) if srow > 0 and index.sentences[srow - 1, 0] == number else None
                if before is not None:
                    context = float(q.weights @ np.maximum(tok_best, before))
            score = (maxsim + settings.sentence_cosine_weight * cos
                     + settings.sentence_context_weight * (context - maxsim))
            out.append(_Sentence(doc_id, s, e, cos, maxsim, missing, unmatched, score, h.row, context))
    return out


def _says_nothing_new(sentence: str, asked: set[str]) -> bool:
    """Whether a sentence is no answer whatever it matches: it has no keyword (BM25's stemmed terms: "It is."), or it
    is a heading or label (no full stop) whose every keyword is one of the question's ("Tram fares" for "tram
    fares", "Test" for "test"). A full sentence whose keywords the question all holds stays a candidate: a question
    that quotes the sentence ("A single ride will cost two euros.") is looking for it."""
    terms = set(bm25.terms(sentence))
    if not terms:
        return True
    return terms <= asked and not is_terminal(sentence.rstrip())  # a heading or label has no full stop


def _corpus_sample(index: LoadedIndex) -> np.ndarray:
    """A fixed, evenly spaced sample of the index's passage vectors (at most SAMPLE_PASSAGES): the backdrop against
    which a question's best match is judged, whatever the corpus size or topic."""
    key = id(index)
    hit = _samples.get(key)
    if hit is None or hit[0] is not index:
        live = np.arange(len(index.chunks)) if index.live is None else np.flatnonzero(index.live)
        n = len(live)
        pick = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_PASSAGES)).astype(np.int64)) if n else np.zeros(0, np.int64)
        hit = (index, np.asarray(index.vectors[live[pick]], dtype=np.float32))
        _samples.clear()  # one index at a time is the common case; never grow without bound
        _samples[key] = hit
    return hit[1]


SAMPLE_PASSAGES = 1024
_samples: dict[int, tuple[LoadedIndex, np.ndarray]] = {}


def evidence(
    index: LoadedIndex, hits: list[Hit], sent: _Sentence, q: _Query, kind: str | None, wanted=None, *,
    cands: Sequence[_Sentence], scale: float,
) -> dict[str, float]:
    """What speaks for the answer sentence (the features the confidence may use; `wanted` names those to compute,
    default all):

    cosine, maxsim: how the sentence matches the question (vector cosine, IDF-weighted token MaxSim);
    unmatched: the share of the question's content tokens with no good match in the sentence, and missing: the same
        weighted by the corpus's IDF;
    typed: the question asks for a kind of answer (a date, a number...) and the sentence holds one;
    context: the token MaxSim over the sentence and the one before it;
    share: how the sentence stands out among the candidates `cands` it was chosen from (it is one of them): its
        chance of being the answer under the fitted sentence scorer, a softmax of `scale` x score over them (1.0 for
        the only one);
    passage_score, margin, sentence_score: the holding passage's rank score, how far the best passage leads the
        second, and the sentence's own score (all about 0..1 whatever the corpus);
    standout: how far the best passage's cosine stands above the question's cosine with a sample of the corpus, in
        standard deviations of that sample;
    rare_cover: the share of the question's keyword IDF found in the passage holding the sentence, and
        rarest_found: whether its rarest keyword is there.
    bench/tune.py measured the last three and `missing` to move with the corpus (its size, topic and vocabulary)
    more than with right and wrong answers, so the fitted confidence does not use them.
    """
    holder = next((h for h in hits if h.row == sent.row), hits[0])
    ev = {
        "cosine": sent.cosine,
        "maxsim": sent.maxsim,
        "missing": sent.missing,
        "unmatched": sent.unmatched,
        "typed": float(kind is not None),
        "passage_score": holder.score,
        "margin": hits[0].score - hits[1].score if len(hits) > 1 else 1.0,
        "sentence_score": sent.score,
        "context": sent.context,
        "share": 1.0 / sum(math.exp(scale * (c.score - sent.score)) for c in cands),  # sent is one of them
    }
    if wanted is None or "standout" in wanted:
        sample = _corpus_sample(index)
        backdrop = sample @ q.vec if len(sample) > 1 else np.zeros(2, np.float32)
        mu, sd = float(backdrop.mean()), float(backdrop.std()) or 1.0
        ev["standout"] = (max(h.dense for h in hits) - mu) / sd
    if wanted is None or {"rare_cover", "rarest_found"} & set(wanted):
        c = index.chunks[holder.row]
        found = set(bm25.terms(index.articles[c.doc_id].text[holder.start : holder.end]))
        total = sum(w for _, w in q.terms)
        rarest = max(q.terms, key=lambda tw: tw[1])[0] if q.terms else None
        ev["rare_cover"] = sum(w for t, w in q.terms if t in found) / total if total > 0 else 0.0
        ev["rarest_found"] = float(rarest is None or rarest in found)
    return ev


def confidence(ev: dict[str, float] | None, settings: Settings) -> float:
    """How likely it is that the answer sentence answers the question: settings.abstention (a logistic fitted by
    `python bench/tune.py`) over the sentence's evidence()."""
    if ev is None:
        return 0.0
    return settings.abstention.probability(ev)


def ask(
    question: str,
    history: Sequence[str | Answer] = (),
    k: int = config.DEFAULT_K,
    *,
    since: date | str | None = None,
    until: date | str | None = None,
    publisher: str | None = None,
    index_dir=None,
    settings: Settings | None = None,
) -> Answer:
    """Answer a question from the articles: the best sentence, the passage it is in, and ranked support.

    Args:
        question: the question, in your own words.
        history: the earlier turns, most recent last: their questions, or better their Answers (a "he" can then be
            resolved from an earlier answer's sentence). Only a question that needs the context ("Why is he ...?",
            "And in 2019?") is searched together with it, and also, as typed, in the article the previous answer
            came from; a standalone question is searched as typed.
        k: how many supporting passages to return.
        since, until, publisher: filters, as for retrieve().
        index_dir: the index folder; default $QA_INDEX_DIR, else the repository's embeddings/.
        settings: how to rank and answer (default: the fitted settings, `qa.Settings.fitted()`).

    Returns:
        An Answer whose `outcome` is "answered", "unsure" (the closest sentence is given but may not answer) or
        "not_found" (no sentence; `passages` holds the closest, weak matches), with `reason` saying why it is not
        answered: no match, no passage of the kind asked for, or filters that exclude every article.

    Raises:
        ValueError: invalid question, history, k or filter.
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: the index cannot be used.
    """
    return _ask(question, history, k, since=since, until=until, publisher=publisher, index_dir=index_dir, settings=settings)[0]


def _ask(question, history=(), k=config.DEFAULT_K, *, since=None, until=None, publisher=None, index_dir=None, settings=None,
         all_evidence: bool = False):
    """ask(), also returning the evidence the confidence came from (all of it for fitting: bench/tune.py) and the
    candidate answer sentences the answer was chosen from (bench/tune.py fits their scoring)."""
    from .embed import encode_query_tokens, single_thread

    q = check_question(question)
    k = check_k(k)
    if isinstance(history, str) or not all(isinstance(h, (str, Answer)) for h in history):
        raise ValueError("history must be a sequence of earlier questions (strings) or Answers, most recent last")
    settings = settings or Settings.fitted()
    index = get_index(index_dir)
    turns: list[Turn] = []
    for h in list(history)[-settings.history_turns :]:
        if isinstance(h, Answer):
            doc = h.passage.doc_id if h.passage else None
            held = index.articles.get(doc) if doc is not None else None
            turns.append(Turn(h.query, h.sentence, doc, held.text if held is not None else None))
        elif h.strip():  # an earlier question may itself have been a follow-up: resolve it the same way
            turns.append(Turn(rewrite(h.strip(), turns)))
    filters = check_filters(index, since, until, publisher)
    query = rewrite(q, turns)
    qvec, states, ids = encode_query_tokens(query)
    # A follow-up that needs the context is most likely about the article the previous answer came from: that
    # article's passages are also ranked by the question as typed (the earlier turn's words, added to find the
    # article, would pull its ranking back to the previous answer's passage).
    article = context_article(q, turns)
    own = (q, *encode_query_tokens(q)) if article is not None else None
    with single_thread():
        return _decide(index, q, query, qvec, states, ids, k, filters, settings, all_evidence, article=article, own=own)


def _unknown_words(index: LoadedIndex, query: str) -> bool:
    """True when the question has keywords and not one of them occurs in the articles ("asdf qwerty", "aaaa..."):
    the vectors still find a closest passage, but nothing can be about the question. Of the 511 answerable
    and follow-up questions of tests/data's five sets, every one shares a keyword with its articles."""
    terms = bm25.terms(query)
    return bool(terms) and not any(index.keyword.idf(t) > 0 for t in terms)


def _alternate(index: LoadedIndex, first: list[Hit], second: list[Hit]) -> list[Hit]:
    """The two rankings taken in turn, best first, leaving out a passage overlapping one already taken."""
    out: list[Hit] = []
    for h in (h for pair in zip_longest(first, second) for h in pair if h is not None):
        c = index.chunks[h.row]
        if not any(index.chunks[t.row].doc_id == c.doc_id and h.start < t.end and t.start < h.end for t in out):
            out.append(h)
    return out


def _typed_score(index: LoadedIndex, hit: Hit, query: str, qvec, qtok, filters, settings: Settings) -> float:
    """The score `hit`'s passage gets when its own article is ranked for `query` (-inf if merged into another)."""
    row = hit.row
    ranked = search(index, query, qvec, len(index.chunks), filters, qtok, settings, within=index.chunks[row].doc_id)
    return next((h.score for h in ranked if h.row == row), float("-inf"))


def _decide(index: LoadedIndex, q: str, query: str, qvec, states, ids, k: int, filters, settings: Settings,
            all_evidence: bool = False, article: str | None = None, own=None):
    """The Answer, the evidence its confidence was computed from (None when no sentence was chosen), and the
    candidate sentences (_candidates) it was chosen from.

    `article` and `own` (the question as typed, its vector, token states and ids): for a follow-up, the article the
    previous answer came from. Its passages ranked by the question as typed are taken in turn with the whole
    corpus's ranked by `query`, the corpus's first when the question as typed matches its best passage better (a
    follow-up may move to another article). The answer sentence and its confidence come from `query`, as for any
    question."""
    # Ranked as deep as the default k at least: a passage further down that overlaps a top one is merged into it, so
    # asking for fewer passages must not shrink the top ones and change the answer or its confidence.
    depth = max(k, config.DEFAULT_K, settings.answer_passages)
    hits = search(index, query, qvec, depth, filters, (states, ids), settings)
    if own is not None:
        oq, ovec, ostates, oids = own
        in_article = search(index, oq, ovec, depth, filters, (ostates, oids), settings, within=article)
        # The corpus's best goes first only when it is from another article and matches the question as typed
        # better (one of the article's own passages never beats the article's best, so it needs no comparison).
        corpus_first = (hits and in_article and index.chunks[hits[0].row].doc_id != article
                        and _typed_score(index, hits[0], oq, ovec, (ostates, oids), filters, settings)
                        > in_article[0].score)
        hits = _alternate(index, hits, in_article) if corpus_first else _alternate(index, in_article, hits)
    passages = tuple(to_passage(index, h) for h in hits[:k])
    # the kind of answer asked for comes from the user's own words
    kind = expected_type(q)
    base = dict(question=q, query=query, passages=passages, answer_type=kind, filters=filters)
    if not hits:
        reason = FILTERED_OUT if excludes_everything(index, filters) else NO_MATCH
        return Answer(outcome=NOT_FOUND, confidence=0.0, reason=reason, **base), None, []
    if _unknown_words(index, query):
        return Answer(outcome=NOT_FOUND, confidence=0.0, reason=NO_MATCH, **base), None, []
    prepared = _prepare(index, query, qvec, states, ids)
    # Sought in the same passages whatever k: how many passages a user asks to see must not change the answer or
    # how sure it is (below, the answer's passage is always among those returned).
    cands = _candidates(index, hits, prepared, settings, kind, query)
    if not cands:  # none of the top passages holds the kind of answer asked for, or says more than the question
        return Answer(outcome=NOT_FOUND, confidence=0.0, reason=MISSING_TYPE if kind else NO_MATCH, **base), None, cands
    sent = max(cands, key=lambda c: c.score)  # the first of equals
    ev = evidence(index, hits, sent, prepared, kind, None if all_evidence else settings.abstention.features,
                  cands=cands, scale=settings.sentence_scale)
    conf = confidence(ev, settings)
    if conf < settings.abstention.unsure_threshold:
        return Answer(outcome=NOT_FOUND, confidence=conf, reason=NO_MATCH, **base), ev, cands
    text = index.articles[sent.doc_id].text
    holder = next(h for h in hits if index.chunks[h.row].doc_id == sent.doc_id and h.start <= sent.start and sent.end <= h.end)
    if not any(h is holder for h in hits[:k]):  # fewer passages asked for than the answer was sought in
        base["passages"] = tuple(to_passage(index, h) for h in (*hits[: k - 1], holder))
    answered = conf >= settings.abstention.answer_threshold
    return Answer(
        outcome=ANSWERED if answered else UNSURE,
        reason=None if answered else LOW_CONFIDENCE,
        confidence=conf,
        sentence=text[sent.start : sent.end],
        sentence_start=sent.start,
        sentence_end=sent.end,
        passage=to_passage(index, holder),
        **base,
    ), ev, cands
