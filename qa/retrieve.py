"""Question -> ranked passages: dense (FAISS) + keyword (BM25) fusion, filters, near-duplicate suppression."""
from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from . import bm25, config
from .answer_type import definition_subject, expected_type, first_mention, has_answer_type
from .index import FLAT_MAX_PASSAGES, MANIFEST, LoadedIndex, load_index, prefetch
from .settings import Settings
from .types import Article, Filters, IndexInfo, Passage

log = logging.getLogger(__name__)

_cache: dict[str, tuple[tuple[int, int], LoadedIndex]] = {}
_cache_lock = threading.Lock()


def get_index(index_dir=None) -> LoadedIndex:
    """The loaded index for a folder, reloaded automatically when a build replaces its manifest."""
    target = config.index_target(index_dir)
    if isinstance(target, str):  # a milvus:// URI: its sidecar folder's manifest changes with every build
        from . import milvus_index

        milvus = milvus_index.parse(target)
        path, key = milvus.sidecar, target
    else:
        milvus, path = None, target
        key = str(path.resolve())
    try:
        st = (path / MANIFEST).stat()
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = (0, 0)
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] == stamp and stamp != (0, 0):
            return hit[1]
        loaded = load_index(path) if milvus is None else milvus_index.load(milvus)
        _cache[key] = (stamp, loaded)
        return loaded


# ---------------------------------------------------------------------------
# Input checks at the public boundary


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise ValueError(f"question must be a string, got {type(question).__name__}")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable bytes
        raise ValueError("question is not valid Unicode text (it contains unpaired surrogates); retype it") from None
    q = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", question).strip()
    if not q:
        raise ValueError("question is empty; type a question about the articles")
    if not re.search(r"\w", q):
        raise ValueError("question has no words in it; type a question about the articles")
    if len(q) > config.MAX_QUESTION_CHARS:
        raise ValueError(
            f"question is {len(q)} characters long; the limit is {config.MAX_QUESTION_CHARS}. Ask a shorter question."
        )
    return q


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return min(int(k), config.MAX_K)


def _check_date(value: object, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} must be a date or an ISO date string like '2024-02-05', got {value!r}")


def check_filters(index: LoadedIndex, since=None, until=None, publisher=None) -> Filters:
    s, u = _check_date(since, "since"), _check_date(until, "until")
    if s and u and s > u:
        raise ValueError(f"since ({s}) is after until ({u}); swap them or widen the range")
    if publisher not in (None, ""):
        if not isinstance(publisher, str):
            raise ValueError(f"publisher must be a string, got {type(publisher).__name__}")
        named = _publisher_spellings(index).get(publisher.strip().casefold())
        if named is None:
            known = publishers(index)
            raise ValueError(f"unknown publisher {publisher!r}; the index has: {', '.join(known) or 'none'}")
        return Filters(s, u, *named)
    return Filters(s, u)


def _publisher_spellings(index: LoadedIndex) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each publisher of the index by its case-folded name (pages of one site may spell it "PolitiFact" or
    "Politifact"): the name shown, the spelling most of its articles use (a tie: the first in sorted order), and
    every spelling."""
    counts = Counter(a.publisher for a in index.articles.values() if a.publisher)
    groups: dict[str, list[str]] = {}
    for name in sorted(counts):
        groups.setdefault(name.casefold(), []).append(name)
    return {k: (max(names, key=counts.__getitem__), tuple(names)) for k, names in groups.items()}


def publishers(index: LoadedIndex) -> list[str]:
    """The index's publishers, one name for each whatever its case: the spelling most of its articles use."""
    return sorted(shown for shown, _ in _publisher_spellings(index).values())


# ---------------------------------------------------------------------------
# Search


@dataclass(frozen=True)
class Hit:
    """A candidate passage with the evidence used to rank it."""

    row: int
    score: float
    dense: float
    keyword: float  # BM25 divided by the best BM25 among candidates
    start: int  # the span shown: the passage, possibly merged with an overlapping neighbour
    end: int


