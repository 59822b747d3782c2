"""What `qa build` costs when one article of a large folder changes, is added or is deleted.

    .venv/bin/python bench/incremental.py --passages 63000 [--workdir /tmp]     # ~100k passages once chunked

A folder of text scrapes is written from bench/scale.py's synthetic articles: each page has its publisher's site
chrome (a menu, a newsletter appeal, a copyright line, shared by that publisher's pages, as on a real site), a
headline, a byline and the body in paragraphs. The first build is made here: the folder is cleaned as `qa build`
cleans it (filling the cleaning cache), chunked by qa's chunker, and written with random vectors and token codes
in place of encoding ~100k passages (their values do not change what an update writes). Every later build is a
real `qa.build(folder, index)`:

- nothing changed;
- one article's body edited;
- one article added (a page of an existing site: the pages sharing its chrome lines are re-cleaned, because the
  count of pages holding each line is one of the cleaner's inputs);
- one article deleted.

Prints one table: seconds end to end and per phase, the bytes the build wrote (write() calls, from
/proc/self/io) against the size of the index, and the baseline: the first build's whole write.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHASES = {  # qa.builder attribute -> the phase it times
    "clean_results": "read and clean the folder",
    "_previous_index": "load the previous index",
    "_encode_articles": "chunk and encode what changed",
    "update_index": "append, and re-write the dense index, BM25, wordpiece counts",
    "write_index": "write the whole index",
}


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


@contextmanager
def timed_phases(times: dict[str, float]):
    """Time qa.builder's phases while a build runs (the functions are wrapped, not changed)."""
    from qa import builder

    saved = {name: getattr(builder, name) for name in PHASES}

    def wrap(name, fn):
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                times[PHASES[name]] = times.get(PHASES[name], 0.0) + time.perf_counter() - t
        return timed

    for name, fn in saved.items():
        setattr(builder, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(builder, name, fn)


def page(article, chrome: list[str]) -> str:
    sentences = article.text.split(". ")
    paragraphs = [". ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
    paragraphs = [p if p.endswith(".") else p + "." for p in paragraphs]
    when = article.published.strftime("%B %-d, %Y")
    return "\n\n".join([chrome[0], chrome[1], article.title, f"By Staff Writer {when}", *paragraphs, chrome[2]]) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=63_000,
                    help="passages of bench/scale.py's synthetic corpus; qa's chunker cuts them ~1.6x finer")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-incremental-", dir=args.workdir))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args, work: Path) -> int:
    import numpy as np

    import qa
    from qa import builder
    from qa.clean import CleanCache, clean_collection, cleaner_version, list_seed_files, read_seed
    from qa.embed import encoder_identity
    from qa.index import write_index
    from qa.tokens import TokenBlock, codec

    sys.path.insert(0, str(ROOT / "bench"))
    import scale

    rng = np.random.default_rng(scale.SEED)
    synth, _, _, _ = scale.make_corpus(args.passages, rng)
    folder, index = work / "articles", work / "index"
    folder.mkdir()
    chrome = {p: [f"Home | News | Business | {p} Sport | Opinion", f"Sign up for the {p} newsletter",
                  f"© 2024 {p}. All rights reserved."] for p in {a.publisher for a in synth}}
    for a in synth:
        (folder / a.source).write_text(page(a, chrome[a.publisher]), encoding="utf-8")

    # the first build, with random vectors in place of encoding
    t = time.perf_counter()
    paths = list_seed_files(folder)
    cache = CleanCache(index)
    articles, skipped = clean_collection(paths, progress=False, cache=cache)
    first_clean = time.perf_counter() - t
    chunks, sentences = [], []
    for n, a in enumerate(articles):
        cs, spans = builder._pieces(a)
        chunks += cs
        sentences += [(n, s, e) for s, e in spans]

    def unit(k):
        v = rng.standard_normal((k, 384), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    lengths = np.array([max(1, int(0.7 * len(c.text.split()))) for c in chunks], np.int64)
    n_tok = int(lengths.sum())
    n_codes, refs = scale.shared_refs(lengths, rng)
    block = TokenBlock(rng.integers(0, 256, (int(n_codes.sum()), codec().code_size), dtype=np.uint8), refs,
                       rng.integers(1000, 30000, n_tok).astype(np.uint16), np.zeros((n_tok, 2), np.uint16), lengths)
    hashes = {p.stem: read_seed(p).sha256 for p in paths}
    w0, t = written_bytes(), time.perf_counter()
    write_index(index, articles, chunks, unit(len(chunks)), hashes, np.array(sentences, np.int64), unit(len(sentences)),
                block, encoder_identity(), cleaner_version=cleaner_version())
    cache.save()
    baseline, baseline_bytes = time.perf_counter() - t, written_bytes() - w0
    del block
    size = folder_bytes(index)
    print(f"A folder of {len(articles):,} articles ({len(skipped)} skipped), {len(chunks):,} passages; "
          f"index {size / 1e9:.2f} GB. First build: cleaning {first_clean:.1f} s, whole write {baseline:.1f} s "
          f"({baseline_bytes / 1e9:.2f} GB written).\n")

    victim, donor = sorted(folder.glob("*.txt"))[len(articles) // 2], sorted(folder.glob("*.txt"))[1]
    cases = [
        ("nothing changed", lambda: None),
        ("one article edited", lambda: victim.write_text(
            victim.read_text(encoding="utf-8").replace("\n\n© ", "\n\nThe council will meet again in March.\n\n© ", 1),
            encoding="utf-8")),
        ("one article added", lambda: (folder / "zz-new.txt").write_text(
            donor.read_text(encoding="utf-8").replace(". ", ", officials said. ", 3), encoding="utf-8")),
        ("one article deleted", lambda: victim.unlink()),
    ]
    rows = []
    for name, change in cases:
        change()
        times: dict[str, float] = {}
        w0, t = written_bytes(), time.perf_counter()
        with timed_phases(times):
            report = qa.build(folder, index)
        total, wrote = time.perf_counter() - t, written_bytes() - w0
        rows.append((name, total, wrote, times, report))

    print("| build | seconds | of the whole write | bytes written | of the index | articles re-encoded | phases (s) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| first build: write the whole index | {baseline:.1f} | 1.00 | {baseline_bytes / 1e6:,.0f} MB | "
          f"{baseline_bytes / size:.2f} | all | |")
    for name, total, wrote, times, report in rows:
        phases = "; ".join(f"{k} {v:.1f}" for k, v in times.items())
        print(f"| {name} | {total:.1f} | {total / baseline:.2f} | {wrote / 1e6:,.1f} MB | {wrote / size:.3f} | "
              f"{len(report.embedded)} | {phases} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
