"""The token store for late-interaction reranking: content wordpieces only, product-quantised, memory-mapped."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# 64 sub-quantisers of 256 centroids: 64 bytes a token instead of 768 in float16. With stopwords and punctuation left
# out (about 70 tokens a passage), a passage's tokens take about 5 KB with their ids and spans.
PQ_M = 64
PQ_BITS = 8
CODEC = "float16"  # or "pq"
CODEBOOK_PATH = Path(__file__).resolve().parent / "data" / "token_pq.npy"  # fitted by bench/codebook.py

TOKEN_CODES = "token_codes.npy"  # uint8 (tokens, bytes a token): each kept token's code
TOKEN_IDS = "token_ids.npy"  # uint16 (tokens,): their wordpiece ids
TOKEN_SPANS = "token_spans.npy"  # uint16/uint32 (tokens, 2): their character spans within the passage
TOKEN_OFFSETS = "token_offsets.npy"  # int64 (passages + 1,): passage i owns tokens [off[i], off[i+1])
TOKEN_IDF = "token_idf.npy"  # float32 (vocab,): wordpiece IDF over passages
FILES = (TOKEN_CODES, TOKEN_IDS, TOKEN_SPANS, TOKEN_OFFSETS, TOKEN_IDF)


def fit_codebook(states: np.ndarray, m: int = PQ_M) -> np.ndarray:
    """Fit the (m, 256, dim / m) float32 centroids of a product quantiser on unit token vectors."""
    import faiss

    x = np.ascontiguousarray(states, dtype=np.float32)
    pq = faiss.ProductQuantizer(x.shape[1], m, PQ_BITS)
    pq.train(x)
    return faiss.vector_to_array(pq.centroids).reshape(m, 1 << PQ_BITS, x.shape[1] // m)


class Codec:
    """Token vectors <-> PQ codes. Encoding runs in faiss (build only); decoding is a numpy gather."""

    def __init__(self, centroids: np.ndarray):
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.m, self.k, self.dsub = self.centroids.shape
        self.dim = self.m * self.dsub
        self.digest = hashlib.sha256(self.centroids.tobytes()).hexdigest()
        self._pq = None

    def encode(self, states: np.ndarray) -> np.ndarray:
        """(n, dim) float vectors -> (n, m) uint8 codes."""
        if self._pq is None:
            import faiss

            pq = faiss.ProductQuantizer(self.dim, self.m, PQ_BITS)
            faiss.copy_array_to_vector(self.centroids.ravel(), pq.centroids)
            self._pq = pq
        x = np.ascontiguousarray(states, dtype=np.float32).reshape(-1, self.dim)
        return self._pq.compute_codes(x) if len(x) else np.zeros((0, self.m), np.uint8)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, m) codes -> (n, dim) float32 vectors, rescaled to unit norm as the originals were."""
        codes = np.asarray(codes)
        x = self.centroids[np.arange(self.m), codes].reshape(len(codes), self.dim)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x


class Float16Codec:
    """Lossless (for ranking) codes: the float16 vector's 768 bytes. The fallback while the PQ codebook cannot keep
    `qa eval` within 0.01 of it (see README: the token store)."""

    m = 2 * 384
    digest = "float16"

    def __init__(self, dim: int = 384):
        self.dim, self.m = dim, 2 * dim

    def encode(self, states: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(states, dtype=np.float32).reshape(-1, self.dim).astype(np.float16))
        return x.view(np.uint8).reshape(-1, self.m)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(codes).view(np.float16).reshape(-1, self.dim).astype(np.float32)


@lru_cache(maxsize=1)
def codec() -> Codec | Float16Codec:
    """The store's codec. A PQ codebook is shipped data every index shares, so unchanged articles' codes can be copied
    between builds."""
    if CODEC == "float16":
        return Float16Codec()
    return Codec(np.load(CODEBOOK_PATH, allow_pickle=False))


def settings() -> dict[str, str | int]:
    """What the codes depend on, written into the manifest and checked on load."""
    c = codec()
    return {"codec": CODEC, "bytes_per_token": c.m, "codebook_sha256": c.digest}


@dataclass
class TokenBlock:
    """The compressed tokens of consecutive passages, as stored: a build concatenates new and reused blocks."""

    codes: np.ndarray  # (tokens, m) uint8
    ids: np.ndarray  # (tokens,) wordpiece ids
    spans: np.ndarray  # (tokens, 2) character spans within each passage
    lengths: np.ndarray  # (passages,) tokens per passage

    @classmethod
    def empty(cls) -> TokenBlock:
        m = codec().m
        return cls(np.zeros((0, m), np.uint8), np.zeros(0, np.uint16), np.zeros((0, 2), np.int64), np.zeros(0, np.int64))

    def passages(self, lo: int, hi: int) -> TokenBlock:
        """The tokens of passages lo..hi-1 of this block."""
        off = np.concatenate([[0], np.cumsum(self.lengths)])
        a, b = int(off[lo]), int(off[hi])
        return TokenBlock(self.codes[a:b], self.ids[a:b], self.spans[a:b], self.lengths[lo:hi])

    @classmethod
    def concat(cls, blocks: list[TokenBlock]) -> TokenBlock:
        if not blocks:
            return cls.empty()
        return cls(
            np.concatenate([b.codes for b in blocks]),
            np.concatenate([np.asarray(b.ids, dtype=np.int64) for b in blocks]),
            np.concatenate([np.asarray(b.spans, dtype=np.int64) for b in blocks]),
            np.concatenate([np.asarray(b.lengths, dtype=np.int64) for b in blocks]),
        )


