"""BM25 keyword index (bm25s) saved beside the FAISS index; tokenised with English stemming and stopwords.

Each passage's BM25 document is its article's title followed by its text (`document`), as passage retrievers over
titled documents do (DPR, Anserini's "title + contents"): a headline's words find the article even where its text never
repeats them. `settings()` goes in the index manifest, so an index keyed the old way is re-written by `qa build`."""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)
BM25_DIR = "bm25"


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _bm25s():
    """bm25s, with its logger back on the application's level: bm25s sets it to DEBUG on import, so every build
    printed "DEBUG bm25s: Building index from tokens" to a user who asked for warnings only."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    _bm25s()  # importing bm25s.stopwords imports bm25s: through the one place that quiets its logger
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    bm25s = _bm25s()

    # bm25s splits on \w\w+ by default; fold apostrophes first so "Example’s" stems like "Example's".
    texts = [re.sub(r"[’‘`]", "'", t) for t in texts]
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


_SPLIT = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern


def terms(text: str) -> list[str]:
    """Tokenise one text exactly as tokenize() does, without bm25s's per-call overhead (the query path calls this
    for every candidate sentence; tests/test_bm25.py checks the two agree)."""
    stop = stopwords()
    words = [w for w in _SPLIT.findall(re.sub(r"[’‘`]", "'", text).lower()) if w not in stop]
    return _stemmer().stemWords(words)


FIELDS = ("title", "text")  # what a passage's BM25 document holds, in order


def settings() -> dict[str, list[str]]:
    """What the BM25 documents are made of, for the manifest: `qa build` re-keys an index keyed otherwise."""
    return {"fields": list(FIELDS)}


def document(title: str | None, text: str) -> str:
    """A passage's BM25 document: its article's title (when it has one), a blank line, then the passage text."""
    return f"{title}\n\n{text}" if title else text


ROWS_FILE = "rows.npy"  # present when the index has deleted passages: the index row of each BM25 document


def write(folder: Path, texts: Sequence[str], rows: np.ndarray | None = None) -> None:
    """Build the BM25 index over passage texts and save it (JSON + .npy, no pickles) in `folder`. `rows`: the index
    row of each text, when they are not simply 0..n-1 (an index whose deleted passages are left out)."""
    bm25s = _bm25s()

    retriever = bm25s.BM25()
    retriever.index(tokenize(texts) if texts else [[]], show_progress=False)
    retriever.save(str(folder))
    if rows is not None:
        if len(rows) != len(texts):
            raise ValueError(f"{len(rows)} rows for {len(texts)} BM25 documents")
        np.save(folder / ROWS_FILE, np.asarray(rows, dtype=np.int64))


class Keyword:
    """A loaded BM25 index over an index's `n` passage rows."""

    def __init__(self, folder: Path, n: int):
        bm25s = _bm25s()

        self._bm25 = bm25s.BM25.load(str(folder), mmap=False)
        self.vocab = self._bm25.vocab_dict
        self.n = n
        self._idf: np.ndarray | None = None
        rows_file = folder / ROWS_FILE
        self.rows = np.load(rows_file, allow_pickle=False) if rows_file.exists() else None
        docs = self._bm25.scores["num_docs"]
        # an empty index holds one empty document (bm25s needs one)
        expected = max(n, 1) if self.rows is None else len(self.rows)
        if docs != expected or (self.rows is not None and len(self.rows) and not 0 <= self.rows.min() <= self.rows.max() < n):
            raise ValueError(f"the BM25 index holds {docs} documents for {n} passages")

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage row for the query (zeros when no query term is in the vocabulary, and for
        deleted passages)."""
        tokens = [t for t in terms(query) if t in self.vocab]
        if not tokens or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        s = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        if self.rows is None:
            return s
        full = np.zeros(self.n, dtype=np.float32)
        full[self.rows] = s
        return full

    def idf(self, token: str) -> float:
        """Inverse document frequency of a stemmed token (0 when unknown)."""
        i = self.vocab.get(token)
        if i is None:
            return 0.0
        if self._idf is None:  # every term's at once, on first use: a question looks up dozens
            s = self._bm25.scores
            df = np.diff(np.asarray(s["indptr"], dtype=np.float64))
            self._idf = np.log(1 + (s["num_docs"] - df + 0.5) / (df + 0.5))
        # bm25s's vocabulary ends with "" (no column; terms() never yields it)
        return float(self._idf[i]) if i < len(self._idf) else 0.0
