"""Pure-numpy all-MiniLM-L6-v2 sentence encoder, so the query path never imports torch."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

log = logging.getLogger(__name__)

# Rational erf(x) ~ x * P(x^2) / Q(x^2) on [-4, 4] (the Eigen/XLA fit). Evaluated in float64
# its max abs error is ~6.5e-8; in float32 the rounding alone would push it to ~4e-7.
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)
# Elementwise chains are memory-bound: cache-sized slices written into reused buffers run
# ~2-3x faster than whole-array temporaries.
_GELU_CHUNK = 1 << 14


def _horner(coeffs: Sequence[float], x: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.multiply(x, coeffs[0], out=out)
    for c in coeffs[1:-1]:
        out += c
        out *= x
    out += coeffs[-1]
    return out


def _erf(x: np.ndarray, work: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """erf evaluated in float64; `work` (three float64 arrays shaped like x) avoids allocations."""
    x2, num, den = work if work is not None else [np.empty(np.shape(x)) for _ in range(3)]
    xc = np.clip(x, -4.0, 4.0, out=den)  # |erf(4)| = 1 - 1.5e-8; den is free until the last step
    np.multiply(xc, xc, out=x2)
    _horner(_ERF_P, x2, num)
    num *= xc
    num /= _horner(_ERF_Q, x2, den)
    return num


def _gelu_(h: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, in place on a contiguous float32 array."""
    flat = h.reshape(-1)
    bufs = [np.empty(min(_GELU_CHUNK, flat.size)) for _ in range(4)]
    for start in range(0, flat.size, _GELU_CHUNK):
        seg = flat[start:start + _GELU_CHUNK]
        z, *work = (b[:seg.size] for b in bufs)
        phi = _erf(np.multiply(seg, 1.0 / math.sqrt(2.0), out=z), work)
        phi += 1.0
        phi *= 0.5
        seg *= phi
    return h