def excludes_everything(index: LoadedIndex, f: Filters) -> bool:
    """True when filters are on and no passage of the index passes them."""
    allowed = _allowed(index, f)
    return allowed is not None and len(allowed) == 0


def _allowed(index: LoadedIndex, f: Filters) -> np.ndarray | None:
    """Rows of the passages whose article passes the filters (None when there are no filters)."""
    if not f.active:
        return None
    ok = np.ones(len(index.order), bool) if index.doc_live is None else index.doc_live.copy()
    if f.publisher:
        codes = [index.publisher_codes.get(name, -2) for name in f.publisher_names]  # -2: matches no article
        ok &= np.isin(index.doc_publishers, codes)
    if f.since or f.until:
        ok &= index.doc_dates >= 0  # an undated article never matches a date filter
        if f.since:
            ok &= index.doc_dates >= f.since.toordinal()
        if f.until:
            ok &= index.doc_dates <= f.until.toordinal()
    return np.flatnonzero(ok[index.chunk_docs]).astype(np.int64)


def _subset_scores(index: LoadedIndex, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Inner products of the query with the given passages' vectors: in C++ over the HNSW index's own in-memory
    copy of the vectors when it has one (no gather of the rows into a new array), else from vectors.f32."""
    import faiss

    storage = faiss.downcast_index(index.faiss.storage)  # only called for HNSW indexes, which all have one
    if isinstance(storage, faiss.IndexFlatIP):
        scores = np.empty((1, len(rows)), np.float32)
        labels = np.ascontiguousarray(rows.reshape(1, -1), dtype=np.int64)
        storage.compute_distance_subset(1, faiss.swig_ptr(q), len(rows), faiss.swig_ptr(scores), faiss.swig_ptr(labels))
        return scores[0]
    return np.asarray(index.vectors[rows], dtype=np.float32) @ q[0]


def _dense_pool(index: LoadedIndex, qvec: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray:
    import faiss

    live = index.faiss.ntotal if index.live is None else index.manifest["passages"]
    n = min(n, live if allowed is None else len(allowed))
    if n <= 0:
        return np.zeros(0, np.int64)
    q = np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32)
    if allowed is None and index.live is not None:  # passages an update replaced stay in the graph, unreachable
        sel = faiss.IDSelectorBitmap(len(index.live), faiss.swig_ptr(index.live_bits))
        if isinstance(index.faiss, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=index.faiss.hnsw.efSearch)
        else:
            params = faiss.SearchParameters(sel=sel)
        _, rows = index.faiss.search(q, n, params=params)
    elif allowed is None:
        _, rows = index.faiss.search(q, n)
    elif isinstance(index.faiss, faiss.IndexHNSW):
        if len(allowed) <= FLAT_MAX_PASSAGES:
            # A graph walk that may keep only a few of the nodes it visits finds too few; a subset this small is
            # scanned exactly, as a whole corpus this small would be.
            scores = _subset_scores(index, q, allowed)
            top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
            return allowed[top[np.argsort(-scores[top], kind="stable")]]
        # the per-query parameters replace the index's own, so they must carry its efSearch too
        params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(allowed), efSearch=index.faiss.hnsw.efSearch)
        _, rows = index.faiss.search(q, n, params=params)
    else:
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        _, rows = index.faiss.search(q, n, params=params)
    return rows[0][rows[0] >= 0]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 5]) for i in range(max(len(words) - 4, 1))}


def _near_duplicate(a: set, b: set) -> bool:
    return bool(a) and bool(b) and len(a & b) / min(len(a), len(b)) >= 0.5


def _late_interaction(index: LoadedIndex, rows: np.ndarray, qtok: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """IDF-weighted MaxSim: each content token of the question finds its best-matching token in the passage."""
    from .embed import content_token_mask

    states, ids = qtok
    keep = content_token_mask()[ids]
    if not keep.any():
        keep = np.ones(len(ids), bool)
    q, w = states[keep], index.tokens.idf[ids[keep]]
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w), np.float32)
    passage_states, lengths = index.tokens.gather(rows)
    if not lengths.sum():
        return np.zeros(len(rows), np.float32)
    sims = q @ passage_states.T
    # best match per question token within each passage: one reduceat over the passages' column ranges
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    best = np.maximum.reduceat(sims, np.minimum(starts, sims.shape[1] - 1), axis=1)
    return np.where(lengths > 0, w @ best, 0.0).astype(np.float32)


def sentence_rows(index: LoadedIndex, doc_id: str, start: int, end: int) -> np.ndarray:
    """Rows of the stored sentences lying inside article[start:end]."""
    n = index.doc_numbers[doc_id]
    key = index.sentences[:, 0] * (1 << 32)
    lo = np.searchsorted(key + index.sentences[:, 1], n * (1 << 32) + start, side="left")
    hi = np.searchsorted(key + index.sentences[:, 2], n * (1 << 32) + end, side="right")
    return np.arange(lo, hi)


def _article_rows(index: LoadedIndex, doc_id: str, allowed: np.ndarray | None) -> np.ndarray:
    """Rows of the live passages of one article (within the filters' rows when given); empty if it is not indexed."""
    n = (index.doc_numbers or {}).get(doc_id)
    if n is None or index.chunk_docs is None:
        return np.zeros(0, np.int64)
    lo, hi = np.searchsorted(index.chunk_docs, [n, n + 1])
    rows = np.arange(lo, hi, dtype=np.int64)
    if index.live is not None:
        rows = rows[index.live[rows]]
    return rows if allowed is None else np.intersect1d(rows, allowed)


def _prefetch(index: LoadedIndex, rows: np.ndarray, rerank: bool) -> None:
    """Have the kernel read, all at once, what ranking these candidates touches in the memory-mapped files: their
    vectors and, for the rerank, their sentences' vectors and their tokens' code rows and codes. Past the page
    cache (a large index) these are random reads, and one page fault after another made a cold query 30x slower
    (bench/scale.py at 100k)."""
    prefetch(index.vectors, rows, rows + 1)
    if rerank:
        prefetch(index.sentence_vectors, index.chunk_sentences[rows, 0], index.chunk_sentences[rows, 1])
        t = index.tokens
        prefetch(t.refs, t.offsets[rows], t.offsets[rows + 1])
        prefetch(t.codes, t.code_ranges[rows, 0], t.code_ranges[rows, 1])


def _best_sentence_cos(index: LoadedIndex, rows: np.ndarray, qvec: np.ndarray) -> np.ndarray:
    lo, hi = index.chunk_sentences[rows, 0], index.chunk_sentences[rows, 1]
    ranges = [np.arange(a, b) for a, b in zip(lo, hi)]
    cos = np.asarray(index.sentence_vectors[np.concatenate(ranges)], dtype=np.float32) @ qvec
    starts = np.concatenate([[0], np.cumsum(hi - lo)[:-1]])
    best = np.maximum.reduceat(cos, np.minimum(starts, max(len(cos) - 1, 0))) if len(cos) else np.zeros(len(rows))
    return np.where(hi > lo, best, -1.0).astype(np.float32)


def _answer_type_match(index: LoadedIndex, query: str, rows: np.ndarray, settings: Settings) -> np.ndarray:
    """A rerank bonus for the passages holding the kind of answer the question asks for (qa/answer_type.py): a date
    for "when", a number for "how many", the person's introduction for "Who is X?"; 0 for other questions."""
    match = np.zeros(len(rows), np.float32)
    kind = expected_type(query)
    if kind is not None:
        match[:] = [settings.answer_type_bonus * has_answer_type(index.chunks[r].text, kind, query) for r in rows]
    elif (name := definition_subject(query)) is not None:
        first: dict[str, int | None] = {}  # per article, not per candidate passage
        for i, r in enumerate(rows):
            c = index.chunks[r]
            if c.doc_id not in first:
                first[c.doc_id] = first_mention(index.articles[c.doc_id].text, name)
            at = first[c.doc_id]
            match[i] = settings.first_mention_bonus * (at is not None and c.start <= at < c.end)
    return match


@lru_cache(maxsize=8192)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(bm25.terms(title))


def title_match(index: LoadedIndex, query: str, doc_id: str) -> float:
    """How nearly the question is the article's headline, 0..1: the smaller of the share of the headline's BM25 terms
    the question holds and the share of the question's terms the headline holds, each weighted by IDF. A headline
    asked word for word scores 1; a question that only shares a word or two with it, little. Headlines of fewer than
    two terms score 0 (a one-word title such as "Sport" is no headline to match)."""
    return _headline_share(index, frozenset(bm25.terms(query)), index.articles[doc_id].title, {})


def _headline_share(index: LoadedIndex, asked: frozenset[str], title: str | None, idf: dict[str, float]) -> float:
    """title_match from the question's terms; `idf` caches IDFs across the articles scored for one question."""
    head = _title_terms(title) if title else frozenset()
    if len(head) < 2 or not asked:
        return 0.0
    for t in head | asked:
        if t not in idf:
            idf[t] = index.keyword.idf(t)
    both = sum(idf[t] for t in head & asked)
    head_sum, asked_sum = sum(idf[t] for t in head), sum(idf[t] for t in asked)
    if head_sum <= 0 or asked_sum <= 0:
        return 0.0
    return min(both / head_sum, both / asked_sum)


def _title_match(index: LoadedIndex, query: str, rows: np.ndarray, settings: Settings) -> np.ndarray:
    """A rerank bonus for the passages of an article whose headline the question (nearly) is: the rerank reads the
    passage text only, so a headline asked as it was printed could lose to another article's passage."""
    if not settings.title_match_bonus:
        return np.zeros(len(rows), np.float32)
    asked, idf = frozenset(bm25.terms(query)), {}
    per_doc: dict[str, float] = {}
    out = np.zeros(len(rows), np.float32)
    for i, r in enumerate(rows):
        d = index.chunks[r].doc_id
        if d not in per_doc:
            # nothing below half a match, full at a whole one: a question sharing a name or two with a headline is
            # no headline asked, and on a one-topic folder such small matches only reshuffled close rankings
            per_doc[d] = max(0.0, 2.0 * _headline_share(index, asked, index.articles[d].title, idf) - 1.0)
        out[i] = settings.title_match_bonus * per_doc[d]
    return out


class EmbeddedStage1:
    """Stage 1 from the index folder's own files: FAISS for the dense pool, bm25s for the keyword scores. The other
    implementation of the same interface (`candidates`) is qa.milvus_index.Stage1, a Milvus collection."""

    def __init__(self, index: LoadedIndex, allowed: np.ndarray | None):
        self.index, self.allowed = index, allowed  # allowed: the filters' passage rows, computed by the caller

    def candidates(self, query: str, qvec: np.ndarray, n: int, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """(rows, their BM25 scores): the n best by dense and the n best by BM25, within the filters."""
        index, allowed = self.index, self.allowed
        dense_rows = _dense_pool(index, qvec, n, allowed)
        bm = index.keyword.scores(query)
        if allowed is not None:
            mask = np.zeros(len(bm), bool)
            mask[allowed] = True
            bm = np.where(mask, bm, 0.0)
        # the n best of the passages that match at all, without sorting all N scores; their order does not
        # matter, np.unique sorts the rows below
        top_bm = np.flatnonzero(bm > 0)
        if n < len(top_bm):
            top_bm = top_bm[np.argpartition(-bm[top_bm], n - 1)[:n]]
        rows = np.unique(np.concatenate([dense_rows, top_bm])).astype(np.int64)
        return rows, bm[rows]


def search(
    index: LoadedIndex,
    query: str,
    qvec: np.ndarray,
    k: int,
    filters: Filters = Filters(),
    qtok: tuple[np.ndarray, np.ndarray] | None = None,
    settings: Settings | None = None,
    within: str | None = None,
) -> list[Hit]:
    """Rank passages in two stages, then drop passages that repeat text already in the result.

    1. Candidates: the best of dense (FAISS) and keyword (BM25) search, fused by a normalised weighted sum.
    2. Rerank the top candidates by passage cosine, best-sentence cosine and late interaction (token MaxSim),
       when the index stores token vectors.

    `within`: rank all the passages of this one article instead (a follow-up's article: qa.ask).
    """
    s = settings or Settings.fitted()
    allowed = _allowed(index, filters)
    if allowed is not None and len(allowed) == 0:
        return []
    if within is not None:  # one article's passages, all of them
        rows = _article_rows(index, within, allowed)
        kw = np.asarray(index.keyword.scores(query), np.float64)[rows]
        return _ranked(index, query, qvec, k, rows, kw, qtok, s)
    stage1 = index.remote if index.remote is not None else EmbeddedStage1(index, allowed)
    pool = max(s.candidate_pool, k * 4)
    while True:
        rows, kw = stage1.candidates(query, qvec, pool, filters)
        hits = _ranked(index, query, qvec, k, rows, kw, qtok, s)
        # Fewer than k once repeats are dropped (an article that says the same thing many times): a wider pool,
        # until it holds every passage there is.
        if len(hits) >= k or len(rows) < pool or pool >= len(index.chunks):
            return hits
        pool *= 4


def _ranked(index: LoadedIndex, query: str, qvec: np.ndarray, k: int, rows: np.ndarray, kw: np.ndarray,
            qtok: tuple[np.ndarray, np.ndarray] | None, s: Settings) -> list[Hit]:
    """The candidates `rows` (with their keyword scores) fused, reranked and assembled into at most k hits."""
    if len(rows) == 0:
        return []
    _prefetch(index, rows, s.rerank and index.tokens is not None and qtok is not None)
    dense = np.asarray(index.vectors[rows], dtype=np.float32) @ qvec.astype(np.float32)
    kw_norm = kw / kw.max() if kw.max() > 0 else np.zeros_like(kw)
    fused = s.dense_weight * dense + (1 - s.dense_weight) * kw_norm
    order = np.argsort(-fused, kind="stable")
    if s.rerank and index.tokens is not None and qtok is not None:
        top = order[: s.rerank_pool]
        li = _late_interaction(index, rows[top], qtok)
        sc = _best_sentence_cos(index, rows[top], qvec)
        total = s.rerank_dense + s.rerank_sentence + s.rerank_late
        final = (s.rerank_dense * dense[top] + s.rerank_sentence * sc + s.rerank_late * li) / total
        final = final + _answer_type_match(index, query, rows[top], s) + _title_match(index, query, rows[top], s)
        # reranked candidates first (about 0..1, plus any answer-type bonus); the rest keep their fused order below
        order = np.concatenate([top[np.argsort(-final, kind="stable")], order[s.rerank_pool :]])
        fused = fused.copy()
        fused[top] = final
        if len(order) > len(top):
            fused[order[len(top) :]] = np.minimum(fused[order[len(top) :]], final.min() - 1e-6)
    return _assemble(index, rows, order, fused, dense, kw_norm, k)


def _assemble(index, rows, order, scores, dense, kw_norm, k: int) -> list[Hit]:
    """Take passages best first, never showing the same text twice.

    A passage overlapping one already taken (neighbouring windows share a sentence) is merged into it while the
    union stays readable (config.CHUNK_MAX_WORDS), else reduced to its sentences not shown yet. A passage whose
    text is syndicated in an article already taken is dropped.
    """
    hits: list[Hit] = []
    shingles: list[set] = []
    for i in order:
        row = int(rows[i])
        c = index.chunks[row]
        text = index.articles[c.doc_id].text
        start, end = c.start, c.end
        merged = False
        for j, h in enumerate(hits):
            hc = index.chunks[h.row]
            if hc.doc_id != c.doc_id or not (start < h.end and h.start < end):
                continue
            lo, hi = min(start, h.start), max(end, h.end)
            if len(text[lo:hi].split()) <= config.CHUNK_MAX_WORDS:
                hits[j] = Hit(h.row, h.score, h.dense, h.keyword, lo, hi)
                shingles[j] = _shingles(text[lo:hi])
                merged = True
                break
            # keep only what is not shown yet: the part before or after the taken span
            start, end = (start, h.start) if start < h.start else (h.end, end)
            while start < end and text[start].isspace():
                start += 1
        if merged or end - start < 2 or not re.search(r"\w", text[start:end]):
            continue
        sh = _shingles(text[start:end])
        if any(_near_duplicate(sh, t) for t in shingles):
            continue  # the same text syndicated in another article
        shingles.append(sh)
        hits.append(Hit(row, float(scores[i]), float(dense[i]), float(kw_norm[i]), start, end))
        if len(hits) == k:
            break
    return hits


def to_passage(index: LoadedIndex, hit: Hit) -> Passage:
    c = index.chunks[hit.row]
    a: Article = index.articles[c.doc_id]
    return Passage(
        chunk_id=c.chunk_id,
        doc_id=c.doc_id,
        text=a.text[hit.start : hit.end],
        start=hit.start,
        end=hit.end,
        score=round(float(hit.score), 6),
        title=a.title,
        publisher=a.publisher,
        published=a.published,
        authors=a.authors,
        url=a.url,
    )


def retrieve(
    question: str,
    k: int = config.DEFAULT_K,
    *,
    since: date | str | None = None,
    until: date | str | None = None,
    publisher: str | None = None,
    index_dir=None,
    settings: Settings | None = None,
) -> list[Passage]:
    """Find the passages that best answer a question, best first.

    Args:
        question: the question, in your own words.
        k: how many passages to return (at least 1; at most config.MAX_K are returned).
        since, until: only articles published in this date range (inclusive); undated articles never match.
        publisher: only articles from this publisher (case-insensitive; must be one the index knows).
        index_dir: the index folder; default $QA_INDEX_DIR, else the repository's embeddings/.
        settings: how to rank (default: the fitted settings, `qa.Settings.fitted()`).

    Returns:
        Up to k Passage objects, each with text, score, character offsets into its article and a citation.

    Raises:
        ValueError: the question is not a non-empty string, k is not a positive integer, or a filter is invalid.
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: the index cannot be used; the message says how to rebuild.
    """
    from .embed import encode_query_tokens, single_thread

    q = check_question(question)
    k = check_k(k)
    index = get_index(index_dir)
    filters = check_filters(index, since, until, publisher)
    qvec, states, ids = encode_query_tokens(q)
    with single_thread():
        return [to_passage(index, h) for h in search(index, q, qvec, k, filters, (states, ids), settings)]


def index_info(*, index_dir=None) -> IndexInfo:
    """Describe the index: articles with their metadata, passage count, build time, publishers, and the range of
    the articles' dates (`first_published`..`last_published`, for a date picker).

    Raises:
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: the index cannot be used.
    """
    index = get_index(index_dir)
    m = index.manifest
    dates = [a.published for a in index.articles.values() if a.published]
    return IndexInfo(
        index_dir=index.remote.display if index.remote is not None else str(index.path),
        built_at=str(m.get("built_at", "")),
        passages=int(m["passages"]),
        articles=tuple(index.articles.values()),
        publishers=tuple(publishers(index)),
        model=str(m["model"]["name"]),
        first_published=min(dates, default=None),
        last_published=max(dates, default=None),
    )


def get_article(doc_id: str, *, index_dir=None) -> Article:
    """Return the cleaned article with this id (the seed file's name without extension).

    Raises:
        KeyError: no article with that id is in the index.
    """
    if not isinstance(doc_id, str) or not doc_id:
        raise KeyError(f"No article with id {doc_id!r}: ids are the seed file names without extension, e.g. '000_6870258d6367f5ae'.")
    index = get_index(index_dir)
    try:
        return index.articles[doc_id]
    except KeyError:
        known = ", ".join(sorted(index.articles)[:5])
        raise KeyError(f"No article with id {doc_id!r} in the index at {index.path} (known ids include: {known}).") from None