def compress(states: np.ndarray, ids: np.ndarray, spans: np.ndarray, lengths: np.ndarray) -> TokenBlock:
    """Encoded passages (qa.embed.PassageTokens fields) -> a TokenBlock."""
    return TokenBlock(codec().encode(states), np.asarray(ids), np.asarray(spans), np.asarray(lengths, dtype=np.int64))


def token_idf(ids: np.ndarray, lengths: np.ndarray, vocab_size: int) -> np.ndarray:
    """BM25-style IDF of each wordpiece over passages (a passage counts once per wordpiece it holds)."""
    passage = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pairs = np.unique(passage * vocab_size + np.asarray(ids, dtype=np.int64))
    df = np.bincount(pairs % vocab_size, minlength=vocab_size).astype(np.float64)
    n = max(len(lengths), 1)
    return np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)


def write(folder: Path, block: TokenBlock, vocab_size: int) -> None:
    """Save the store's files into an index generation folder."""
    if vocab_size > 1 << 16:
        raise ValueError(f"a vocabulary of {vocab_size} wordpieces does not fit the store's uint16 ids")
    spans = np.asarray(block.spans)
    span_type = np.uint16 if not len(spans) or spans.max() < 1 << 16 else np.uint32
    np.save(folder / TOKEN_CODES, np.ascontiguousarray(block.codes, dtype=np.uint8))
    np.save(folder / TOKEN_IDS, np.asarray(block.ids, dtype=np.uint16))
    np.save(folder / TOKEN_SPANS, spans.astype(span_type).reshape(-1, 2))
    np.save(folder / TOKEN_OFFSETS, np.concatenate([[0], np.cumsum(block.lengths)]).astype(np.int64))
    np.save(folder / TOKEN_IDF, token_idf(block.ids, block.lengths, vocab_size))


class TokenStore:
    """Per-passage contextual token vectors (content wordpieces only) for late-interaction (MaxSim) reranking."""

    def __init__(self, codes: np.ndarray, ids: np.ndarray, spans: np.ndarray, offsets: np.ndarray, idf: np.ndarray):
        self.codes, self.ids, self.spans, self.offsets, self.idf = codes, ids, spans, offsets, idf
        self.codec = codec()

    @classmethod
    def load(cls, folder: Path) -> TokenStore:
        """Memory-map the store's files (raises OSError/ValueError on unreadable ones)."""
        return cls(
            np.load(folder / TOKEN_CODES, mmap_mode="r", allow_pickle=False),
            np.load(folder / TOKEN_IDS, mmap_mode="r", allow_pickle=False),
            np.load(folder / TOKEN_SPANS, mmap_mode="r", allow_pickle=False),
            np.load(folder / TOKEN_OFFSETS, allow_pickle=False),
            np.load(folder / TOKEN_IDF, allow_pickle=False),
        )

    def consistent(self, passages: int) -> bool:
        n = len(self.codes)
        return (
            len(self.offsets) == passages + 1
            and int(self.offsets[0]) == 0
            and int(self.offsets[-1]) == n
            and bool(np.all(np.diff(self.offsets) >= 0))
            and len(self.ids) == n
            and self.spans.shape == (n, 2)
            and self.codes.shape[1:] == (self.codec.m,)
        )

    def passage(self, row: int) -> np.ndarray:
        """(tokens, dim) float32 unit vectors of one passage's kept tokens."""
        return self.codec.decode(self.codes[self.offsets[row] : self.offsets[row + 1]])

    def passage_spans(self, row: int) -> np.ndarray:
        """(tokens, 2) character spans of those tokens within the passage text."""
        return np.asarray(self.spans[self.offsets[row] : self.offsets[row + 1]], dtype=np.int64)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The kept tokens of several passages, concatenated: (tokens, dim) float32 and each passage's count."""
        lo, hi = self.offsets[rows], self.offsets[np.asarray(rows) + 1]
        if not len(lo) or not (hi - lo).sum():
            return np.zeros((0, self.codec.dim), np.float32), hi - lo
        codes = np.concatenate([self.codes[a:b] for a, b in zip(lo, hi)])
        return self.codec.decode(codes), hi - lo

    def block(self, rows: list[int]) -> TokenBlock:
        """The stored tokens of these passages, copied as they are (a build reuses an unchanged article's)."""
        sl = [slice(self.offsets[r], self.offsets[r + 1]) for r in rows]
        return TokenBlock(
            np.concatenate([self.codes[s] for s in sl]) if sl else np.zeros((0, self.codec.m), np.uint8),
            np.concatenate([self.ids[s] for s in sl]) if sl else np.zeros(0, np.uint16),
            np.concatenate([self.spans[s] for s in sl]) if sl else np.zeros((0, 2), np.int64),
            np.asarray([s.stop - s.start for s in sl], dtype=np.int64),
        )