def _layer_norm_(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    x -= x.mean(axis=-1, keepdims=True)
    x /= np.sqrt(np.square(x).mean(axis=-1, keepdims=True) + eps)
    x *= gamma
    x += beta
    return x


class Encoder:
    """What every runtime of the model shares: the tokenizer set up as sentence-transformers does, length-sorted
    batching, and per-token outputs. A subclass runs the network in `_run(seqs) -> (pooled, per-text states)`."""

    def _init_tokenizer(self, root: Path) -> None:
        cfg = json.loads((root / "config.json").read_text())
        st_cfg = json.loads((root / "sentence_bert_config.json").read_text())
        self._hidden = int(cfg["hidden_size"])
        self._max_len = min(int(st_cfg["max_seq_length"]), int(cfg["max_position_embeddings"]))
        self._tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        # tokenizer.json ships with truncation=128 and fixed padding to 128; sentence-transformers
        # overrides both, so we must too or long texts diverge and short ones pay for 128 tokens.
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=self._max_len)

    @property
    def dim(self) -> int:
        return self._hidden

    def _run(self, seqs: list[list[int]]) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError

    def _batches(self, texts: Sequence[str], batch_size: int):
        """(input positions, their token ids) per batch; similar lengths per batch keep wasted work small."""
        if isinstance(texts, str):
            raise TypeError("expected a sequence of strings, not a single string")
        ids = [e.ids for e in self._tok.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            yield idx, [ids[i] for i in idx]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts; returns float32 (len(texts), dim) with unit-norm rows in input order."""
        out = np.empty((len(texts), self._hidden), dtype=np.float32)
        for idx, seqs in self._batches(texts, batch_size):
            out[idx] = self._run(seqs)[0]
        return out

    def encode_tokens(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per text: the sentence vector, the unit-norm contextual vectors of its tokens ([CLS]/[SEP] dropped)
        and their wordpiece ids, all from one forward pass (for late-interaction scoring)."""
        out: list = [None] * len(texts)
        for idx, seqs in self._batches(texts, batch_size):
            pooled, states = self._run(seqs)
            for j, i in enumerate(idx):
                t = states[j][1:-1]
                t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
                out[i] = (pooled[j], np.ascontiguousarray(t), np.asarray(seqs[j][1:-1], dtype=np.int32))
        return out

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the wordpieces that encode_tokens returns for text."""
        return self._tok.encode(text).offsets[1:-1]


class MiniLM(Encoder):
    """BERT encoder + mean pooling + L2 normalisation, numerically matching sentence-transformers.

    Weights are transposed and Q/K/V fused once at load time so each layer is three GEMMs plus
    attention, which keeps single-query latency in the low milliseconds.
    """

    def __init__(self, model_dir: str | os.PathLike):
        t0 = time.perf_counter()
        root = Path(model_dir)
        cfg = json.loads((root / "config.json").read_text())
        pool_cfg = json.loads((root / "1_Pooling" / "config.json").read_text())
        variant = (cfg.get("hidden_act"), cfg.get("position_embedding_type", "absolute"))
        if variant != ("gelu", "absolute"):
            raise ValueError(f"unsupported BERT variant in {root / 'config.json'}")
        modes = {k for k, v in pool_cfg.items() if k.startswith("pooling_mode_") and v}
        if modes != {"pooling_mode_mean_tokens"}:
            raise ValueError(f"only mean pooling is implemented, got {sorted(modes)}")

        self._init_tokenizer(root)
        self._heads = int(cfg["num_attention_heads"])
        self._eps = float(cfg["layer_norm_eps"])

        w = {k.removeprefix("bert."): v for k, v in load_file(str(root / "model.safetensors")).items()}

        def f32(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            # torch stores (out, in); a contiguous (in, out) copy lets every layer be a plain x @ W.
            return np.ascontiguousarray(f32(name + ".weight").T), f32(name + ".bias")

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return f32(name + ".weight"), f32(name + ".bias")

        self._word = f32("embeddings.word_embeddings.weight")
        # token_type_ids are always 0 for single sentences, so fold that row into the positions.
        self._pos = (f32("embeddings.position_embeddings.weight")[:self._max_len]
                     + f32("embeddings.token_type_embeddings.weight")[0])
        self._emb_ln = norm("embeddings.LayerNorm")
        scale = 1.0 / math.sqrt(self._hidden // self._heads)  # folded into Q: no per-score rescale
        self._layers = []
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            (wq, bq), (wk, bk), (wv, bv) = (linear(att + n) for n in ("query", "key", "value"))
            self._layers.append((
                np.concatenate([wq * scale, wk, wv], axis=1), np.concatenate([bq * scale, bk, bv]),
                *linear(p + "attention.output.dense"), norm(p + "attention.output.LayerNorm"),
                *linear(p + "intermediate.dense"), *linear(p + "output.dense"), norm(p + "output.LayerNorm"),
            ))
        log.debug("loaded MiniLM from %s in %.3fs", root, time.perf_counter() - t0)

    def _run(self, seqs: list[list[int]]) -> tuple[np.ndarray, list[np.ndarray]]:
        pooled, h, bounds = self._forward(seqs, return_tokens=True)
        return pooled, [h[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]

    def _forward(self, seqs: list[list[int]], return_tokens: bool = False):
        """Run the encoder on a batch packed as one (tokens, hidden) matrix.

        Packing instead of padding means the dense layers never see pad tokens, and attention
        runs per sequence over its own keys only, which is exactly what masking padded keys
        to -inf would compute, with no wasted work.
        """
        lengths = np.array([len(s) for s in seqs])
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        nh, hd = self._heads, self._hidden // self._heads
        ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
        positions = np.concatenate([np.arange(n) for n in lengths])
        h = _layer_norm_(self._word[ids] + self._pos[positions], *self._emb_ln, self._eps)
        ctx = np.empty((len(ids), nh, hd), dtype=np.float32)
        for wqkv, bqkv, wo, bo, ln1, wi, bi, wo2, bo2, ln2 in self._layers:
            qkv = h @ wqkv
            qkv += bqkv
            qkv = qkv.reshape(-1, 3, nh, hd)
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                q, k, v = qkv[lo:hi].transpose(1, 2, 0, 3)  # each (heads, n, head_dim)
                scores = q @ k.transpose(0, 2, 1)
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                ctx[lo:hi] = (scores @ v).transpose(1, 0, 2)
            attn = ctx.reshape(-1, self._hidden) @ wo
            attn += bo
            attn += h
            h = _layer_norm_(attn, *ln1, self._eps)
            inter = h @ wi
            inter += bi
            ffn = _gelu_(inter) @ wo2
            ffn += bo2
            ffn += h
            h = _layer_norm_(ffn, *ln2, self._eps)
        pooled = np.add.reduceat(h, bounds[:-1], axis=0) / lengths[:, None].astype(np.float32)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled, h, bounds) if return_tokens else pooled
