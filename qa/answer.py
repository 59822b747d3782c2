"""Passages -> an answer: follow-up rewriting, the best answering sentence, and "not in the articles"."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Sequence

import numpy as np

from . import bm25, config
from .index import LoadedIndex
from .retrieve import Hit, check_filters, check_k, check_question, get_index, search, to_passage
from .types import Answer

log = logging.getLogger(__name__)

_FOLLOWUP_PRONOUNS = re.compile(
    r"\b(he|him|his|she|her|hers|it|its|they|them|their|theirs|this|that|these|those|there|then|the same)\b", re.I
)
_FOLLOWUP_OPENERS = re.compile(r"^\s*(and|but|also|so|what about|how about|and what about|what else|why|why not|when|where)\b[\s,?]*", re.I)
_WH = {"who", "what", "when", "where", "why", "how", "which", "whom", "whose", "did", "does", "do", "is", "was", "are", "were"}


# ---------------------------------------------------------------------------
# Follow-up questions


def is_followup(question: str) -> bool:
    """A question that leans on an earlier one: a pronoun, a conversational opener, or very few words."""
    words = re.findall(r"\w+", question.lower())
    if len(words) <= 3:
        return True
    if re.match(r"^\s*(and|but|also|what about|how about)\b", question, re.I):
        return True
    return bool(_FOLLOWUP_PRONOUNS.search(question))


def _key_terms(text: str) -> list[str]:
    """Content words of a question, in order: names and nouns carry what "he" or "it" refers to."""
    stop = bm25_stopwords()
    words = re.findall(r"[\w'’-]+", text)
    return [w for w in words if w.lower() not in stop and w.lower() not in _WH and len(w) > 1]


def bm25_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def rewrite(question: str, history: Sequence[str]) -> str:
    """The text to search: the question itself, or, for a follow-up, the question plus the key terms of the last
    earlier question that had any (so "Why is he being investigated?" after "Who is Samat Abish?" searches for
    "Why is he being investigated? Samat Abish")."""
    if not history or not is_followup(question):
        return question
    have = {w.lower() for w in _key_terms(question)}
    for earlier in reversed(history):
        terms = [t for t in _key_terms(earlier) if t.lower() not in have]
        if terms:
            return f"{question} {' '.join(dict.fromkeys(terms))}"
    return question


# ---------------------------------------------------------------------------
# Answer sentence and abstention


@dataclass(frozen=True)
class _Sentence:
    doc_id: str
    start: int
    end: int
    cosine: float
    overlap: float
    rank: int
    score: float


def _query_tokens(index: LoadedIndex, query: str) -> list[tuple[str, float]]:
    """Stemmed query tokens with their IDF; tokens unknown to the corpus get the highest IDF (they matter most)."""
    toks = list(dict.fromkeys(bm25.tokenize([query])[0]))
    idfs = [index.keyword.idf(t) for t in toks]
    top = max(idfs, default=1.0) or 1.0
    return [(t, i if i > 0 else top * 1.5) for t, i in zip(toks, idfs)]


def _coverage(qtoks: list[tuple[str, float]], text: str) -> float:
    """IDF-weighted share of the query's tokens that occur in text."""
    if not qtoks:
        return 0.0
    have = set(bm25.tokenize([text])[0])
    total = sum(w for _, w in qtoks)
    return sum(w for t, w in qtoks if t in have) / total


def _best_sentence(index: LoadedIndex, hits: list[Hit], qvec: np.ndarray, qtoks) -> _Sentence | None:
    best: _Sentence | None = None
    doc_num = {d: i for i, d in enumerate(index.order)}
    for rank, h in enumerate(hits[: config.ANSWER_PASSAGES]):
        c = index.chunks[h.row]
        n = doc_num[c.doc_id]
        rows = np.flatnonzero((index.sentences[:, 0] == n) & (index.sentences[:, 1] >= c.start) & (index.sentences[:, 2] <= c.end))
        if len(rows) == 0:
            continue
        cos = np.asarray(index.sentence_vectors[rows], dtype=np.float32) @ qvec
        text = index.articles[c.doc_id].text
        for r, cs in zip(rows, cos):
            s, e = int(index.sentences[r, 1]), int(index.sentences[r, 2])
            ov = _coverage(qtoks, text[s:e])
            score = config.SENT_W_COS * float(cs) + config.SENT_W_OVERLAP * ov + config.SENT_W_RANK / (1 + rank)
            if best is None or score > best.score:
                best = _Sentence(c.doc_id, s, e, float(cs), ov, rank, score)
    return best


def confidence(top: Hit, sentence: _Sentence | None, passage_coverage: float) -> float:
    """A 0..1 belief that the top passage answers the question (logistic over the evidence; see README)."""
    sent_cos = sentence.cosine if sentence else 0.0
    z = config.ABSTAIN_BIAS + config.ABSTAIN_W_DENSE * top.dense + config.ABSTAIN_W_SENT * sent_cos + config.ABSTAIN_W_COVER * passage_coverage
    return 1.0 / (1.0 + math.exp(-z))


def ask(
    question: str,
    history: Sequence[str] = (),
    k: int = config.DEFAULT_K,
    *,
    since: date | str | None = None,
    until: date | str | None = None,
    publisher: str | None = None,
    index_dir=None,
) -> Answer:
    """Answer a question from the articles: the best sentence, the passage it is in, and ranked support.

    Args:
        question: the question, in your own words.
        history: the user's earlier questions, most recent last; used to resolve follow-ups ("Why is he ...?").
        k: how many supporting passages to return.
        since, until, publisher: filters, as for retrieve().
        index_dir: the index folder; default $QA_INDEX_DIR, else the repository's embeddings/.

    Returns:
        An Answer. `found` is False when the articles do not answer the question; `sentence` and `passage` are
        then None and `passages` holds the closest, weak matches.

    Raises:
        ValueError: invalid question, history, k or filter.
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: the index cannot be used.
    """
    from .embed import encode_queries

    q = check_question(question)
    k = check_k(k)
    if isinstance(history, str) or not all(isinstance(h, str) for h in history):
        raise ValueError("history must be a sequence of earlier questions (strings), most recent last")
    hist = [h.strip() for h in history if h and h.strip()][-config.HISTORY_TURNS :]
    index = get_index(index_dir)
    filters = check_filters(index, since, until, publisher)
    query = rewrite(q, hist)
    qvec = encode_queries([query])[0]
    hits = search(index, query, qvec, max(k, config.ANSWER_PASSAGES), filters)
    passages = tuple(to_passage(index, h.row, h.score) for h in hits[:k])
    if not hits:
        return Answer(question=q, query=query, found=False, confidence=0.0, passages=passages)
    qtoks = _query_tokens(index, query)
    sent = _best_sentence(index, hits, qvec, qtoks)
    conf = confidence(hits[0], sent, _coverage(qtoks, index.chunks[hits[0].row].text))
    if conf < config.ABSTAIN_THRESHOLD or sent is None:
        return Answer(question=q, query=query, found=False, confidence=conf, passages=passages)
    text = index.articles[sent.doc_id].text
    holder = next(h for h in hits if index.chunks[h.row].doc_id == sent.doc_id and index.chunks[h.row].start <= sent.start and sent.end <= index.chunks[h.row].end)
    return Answer(
        question=q,
        query=query,
        found=True,
        confidence=conf,
        sentence=text[sent.start : sent.end],
        sentence_start=sent.start,
        sentence_end=sent.end,
        passage=to_passage(index, holder.row, holder.score),
        passages=passages,
    )
