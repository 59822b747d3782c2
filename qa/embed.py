"""Texts -> L2-normalised vectors and contextual token vectors, one forward pass each (qa.onnx_runtime runs the model)."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np

from . import config
from .onnx_runtime import Runtime, int8_identity, runtime, verify_model

log = logging.getLogger(__name__)
_lock = threading.Lock()

# Words a question asks with rather than about; with the BM25 stopwords they carry no match of their own.
_QUESTION_WORDS = frozenset({"what", "who", "whom", "which", "when", "where", "why", "how", "did", "does", "do"})


@dataclass(frozen=True)
class PassageTokens:
    """A batch of passages encoded in one forward pass each.

    vectors: (passages, dim) unit vectors, mean-pooled over every token as sentence-transformers pools them.
    lengths: (passages,) how many of each passage's tokens are kept (content wordpieces, see stored_token_mask).
    states: (kept tokens, dim) unit contextual vectors of the kept tokens, passage after passage.
    ids: (kept tokens,) their wordpiece ids.
    spans: (kept tokens, 2) their character spans within the passage text.
    """

    vectors: np.ndarray
    lengths: np.ndarray
    states: np.ndarray
    ids: np.ndarray
    spans: np.ndarray


def build_threads() -> int:
    """Encoder threads for builds: every core ($QA_ENCODE_THREADS overrides); questions always use one."""
    return max(1, int(os.environ.get("QA_ENCODE_THREADS") or os.cpu_count() or 1))


def _runtime(threads: int = 1, kind: str = "fp32") -> Runtime:
    with _lock:
        return runtime(threads, kind)


def encoder_identity() -> dict[str, str | int]:
    """What produces the vectors (runtime, its version, the sha256 of the export that encodes questions and of the
    int8 model that encodes passages and sentences): recorded in and checked against the index manifest, since
    vectors from another export are not comparable with this one's questions."""
    return {**_runtime(1).identity, "passage_export_sha256": int8_identity()}


@lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_thread():
    """Run BLAS on one thread for the query path. A question's matrices are tiny: extra BLAS threads only
    spin and contend, which on a busy 2-core machine made a query 10x slower (bench/latency.py)."""
    return _blas().limit(limits=1, user_api="blas")


def _mean_pool(h: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the unmasked tokens, L2-normalised: sentence-transformers' pooling for this model."""
    m = mask[:, :, None].astype(np.float32)
    pooled = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled.astype(np.float32, copy=False)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _by_length(lengths: Sequence[int], budget: int) -> Iterator[np.ndarray]:
    """Positions of the texts in batches of similar length, so little of each batch is padding, each holding at most
    `budget` tokens once padded to its longest text (a longer text gets a batch of its own)."""
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or (end - start + 1) * lengths[order[end]] > budget:
            yield order[start:end]
            start = end


def progress_bar(total: int, desc: str, show: bool, unit: str = " texts"):
    """A tqdm bar with an ETA (on stderr) when show is true, else None."""
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


def _encode(rt: Runtime, texts: Sequence[str], budget: int, bar=None) -> np.ndarray:
    out = np.empty((len(texts), rt.dim), dtype=np.float32)
    if not len(texts):
        return out
    seqs = [e.ids for e in rt.tokenize(texts)]
    for idx in _by_length([len(s) for s in seqs], budget):
        h, mask = rt.hidden_states([seqs[i] for i in idx])
        out[idx] = _mean_pool(h, mask)
        if bar is not None:
            bar.update(len(idx))
    return out


def encode_queries(texts: Sequence[str]) -> np.ndarray:
    """Embed questions: (len(texts), dim) float32 unit vectors, on one thread."""
    rt = _runtime(1)
    with single_thread():
        return _encode(rt, texts, config.EMBED_BATCH_TOKENS)


def encode_query_tokens(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The question's vector plus its contextual token vectors (unit norm) and wordpiece ids, [CLS]/[SEP] dropped,
    from one forward pass."""
    rt = _runtime(1)
    with single_thread():
        seq = rt.tokenize([text])[0].ids
        h, mask = rt.hidden_states([seq])
        return _mean_pool(h, mask)[0], _unit(h[0, 1 : len(seq) - 1]), np.asarray(seq[1:-1], dtype=np.int32)


def encode_sentences(texts: Sequence[str], *, bar=None) -> np.ndarray:
    """Embed sentences for the index on every core with the int8 model: (len(texts), dim) float32 unit vectors.

    Args:
        texts: sentence texts.
        bar: a tqdm bar to advance by the number of sentences done, or None.
    """
    return _encode(_runtime(build_threads(), "int8"), texts, config.EMBED_BATCH_TOKENS, bar)


def encode_passages(texts: Sequence[str], *, bar=None) -> PassageTokens:
    """Embed passages on every core with the int8 model, one forward pass each: the passage vector and its kept
    tokens' vectors.

    Args:
        texts: passage texts.
        bar: a tqdm bar to advance by the number of passages done, or None.
    """
    rt = _runtime(build_threads(), "int8")
    n = len(texts)
    encodings = rt.tokenize(texts)
    seqs = [e.ids for e in encodings]
    keep_mask = stored_token_mask()
    kept = [np.flatnonzero(keep_mask[np.asarray(s[1:-1], dtype=np.int64)]) + 1 for s in seqs]  # positions in seq
    lengths = np.fromiter((len(k) for k in kept), dtype=np.int64, count=n)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    vectors = np.empty((n, rt.dim), dtype=np.float32)
    states = np.empty((int(starts[-1]), rt.dim), dtype=np.float32)
    ids = np.empty(int(starts[-1]), dtype=np.int32)
    spans = np.empty((int(starts[-1]), 2), dtype=np.int32)
    for idx in _by_length([len(s) for s in seqs], config.EMBED_BATCH_TOKENS):
        h, mask = rt.hidden_states([seqs[i] for i in idx])
        vectors[idx] = _mean_pool(h, mask)
        for j, i in enumerate(idx):
            lo, hi = starts[i], starts[i + 1]
            states[lo:hi] = _unit(h[j, kept[i]])
            ids[lo:hi] = np.asarray(seqs[i], dtype=np.int32)[kept[i]]
            offs = encodings[i].offsets
            spans[lo:hi] = [offs[p] for p in kept[i]] if hi > lo else np.zeros((0, 2), np.int32)
        if bar is not None:
            bar.update(len(idx))
    return PassageTokens(vectors, lengths, states, ids, spans)


@lru_cache(maxsize=1)
def _vocab() -> dict[str, int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(verify_model() / "tokenizer.json")).get_vocab()


def _stop_pieces() -> frozenset[str]:
    from .bm25 import stopwords

    return stopwords() | _QUESTION_WORDS


@lru_cache(maxsize=1)
def content_token_mask() -> np.ndarray:
    """True for wordpieces that carry meaning in a question: whole words, not stopwords or punctuation."""
    vocab, stop = _vocab(), _stop_pieces()
    mask = np.zeros(max(vocab.values()) + 1, bool)
    for tok, i in vocab.items():
        mask[i] = tok.isalnum() and tok not in stop and not tok.startswith("[")
    return mask


@lru_cache(maxsize=1)
def stored_token_mask() -> np.ndarray:
    """True for the passage wordpieces kept in the token store: everything but stopwords, punctuation and the
    special tokens. A question's content word finds its best match among these (see README: the token store)."""
    vocab, stop = _vocab(), _stop_pieces()
    mask = np.zeros(max(vocab.values()) + 1, bool)
    for tok, i in vocab.items():
        mask[i] = any(ch.isalnum() for ch in tok) and tok not in stop and not tok.startswith("[")
    return mask
