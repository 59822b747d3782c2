"""The token store for late-interaction reranking: content wordpieces only, 192 bytes a token (product
quantisation), memory-mapped."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .onnx_runtime import file_sha256

# The store's columns (qa.index writes them as appendable raw files):
#   token_codes (tokens, m) uint8: each kept token's product-quantisation code
#   token_ids (tokens,) uint16: their wordpiece ids
#   token_spans (tokens, 2) uint16 or uint32: their character spans within the passage
#   token_offsets (passages + 1,) int64: passage i owns tokens [off[i], off[i+1])
# and token_df (vocab,) int64, how many live passages hold each wordpiece (its IDF is computed on load), which
# every build re-writes.
COLUMNS = ("token_codes", "token_ids", "token_spans", "token_offsets")


CODEBOOK_FILE = Path(__file__).with_name("token_codec.npz")  # fitted by bench/train_token_codec.py


class PQCodec:
    """A unit token vector as 192 bytes: product quantisation over pairs of dimensions, each pair replaced by the
    nearest of 256 centroids fitted once on text no question set asks about (bench/train_token_codec.py). Half the
    bytes of int8 per dimension, cosine to the original ~0.996, and `qa eval` within a question of int8 on every
    set; 96 or 128 bytes (cosine 0.955 / 0.98) lost two of the seeds' 70 holdout and blind questions at hit@1
    (README, the token store). Decoding renormalises."""

    def __init__(self, centroids: np.ndarray, trained_on: str = ""):
        c = np.ascontiguousarray(centroids, dtype=np.float32)
        if c.ndim != 3 or c.shape[1] != 256:
            raise ValueError(f"a codebook is (sub-quantisers, 256, sub-dimension) centroids, not {c.shape}")
        self.centroids, self.trained_on = c, trained_on
        self.m, _, self.dsub = c.shape  # m: bytes a token
        self.dim = self.m * self.dsub
        self._pq = None
        self._flat = c.reshape(-1, self.dsub)  # row 256 * i + code: sub-quantiser i's centroid
        self._base = np.arange(self.m, dtype=np.intp) * 256

    @classmethod
    def load(cls, path: Path) -> PQCodec:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["centroids"], str(z["trained_on"]))

    def _quantizer(self):
        if self._pq is None:
            import faiss

            pq = faiss.ProductQuantizer(self.dim, self.m, 8)
            faiss.copy_array_to_vector(self.centroids.ravel(), pq.centroids)
            self._pq = pq
        return self._pq

    def encode(self, states: np.ndarray) -> np.ndarray:
        """(n, dim) float vectors -> (n, m) uint8 codes."""
        x = np.ascontiguousarray(np.asarray(states, dtype=np.float32).reshape(-1, self.dim))
        if not len(x):
            return np.zeros((0, self.m), np.uint8)
        return self._quantizer().compute_codes(x)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, m) codes -> (n, dim) float32 unit vectors."""
        c = np.ascontiguousarray(np.asarray(codes, dtype=np.uint8).reshape(-1, self.m))
        if not len(c):
            return np.zeros((0, self.dim), np.float32)
        # a gather from the flat centroid table: no faiss thread pool on the query path (0.6 ms for 1,600 tokens)
        x = self._flat.take((c.astype(np.intp) + self._base).ravel(), axis=0).reshape(len(c), self.dim)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x


@lru_cache(maxsize=1)
def codec() -> PQCodec:
    return PQCodec.load(CODEBOOK_FILE)


@lru_cache(maxsize=1)
def _codebook_sha256() -> str:
    return file_sha256(CODEBOOK_FILE)


def settings() -> dict[str, str | int]:
    """What the codes depend on, written into the manifest and checked on load."""
    return {"codec": f"pq-{codec().m}x8", "bytes_per_token": codec().m, "codebook_sha256": _codebook_sha256(),
            "tokens": "content wordpieces"}


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
        return cls(np.zeros((0, m), np.uint8), np.zeros(0, np.uint16), np.zeros((0, 2), np.int64),
                   np.zeros(0, np.int64))

    @cached_property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    def passages(self, lo: int, hi: int) -> TokenBlock:
        """The tokens of passages lo..hi-1 of this block."""
        a, b = int(self.offsets[lo]), int(self.offsets[hi])
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


def token_df(ids: np.ndarray, lengths: np.ndarray, vocab_size: int) -> np.ndarray:
    """How many of these passages hold each wordpiece (a passage counts once per wordpiece it holds)."""
    passage = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pairs = np.unique(passage * vocab_size + np.asarray(ids, dtype=np.int64))
    return np.bincount(pairs % vocab_size, minlength=vocab_size).astype(np.int64)


def idf_from_df(df: np.ndarray, passages: int) -> np.ndarray:
    """BM25-style IDF of each wordpiece over `passages` passages."""
    n = max(passages, 1)
    df = np.asarray(df, dtype=np.float64)
    return np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)


def columns(block: TokenBlock, vocab_size: int) -> dict[str, np.ndarray]:
    """The store's columns for a block of passages, as qa.index writes them (offsets start at 0)."""
    if vocab_size > 1 << 16:
        raise ValueError(f"a vocabulary of {vocab_size} wordpieces does not fit the store's uint16 ids")
    spans = np.asarray(block.spans)
    span_type = np.uint16 if not len(spans) or spans.max() < 1 << 16 else np.uint32
    return {
        "token_codes": np.ascontiguousarray(block.codes, dtype=np.uint8),
        "token_ids": np.asarray(block.ids, dtype=np.uint16),
        "token_spans": spans.astype(span_type).reshape(-1, 2),
        "token_offsets": block.offsets,
    }


class TokenStore:
    """Per-passage contextual token vectors (content wordpieces only) for late-interaction (MaxSim) reranking."""

    def __init__(self, codes: np.ndarray, ids: np.ndarray, spans: np.ndarray, offsets: np.ndarray, idf: np.ndarray):
        self.codes, self.ids, self.spans, self.offsets, self.idf = codes, ids, spans, offsets, idf
        self.codec = codec()

    def df(self, rows: np.ndarray, vocab_size: int) -> np.ndarray:
        """token_df over these passages' stored tokens."""
        block = self.block([int(r) for r in rows])
        return token_df(block.ids, block.lengths, vocab_size)

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
