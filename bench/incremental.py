"""What changing one article costs in a large index, phase by phase, after the folder has been cleaned.

    .venv/bin/python bench/incremental.py --passages 63000 [--workdir /tmp]     # ~100k passages once chunked

This is what `qa build` does once it knows which article changed: load the previous index, take every unchanged
article's vectors, sentence vectors and token codes from it (qa.builder._reusable), encode the changed article,
and write a new generation (qa.index.write_index). The starting index is written here first, from bench/scale.py's
synthetic articles chunked by qa's own chunker (so that every unchanged article is re-usable, as in a real folder)
with random vectors and token codes (their values do not change what is written); that full write is the
baseline. The changed article is the index's first one, given the text of a seed article. Cleaning is not included: a real build also re-cleans every file of the folder (the
cleaner reads lines repeated across pages, so one page's cleaning can depend on the others), which
`bench/cleaning.py` measures per page.

Prints one table: seconds per phase, and bytes written against the size of the index (the baseline: a build that
rewrites everything writes 1.00 of it).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=100_000, help="passages of bench/scale.py's synthetic corpus; qa's chunker cuts them ~1.6x finer")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="qa-incremental-", dir=args.workdir))
    args.index = work / "index"
    try:
        return _run(args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args) -> int:
    import numpy as np

    from qa import builder
    from qa.embed import encoder_identity
    from qa.index import load_index, text_hash, write_index
    from qa.tokens import TokenBlock, codec

    sys.path.insert(0, str(ROOT / "bench"))
    import scale

    rng = np.random.default_rng(scale.SEED)
    synth, _, _, _ = scale.make_corpus(args.passages, rng)
    chunks, sentences = [], []
    for n, a in enumerate(synth):
        cs, spans = builder._pieces(a)
        chunks += cs
        sentences += [(n, s, e) for s, e in spans]

    def unit(k):
        v = rng.standard_normal((k, 384), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    lengths = np.array([max(1, int(0.7 * len(c.text.split()))) for c in chunks], np.int64)
    n_tok = int(lengths.sum())
    block = TokenBlock(rng.integers(0, 256, (n_tok, codec().m), dtype=np.uint8), rng.integers(1000, 30000, n_tok).astype(np.uint16),
                       np.zeros((n_tok, 2), np.uint16), lengths)
    t = time.perf_counter()
    write_index(args.index, synth, chunks, unit(len(chunks)), {a.doc_id: text_hash(a) for a in synth},
                np.array(sentences, np.int64), unit(len(sentences)), block, encoder_identity())
    baseline = time.perf_counter() - t
    del block

    times = {}
    t = time.perf_counter()
    old = load_index(args.index)
    times["load the previous index"] = time.perf_counter() - t
    before = folder_bytes(args.index / old.manifest["data_dir"])

    t = time.perf_counter()
    reusable = builder._reusable(old)
    times["gather what unchanged articles keep"] = time.perf_counter() - t

    seed = sorted((ROOT / "seeds").glob("*.txt"))[0]
    from qa.clean import clean_file

    new_text = clean_file(seed).article.text
    articles = [old.articles[d] for d in old.order]
    articles[0] = replace(articles[0], text=new_text)
    hashes = {a.doc_id: old.manifest["articles"][a.doc_id]["content_sha256"] for a in articles}

    t = time.perf_counter()
    chunks, sentences, encoded, reused, embedded = builder._encode_articles(articles, reusable, builder._Serial(False))
    times[f"chunk all, encode the changed article ({len(embedded)})"] = time.perf_counter() - t
    assert embedded == [articles[0].doc_id], embedded

    t = time.perf_counter()
    manifest = write_index(
        args.index, articles, chunks, np.vstack([e.vectors for e in encoded]), hashes, sentences,
        np.vstack([e.sentence_vectors for e in encoded]), TokenBlock.concat([e.tokens for e in encoded]),
        encoder_identity(), cleaner_version=old.manifest["cleaner_version"],
    )
    times["write the new generation"] = time.perf_counter() - t
    written = folder_bytes(args.index / manifest["data_dir"])

    print(f"One article changed in an index of {len(chunks):,} passages ({len(articles):,} articles), "
          f"{old.manifest['index']['type']} dense index\n")
    total = sum(times.values())
    print("| phase | seconds | of the full write |\n|---|---|---|")
    print(f"| baseline: write the whole index once | {baseline:.1f} | 1.00 |")
    for name, s in times.items():
        print(f"| {name} | {s:.1f} | {s / baseline:.2f} |")
    print(f"| **one article changed, total after cleaning** | **{total:.1f}** | **{total / baseline:.2f}** |")
    print(f"\nbytes written: {written / 1e9:.2f} GB, {written / before:.2f} of the previous index "
          f"({before / 1e9:.2f} GB; a full rewrite is 1.00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
