"""Fit the token store's product-quantisation codebook (qa/data/token_pq.npy) on the vendored corpora.

The codebook is data, fitted once and shipped: every index uses the same one, so an incremental build can copy an
unchanged article's codes, and a one-article index needs no training. Fitted on tests/corpora (not the seeds the
question sets are about), so `qa eval` measures it on held-out text.

    python bench/codebook.py            # ~5 min on 2 cores: encodes the corpora's passages, fits, writes
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa import tokens  # noqa: E402
from qa.chunk import chunk_article  # noqa: E402
from qa.clean import clean_collection, list_seed_files  # noqa: E402
from qa.embed import encode_passages  # noqa: E402

CORPORA = [ROOT / "tests" / "corpora" / "aeb-dev" / "txt", ROOT / "tests" / "corpora" / "readability" / "txt"]


def corpus_tokens(folders: list[Path], limit: int) -> np.ndarray:
    paths = [p for f in folders for p in list_seed_files(f)]
    articles, _ = clean_collection(paths)
    texts = [c.text for a in articles for c in chunk_article(a)]
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in sorted(rng.permutation(len(texts))[:limit])]
    t0 = time.perf_counter()
    states = encode_passages(texts).states
    print(f"{len(texts)} passages from {len(articles)} articles -> {len(states)} kept tokens in {time.perf_counter() - t0:.0f} s")
    return states


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=3000, help="passages to sample (default %(default)s)")
    parser.add_argument("--out", type=Path, default=tokens.CODEBOOK_PATH)
    args = parser.parse_args()
    states = corpus_tokens(CORPORA, args.passages)
    cut = int(len(states) * 0.9)
    rng = np.random.default_rng(1)
    states = states[rng.permutation(len(states))]
    train, held = states[:cut], states[cut:]
    centroids = tokens.fit_codebook(train)
    np.save(args.out, centroids)
    codec = tokens.Codec(centroids)
    rec = codec.decode(codec.encode(held))
    cos = np.sum(rec * held, axis=1)
    print(f"wrote {args.out} (sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()[:12]}): "
          f"{len(train)} training tokens; held-out tokens' cosine to their reconstruction: "
          f"mean {cos.mean():.4f}, p5 {np.percentile(cos, 5):.4f}, min {cos.min():.4f}")
    np.save("/tmp/held_tokens.npy", held)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
