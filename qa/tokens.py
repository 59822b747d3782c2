"""The token store for late-interaction reranking: content wordpieces only, each occurrence of a wordpiece that a
passage repeats (or shares with its neighbour through the overlapping sentence) pointing at one shared code, 160
bytes a code (product quantisation), memory-mapped."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .onnx_runtime import file_sha256

# The store's columns (qa.index writes them as appendable raw files):
#   token_codes (codes, code_size) uint8: product-quantisation codes, each shared by one group of tokens (compress)
#   token_refs (tokens,) uint32: the code row of each kept token
#   token_ids (tokens,) uint16: their wordpiece ids
#   token_spans (tokens, 2) uint16 or uint32: their character spans within the passage
#   token_offsets (passages + 1,) int64: passage i owns tokens [off[i], off[i+1])
#   token_code_ranges (passages, 2) int64: the rows of token_codes passage i's tokens point into lie in [lo, hi),
#     so a query can ask the kernel for a candidate's codes without reading its refs first (qa.retrieve._prefetch)
# and token_df (vocab,) int64, how many live passages hold each wordpiece (its IDF is computed on load), which
# every build re-writes.
COLUMNS = ("token_codes", "token_refs", "token_ids", "token_spans", "token_offsets", "token_code_ranges")


CODEBOOK_FILE = Path(__file__).with_name("token_codec.npz")  # fitted by bench/train_token_codec.py


class PQCodec:
    """A unit token vector as a short code: product quantisation in parts. The dimensions, put in order of their
    variance (`perm`), are cut into consecutive parts; part i cuts its dimensions into groups of `dsub_i` and
    replaces each group by the nearest of 256 centroids (one byte). The centroids are fitted once on text no question
    set asks about (bench/train_token_codec.py). Decoding renormalises.

    The shipped codebook spends 64 bytes on the 192 dimensions of least variance (groups of 3) and 96 on the rest
    (groups of 2): 160 bytes a code, cosine to the original 0.989 (bench/train_token_codec.py), encoded as fast as
    192 groups of 2 (faiss's distance kernels have no case for 3 dimensions, so a group of 3 is padded to 4)."""

    def __init__(self, perm: np.ndarray, parts: list[np.ndarray], trained_on: str = ""):
        self.perm = np.asarray(perm, dtype=np.intp)
        self.parts = [np.ascontiguousarray(c, dtype=np.float32) for c in parts]
        if any(c.ndim != 3 or c.shape[1] != 256 for c in self.parts):
            raise ValueError(f"a codebook part is (groups, 256, group size) centroids, not {[c.shape for c in parts]}")
        self.dim = sum(c.shape[0] * c.shape[2] for c in self.parts)
        if sorted(self.perm.tolist()) != list(range(self.dim)):
            raise ValueError(f"a codebook's dimension order must hold each of its {self.dim} dimensions once")
        self.trained_on = trained_on
        self.code_size = sum(c.shape[0] for c in self.parts)  # bytes a code
        self._pq: list | None = None
        # Decoding table: one row of `width` floats per (byte, centroid), groups zero-padded to the widest, and where
        # each dimension lands in a decoded row of code_size * width floats. One gather by rows, one by columns:
        # 3x faster than a gather and a column scatter per part (1.4 ms for a query's ~1,600 candidate tokens).
        width = max(c.shape[2] for c in self.parts)
        table = np.zeros((self.code_size, 256, width), np.float32)
        at, pos = 0, []
        for c in self.parts:
            m, _, d = c.shape
            table[at : at + m, :, :d] = c
            pos.append(((at + np.arange(m))[:, None] * width + np.arange(d)[None, :]).ravel())
            at += m
        self._table = table.reshape(-1, width)
        self._base = np.arange(self.code_size, dtype=np.intp) * 256
        self._unpad = np.empty(self.dim, np.intp)
        self._unpad[self.perm] = np.concatenate(pos)

    @classmethod
    def load(cls, path: Path) -> PQCodec:
        with np.load(path, allow_pickle=False) as z:
            parts = [z[f"centroids_{i}"] for i in range(int(z["parts"]))]
            return cls(z["perm"], parts, str(z["trained_on"]))

    def save(self, path: Path, **extra) -> None:
        np.savez_compressed(path, perm=self.perm, parts=np.array(len(self.parts)), trained_on=np.array(self.trained_on),
                            **{f"centroids_{i}": c for i, c in enumerate(self.parts)}, **extra)

    @property
    def name(self) -> str:
        return "pq-" + "+".join(f"{c.shape[0]}x{c.shape[2]}d" for c in self.parts)

    @staticmethod
    def _padded(d: int) -> int:
        return 4 if d == 3 else d

    def _quantizers(self) -> list:
        if self._pq is None:
            import faiss

            out = []
            for c in self.parts:
                m, _, d = c.shape
                p = self._padded(d)
                padded = np.zeros((m, 256, p), np.float32)
                padded[:, :, :d] = c
                pq = faiss.ProductQuantizer(m * p, m, 8)
                faiss.copy_array_to_vector(padded.ravel(), pq.centroids)
                out.append(pq)
            self._pq = out
        return self._pq

    def encode(self, states: np.ndarray) -> np.ndarray:
        """(n, dim) float vectors -> (n, code_size) uint8 codes."""
        x = np.asarray(states, dtype=np.float32).reshape(-1, self.dim)[:, self.perm]
        codes, at = [], 0
        for c, pq in zip(self.parts, self._quantizers()):
            m, _, d = c.shape
            part = x[:, at : at + m * d]
            at += m * d
            p = self._padded(d)
            if p != d:
                part = np.concatenate([part.reshape(len(x), m, d), np.zeros((len(x), m, p - d), np.float32)], axis=2)
            codes.append(pq.compute_codes(np.ascontiguousarray(part.reshape(len(x), m * p))) if len(x)
                         else np.zeros((0, m), np.uint8))
        return np.hstack(codes)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, code_size) codes -> (n, dim) float32 unit vectors: a gather from the centroid table, no faiss thread
        pool on the query path."""
        c = np.asarray(codes, dtype=np.uint8).reshape(-1, self.code_size)
        if not len(c):
            return np.zeros((0, self.dim), np.float32)
        rows = np.add(c, self._base, dtype=np.intp)
        x = self._table.take(rows.ravel(), axis=0).reshape(len(c), -1).take(self._unpad, axis=1)
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
    return {"codec": codec().name, "bytes_per_token": codec().code_size, "codebook_sha256": _codebook_sha256(),
            "tokens": "content wordpieces", "shared": "repeats in a passage, the overlap with the previous passage"}


@dataclass
class TokenBlock:
    """The compressed tokens of consecutive passages, as stored: a build concatenates new and reused blocks. Tokens
    point into the block's own codes (`refs`); no code is shared between articles, so an article's block can be
    copied or dropped on its own."""

    codes: np.ndarray  # (codes, code_size) uint8
    refs: np.ndarray  # (tokens,) each token's row of `codes`
    ids: np.ndarray  # (tokens,) wordpiece ids
    spans: np.ndarray  # (tokens, 2) character spans within each passage
    lengths: np.ndarray  # (passages,) tokens per passage

    @classmethod
    def empty(cls) -> TokenBlock:
        return cls(np.zeros((0, codec().code_size), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.uint16),
                   np.zeros((0, 2), np.int64), np.zeros(0, np.int64))

    @cached_property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    def passages(self, lo: int, hi: int) -> TokenBlock:
        """The tokens of passages lo..hi-1 of this block, with only the codes they point at."""
        a, b = int(self.offsets[lo]), int(self.offsets[hi])
        return _with_codes(self.codes, self.refs[a:b], self.ids[a:b], self.spans[a:b], self.lengths[lo:hi])

    @classmethod
    def concat(cls, blocks: list[TokenBlock]) -> TokenBlock:
        if not blocks:
            return cls.empty()
        base = np.concatenate([[0], np.cumsum([len(b.codes) for b in blocks])[:-1]]).astype(np.int64)
        return cls(
            np.concatenate([b.codes for b in blocks]),
            np.concatenate([np.asarray(b.refs, dtype=np.int64) + o for b, o in zip(blocks, base)]),
            np.concatenate([np.asarray(b.ids, dtype=np.int64) for b in blocks]),
            np.concatenate([np.asarray(b.spans, dtype=np.int64) for b in blocks]),
            np.concatenate([np.asarray(b.lengths, dtype=np.int64) for b in blocks]),
        )


def _with_codes(codes: np.ndarray, refs: np.ndarray, ids: np.ndarray, spans: np.ndarray,
                lengths: np.ndarray) -> TokenBlock:
    """A block of these tokens holding only the rows of `codes` they point at, in their order."""
    used, local = np.unique(np.asarray(refs, dtype=np.int64), return_inverse=True)
    return TokenBlock(np.asarray(codes[used]).reshape(-1, codec().code_size), local.astype(np.int64), np.asarray(ids),
                      np.asarray(spans), np.asarray(lengths, dtype=np.int64))


def share(ids: np.ndarray, spans: np.ndarray, lengths: np.ndarray, starts: np.ndarray,
          articles: np.ndarray) -> np.ndarray:
    """Which tokens share one code: the group number of each token, groups numbered by their first token.

    Two tokens are in one group when a passage holds the same wordpiece twice, or when two passages of one article
    hold the same wordpiece at the same place of the article (the sentence consecutive passages overlap on), and
    groups join through shared members. A group's code is the mean of its members' vectors: on the development
    index this kept every `qa eval` figure within a question or two of a code a token, with 58% of the codes
    (README, the token store). `starts` are the passages' offsets in their article, `articles` their article."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(ids)
    if not n:
        return np.zeros(0, np.int64)
    passage = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    ids = np.asarray(ids, dtype=np.int64)
    spans = np.asarray(spans, dtype=np.int64)
    article = np.asarray(articles, dtype=np.int64)[passage]
    at = spans[:, 0] + np.asarray(starts, dtype=np.int64)[passage]
    edges = []
    for key in (np.stack([passage, ids], 1), np.stack([article, at, spans[:, 1] - spans[:, 0], ids], 1)):
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        edges.append((np.arange(n), first[inverse.ravel()]))  # tokens with equal keys: each linked to the first
    a = np.concatenate([e[0] for e in edges])
    b = np.concatenate([e[1] for e in edges])
    _, label = connected_components(coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n)), directed=False)
    # number the groups by their first token, so codes follow the passages' order
    head = np.full(label.max() + 1, n, np.int64)
    np.minimum.at(head, label, np.arange(n))
    order = np.argsort(head, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[label]


def compress(states: np.ndarray, ids: np.ndarray, spans: np.ndarray, lengths: np.ndarray,
             starts: np.ndarray | None = None, articles: np.ndarray | None = None) -> TokenBlock:
    """Encoded passages (qa.embed.PassageTokens fields) -> a TokenBlock, one code a group of tokens (`share`).
    Without the passages' article offsets and articles, each passage is taken as an article of its own."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if starts is None or articles is None:
        starts, articles = np.zeros(len(lengths), np.int64), np.arange(len(lengths))
    group = share(ids, spans, lengths, starts, articles)
    states = np.asarray(states, dtype=np.float32).reshape(len(group), -1)
    groups = int(group.max()) + 1 if len(group) else 0
    mean = np.zeros((groups, states.shape[1]), np.float32)
    np.add.at(mean, group, states)
    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return TokenBlock(codec().encode(mean), group, np.asarray(ids), np.asarray(spans), lengths)


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
    """The store's columns for a block of passages, as qa.index writes them (offsets and refs start at 0)."""
    if vocab_size > 1 << 16:
        raise ValueError(f"a vocabulary of {vocab_size} wordpieces does not fit the store's uint16 ids")
    spans = np.asarray(block.spans)
    span_type = np.uint16 if not len(spans) or spans.max() < 1 << 16 else np.uint32
    refs = np.asarray(block.refs, dtype=np.int64)
    return {
        "token_codes": np.ascontiguousarray(block.codes, dtype=np.uint8).reshape(-1, codec().code_size),
        "token_refs": refs.astype(np.uint32 if not len(refs) or refs.max() < 1 << 32 else np.uint64),
        "token_ids": np.asarray(block.ids, dtype=np.uint16),
        "token_spans": spans.astype(span_type).reshape(-1, 2),
        "token_offsets": block.offsets,
        "token_code_ranges": code_ranges(refs, block.offsets),
    }


def code_ranges(refs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(passages, 2): the rows [lo, hi) of the codes each passage's tokens point into ([0, 0) for none)."""
    n = len(offsets) - 1
    out = np.zeros((n, 2), np.int64)
    has = np.diff(offsets) > 0
    if len(refs) and has.any():
        starts = np.asarray(offsets[:-1])[has]
        out[has, 0] = np.minimum.reduceat(refs, starts)
        out[has, 1] = np.maximum.reduceat(refs, starts) + 1
    return out


class TokenStore:
    """Per-passage contextual token vectors (content wordpieces only) for late-interaction (MaxSim) reranking."""

    def __init__(self, codes: np.ndarray, refs: np.ndarray, ids: np.ndarray, spans: np.ndarray, offsets: np.ndarray,
                 code_ranges: np.ndarray, idf: np.ndarray):
        self.codes, self.refs, self.ids, self.spans, self.offsets = codes, refs, ids, spans, offsets
        self.code_ranges, self.idf = code_ranges, idf
        self.codec = codec()

    def df(self, rows: np.ndarray, vocab_size: int) -> np.ndarray:
        """token_df over these passages' stored tokens."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = [self.ids[self.offsets[r] : self.offsets[r + 1]] for r in rows]
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        return token_df(np.concatenate(ids) if ids else np.zeros(0, np.int64), lengths, vocab_size)

    def consistent(self, passages: int) -> bool:
        """The columns agree in length and every passage's code range lies in the codes (checked without reading the
        refs, which a large index keeps on disk)."""
        n, codes = len(self.refs), len(self.codes)
        r = self.code_ranges
        return (
            len(self.offsets) == passages + 1
            and int(self.offsets[0]) == 0
            and int(self.offsets[-1]) == n
            and bool(np.all(np.diff(self.offsets) >= 0))
            and len(self.ids) == n
            and self.spans.shape == (n, 2)
            and self.codes.shape[1:] == (self.codec.code_size,)
            and r.shape == (passages, 2)
            and bool(np.all((r[:, 0] >= 0) & (r[:, 0] <= r[:, 1]) & (r[:, 1] <= codes)))
        )

    def passage(self, row: int) -> np.ndarray:
        """(tokens, dim) float32 unit vectors of one passage's kept tokens."""
        return self.gather(np.array([row]))[0]

    def passage_spans(self, row: int) -> np.ndarray:
        """(tokens, 2) character spans of those tokens within the passage text."""
        return np.asarray(self.spans[self.offsets[row] : self.offsets[row + 1]], dtype=np.int64)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The kept tokens of several passages, concatenated: (tokens, dim) float32 and each passage's count."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        if not len(rows) or not lengths.sum():
            return np.zeros((0, self.codec.dim), np.float32), lengths
        lo, hi = self.offsets[rows], self.offsets[rows + 1]
        refs = np.concatenate([self.refs[a:b] for a, b in zip(lo, hi)]).astype(np.int64)
        owner = np.repeat(np.arange(len(rows)), lengths)
        bounds = self.code_ranges[rows]
        bad = np.flatnonzero((refs < bounds[owner, 0]) | (refs >= bounds[owner, 1]))
        if len(bad):
            from .errors import IndexCorruptError

            raise IndexCorruptError(
                f"Passage {int(rows[owner[bad[0]]])}'s token refs point outside its codes: the index is damaged. "
                "Rebuild it with `qa build --force`."
            )
        used, where = np.unique(refs, return_inverse=True)  # a code shared within the candidates is decoded once
        return self.codec.decode(self.codes[used])[where.ravel()], lengths

    def block(self, rows: list[int]) -> TokenBlock:
        """The stored tokens of these passages with the codes they point at (a build reuses an unchanged article's)."""
        sl = [slice(int(self.offsets[r]), int(self.offsets[r + 1])) for r in rows]
        if not sl:
            return TokenBlock.empty()
        return _with_codes(
            self.codes,
            np.concatenate([self.refs[s] for s in sl]),
            np.concatenate([self.ids[s] for s in sl]),
            np.concatenate([np.asarray(self.spans[s], dtype=np.int64) for s in sl]),
            np.asarray([s.stop - s.start for s in sl], dtype=np.int64),
        )
