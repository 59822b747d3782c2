"""The Milvus backend beside the embedded index it was built with, in one run (README "Serving from Milvus").

Builds (or brings up to date) a Milvus Lite collection from a folder, then on the same questions prints:
- `qa.retrieve` latency, p50 / p95, embedded (the sidecar folder, FAISS + bm25s) and Milvus (stage 1 in the
  collection), without and with a publisher filter;
- how far the two backends' stage-1 candidates and results agree (candidate Jaccard, same top passage, same top 5);
- where the rerank's token vectors should live: memory-mapped beside the collection, or in it as zlib + base64
  text fetched by primary key (bytes a passage, passages over Milvus's 64 KB VARCHAR limit, fetch + decode time).

Run: .venv/bin/python bench/milvus.py --seeds FOLDER --db /tmp/bench-milvus/qa.db [--questions FILE] [-n 100]
Needs the cluster extra (`make install-cluster`). Milvus Lite runs in this process, so the figures include its
Python engine; a server adds a network round trip instead.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(ms: list[float]) -> str:
    return f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 95):.1f} ms"


def timed(fn, items) -> list[float]:
    out = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        out.append(1000 * (time.perf_counter() - t))
    return out


def tokens_in_collection(sidecar, rng, rounds: int = 50, per_query: int = 30) -> dict:
    """Store every passage's token codes in a scratch collection and fetch a query's worth by primary key."""
    from pymilvus import DataType, MilvusClient

    from qa.index import load_index

    ix = load_index(sidecar)
    folder = Path(sidecar).parent / "bench-tokens"
    folder.mkdir(exist_ok=True)
    client = MilvusClient(str(folder / "tokens.db"))
    if client.has_collection("tokens"):
        client.drop_collection("tokens")
    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("tokens", DataType.VARCHAR, max_length=65_535)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
    params = client.prepare_index_params()
    params.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("tokens", schema=schema, index_params=params)
    sizes, over, rows = [], 0, []
    for i in range(len(ix.chunks)):
        block = ix.tokens.block([i])  # the passage's codes and its tokens' refs into them
        payload = np.asarray(block.codes).tobytes() + np.asarray(block.refs, np.uint16).tobytes()
        text = base64.b64encode(zlib.compress(payload, 1)).decode()
        sizes.append(len(text))
        if len(text) > 65_535:
            over, text = over + 1, ""
        rows.append({"row": i, "tokens": text, "v": [0.0, 0.0]})
    for lo in range(0, len(rows), 500):
        client.insert("tokens", rows[lo : lo + 500])
    client.flush("tokens")
    client.load_collection("tokens")
    picks = [np.sort(rng.choice(len(rows), per_query, replace=False)) for _ in range(rounds)]

    def fetch(r):
        got = client.get("tokens", ids=[int(x) for x in r], output_fields=["tokens"])
        return [np.frombuffer(zlib.decompress(base64.b64decode(g["tokens"])), np.uint8) for g in got if g["tokens"]]

    remote = timed(fetch, picks)
    beside = timed(ix.tokens.gather, picks)
    client.drop_collection("tokens")
    client.close()
    return {
        "kb_a_passage": float(np.mean(sizes)) / 1024,
        "over_limit": over,
        "passages": len(rows),
        "in_collection": remote,
        "beside": beside,
        "per_query": per_query,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", required=True, help="folder of articles to build from")
    ap.add_argument("--db", required=True, help="Milvus Lite file to build into (absolute path ending in .db)")
    ap.add_argument("--questions", default=str(ROOT / "tests" / "data" / "dev_test.jsonl"))
    ap.add_argument("-n", type=int, default=100, help="questions to time")
    args = ap.parse_args(argv)

    import qa
    from qa import milvus_index
    from qa.embed import encode_query_tokens
    from qa.retrieve import EmbeddedStage1, get_index
    from qa.types import Filters

    uri = f"milvus://{Path(args.db).resolve()}/news"
    sidecar = milvus_index.parse(uri).sidecar
    t = time.perf_counter()
    report = qa.build(args.seeds, uri)
    print(f"built {uri}: {report.articles} articles, {report.passages} passages, {len(report.embedded)} encoded, "
          f"{time.perf_counter() - t:.1f} s")
    questions = [json.loads(line)["question"] for line in open(args.questions, encoding="utf-8") if line.strip()][: args.n]
    pub = qa.index_info(index_dir=uri).publishers[0]
    rows = []
    for name, target in (("embedded", str(sidecar)), ("Milvus Lite", uri)):
        qa.retrieve(questions[0], index_dir=target)  # load, warm up
        plain = timed(lambda q: qa.retrieve(q, k=5, index_dir=target), questions)
        filtered = timed(lambda q: qa.retrieve(q, k=5, publisher=pub, index_dir=target), questions[:40])
        rows.append((name, plain, filtered))
    print(f"\n`qa.retrieve(k=5)` over {len(questions)} questions of {Path(args.questions).name}, p50 / p95:\n")
    print("| backend | retrieve | with a publisher filter | vs embedded (p50) |")
    print("|---|---|---|---|")
    base = np.percentile(rows[0][1], 50)
    for name, plain, filtered in rows:
        print(f"| {name} | {pct(plain)} | {pct(filtered)} | {np.percentile(plain, 50) / base:.2f}x |")

    emb, mil = get_index(str(sidecar)), get_index(uri)
    jacc, top1, top5 = [], 0, 0
    for q in questions:
        qvec, _, _ = encode_query_tokens(q)
        a, _ = EmbeddedStage1(emb, None).candidates(q, qvec, 50, Filters())
        b, _ = mil.remote.candidates(q, qvec, 50, Filters())
        jacc.append(len(set(a) & set(b)) / max(len(set(a) | set(b)), 1))
        x = [p.chunk_id for p in qa.retrieve(q, k=5, index_dir=str(sidecar))]
        y = [p.chunk_id for p in qa.retrieve(q, k=5, index_dir=uri)]
        top1 += x[:1] == y[:1]
        top5 += x == y
    print(f"\nStage-1 candidates (pool 50): median Jaccard {np.median(jacc):.2f} (min {min(jacc):.2f}); same top passage "
          f"{top1}/{len(questions)}, same top 5 {top5}/{len(questions)}")

    tok = tokens_in_collection(sidecar, np.random.default_rng(0))
    print(f"\nToken vectors for {tok['per_query']} candidates, {tok['passages']:,} passages:\n")
    print("| where | bytes a passage | fetch (+ decode) p50 / p95 |")
    print("|---|---|---|")
    print(f"| in the collection (zlib + base64 VARCHAR; {tok['over_limit']} passages over the 64 KB limit) "
          f"| {tok['kb_a_passage']:.1f} KB | {pct(tok['in_collection'])} |")
    print(f"| beside it (memory-mapped) | {mil.manifest['files']['token_codes.u8']['size'] / len(mil.chunks) / 1024:.1f} KB "
          f"| {pct(tok['beside'])} |")
    milvus_index.release(milvus_index.parse(uri))


if __name__ == "__main__":
    main()
