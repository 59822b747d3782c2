"""Question -> ranked passages with citations."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from . import config
from .index import MANIFEST, LoadedIndex, load_index
from .types import Article, Passage

log = logging.getLogger(__name__)

_cache: dict[str, tuple[tuple[int, int], LoadedIndex]] = {}
_cache_lock = threading.Lock()


def get_index(index_dir=None) -> LoadedIndex:
    """The loaded index for a folder, reloaded automatically when a build replaces its manifest."""
    path = config.index_dir(index_dir)
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
        loaded = load_index(path)
        _cache[key] = (stamp, loaded)
        return loaded


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise ValueError(f"question must be a string, got {type(question).__name__}")
    q = question.replace("\x00", " ").strip()
    if not q:
        raise ValueError("question is empty; ask something about the articles, e.g. 'Who became acting prime minister?'")
    return q


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return int(k)


def to_passage(index: LoadedIndex, row: int, score: float) -> Passage:
    c = index.chunks[row]
    a: Article = index.articles[c.doc_id]
    return Passage(
        chunk_id=c.chunk_id,
        doc_id=c.doc_id,
        text=c.text,
        start=c.start,
        end=c.end,
        score=float(score),
        title=a.title,
        publisher=a.publisher,
        published=a.published,
        authors=a.authors,
    )


def dense_search(index: LoadedIndex, qvec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    n = min(n, index.faiss.ntotal)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores, rows = index.faiss.search(np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32), n)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]


def retrieve(question: str, k: int = config.DEFAULT_K, *, index_dir=None) -> list[Passage]:
    """Find the passages that best answer a question, best first.

    Args:
        question: the question, in your own words.
        k: how many passages to return (at least 1).
        index_dir: the index folder; default $QA_INDEX_DIR, else the repository's embeddings/.

    Returns:
        Up to k Passage objects, each with text, score, character offsets into its article and a citation.

    Raises:
        ValueError: the question is not a non-empty string, or k is not a positive integer.
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: the index cannot be used; the message says how to rebuild.
    """
    from .embed import encode_queries

    q = check_question(question)
    k = check_k(k)
    index = get_index(index_dir)
    qvec = encode_queries([q[: config.MAX_QUESTION_CHARS]])[0]
    scores, rows = dense_search(index, qvec, k)
    return [to_passage(index, int(r), float(s)) for s, r in zip(scores, rows)]


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
