"""Fit the token store's product-quantisation codebook (qa/token_codec.npz) and report how close its vectors stay.

    .venv/bin/python bench/train_token_codec.py [--check]

Training text: the pages of tests/corpora/headlines/txt, cleaned and cut into passages as `qa build` does. No
question set asks about those pages, so every `qa eval` figure is measured on token vectors the codebook never saw.
Each passage goes through the same forward pass as in a build (qa.embed.encode_passages) and its kept token vectors
are the training points. faiss fits 192 sub-quantisers of 256 centroids each over pairs of dimensions
(192 bytes a token, half of int8). The file records the sha256 of the training passages; the index manifest records
the file's own sha256, so an index coded with another codebook asks for `qa build --force`.

The fidelity is printed on the seeds' passages (held out): cosine of each decoded token vector to the original, and
how often a question token's best match in a passage stays the same token.
`--check` re-fits and compares with the shipped file instead of writing it.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import embed  # noqa: E402
from qa.chunk import chunk_article  # noqa: E402
from qa.clean import clean_folder  # noqa: E402
from qa.tokens import CODEBOOK_FILE, PQCodec  # noqa: E402

TRAIN_DIR = ROOT / "tests" / "corpora" / "headlines" / "txt"
# 2 dimensions each; 96 (4 each) lost two of the seeds' 70 holdout/blind questions at hit@1 (README, token store)
SUB_QUANTISERS = 192
MAX_POINTS = 200_000


def passages(folder: Path) -> list[str]:
    out = []
    for r in clean_folder(folder):
        if r.article is not None:
            out.extend(c.text for c in chunk_article(r.article))
    return out


def fit(texts: list[str]) -> tuple[np.ndarray, int]:
    """The codebook's centroids (sub-quantisers, 256, sub-dimension) and how many token vectors the texts gave."""
    import faiss

    states = embed.encode_passages(texts).states
    rng = np.random.default_rng(0)
    pts = states[np.sort(rng.choice(len(states), min(len(states), MAX_POINTS), replace=False))]
    pq = faiss.ProductQuantizer(states.shape[1], SUB_QUANTISERS, 8)
    pq.train(np.ascontiguousarray(pts, dtype=np.float32))
    dsub = states.shape[1] // SUB_QUANTISERS
    return faiss.vector_to_array(pq.centroids).reshape(SUB_QUANTISERS, 256, dsub).astype(np.float32), len(states)


def fidelity(codec: PQCodec, texts: list[str]) -> str:
    pt = embed.encode_passages(texts)
    dec = codec.decode(codec.encode(pt.states))
    cos = np.sum(dec * pt.states, axis=1)
    q = embed.encode_query_tokens("What did the officials say about the new plan and its cost?")[1]
    same = np.mean(np.argmax(q @ dec.T, axis=1) == np.argmax(q @ pt.states.T, axis=1))
    return (f"{len(cos)} seed tokens: cosine to the original mean {cos.mean():.4f}, 5th percentile "
            f"{np.percentile(cos, 5):.4f}, min {cos.min():.4f}; a question's best-matching token unchanged {same:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="re-fit and compare with the shipped codebook; write nothing")
    args = ap.parse_args()
    t0 = time.perf_counter()
    texts = passages(TRAIN_DIR)
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    centroids, n_tokens = fit(texts)
    codec = PQCodec(centroids)
    print(f"fitted on {len(texts)} passages ({n_tokens} token vectors) of {TRAIN_DIR.relative_to(ROOT)} "
          f"in {time.perf_counter() - t0:.0f} s; training data sha256 {digest[:16]}")
    print(fidelity(codec, passages(ROOT / "seeds")))
    if args.check:
        shipped = PQCodec.load(CODEBOOK_FILE)
        print(f"shipped codebook: trained on {shipped.trained_on[:16]}; centroids differ by at most "
              f"{np.abs(shipped.centroids - centroids).max():.2e}")
        return
    np.savez_compressed(CODEBOOK_FILE, centroids=centroids, trained_on=np.array(digest), tokens=np.array(n_tokens))
    print(f"wrote {CODEBOOK_FILE.relative_to(ROOT)} ({CODEBOOK_FILE.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
