"""Sweep the retrieval settings on the evaluation set and print how each technique moves hit@1/hit@5.

Run: .venv/bin/python bench/tune.py [--index DIR]. Query encodings are cached, so each setting costs only
the search itself. This is how the defaults in qa/config.py were chosen; see README "Answer quality".
"""
from __future__ import annotations

import argparse
import itertools
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import importlib  # noqa: E402

from qa import config, embed  # noqa: E402
from qa.answer import rewrite  # noqa: E402
from qa.evaluate import DEFAULT_EVAL_FILE, _norm, load_questions  # noqa: E402

retrieve = importlib.import_module("qa.retrieve")  # the module; `qa.retrieve` is the public function


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default=None)
    ap.add_argument("--folds", type=int, default=5, help="repeats of 2-fold cross-validation for the chosen grid")
    args = ap.parse_args()
    qs = [q for q in load_questions(DEFAULT_EVAL_FILE) if q["kind"] != "unanswerable"]
    index = retrieve.get_index(args.index)
    cached = lru_cache(maxsize=None)(embed.encode_query_tokens)
    shipped = dict(FUSION=config.FUSION, DENSE_WEIGHT=config.DENSE_WEIGHT, RERANK=True, RERANK_WEIGHTS=dict(config.RERANK_WEIGHTS))

    def ranks(setting: dict) -> list[int]:
        for k, v in setting.items():
            setattr(config, k, v)
        out = []
        for q in qs:
            query = rewrite(q["question"], q.get("history", []))
            vec, st, ids = cached(query)
            hits = retrieve.search(index, query, vec, 5, retrieve.Filters(), (st, ids))
            want = _norm(q["answer"])
            r = next((i for i, h in enumerate(hits, 1) if index.chunks[h.row].doc_id == q["doc_id"] and want in _norm(index.articles[q["doc_id"]].text[h.start : h.end])), 99)
            out.append(r)
        return out

    def show(name: str, setting: dict) -> list[int]:
        r = np.array(ranks(setting))
        print(f"| {name} | {np.mean(r == 1):.3f} | {np.mean(r <= 5):.3f} | {np.mean(np.where(r < 99, 1 / r, 0)):.3f} |")
        return list(r)

    base = dict(FUSION="weighted", DENSE_WEIGHT=1.0, RERANK=False)
    print(f"{len(qs)} answerable questions (incl. follow-ups), {len(index.chunks)} passages\n")
    print("| technique | hit@1 | hit@5 | MRR |\n|---|---|---|---|")
    show("dense only (FAISS)", base)
    show("BM25 only", dict(base, DENSE_WEIGHT=0.0))
    for w in (0.3, 0.5, 0.6, 0.7, 0.8):
        show(f"hybrid, weighted sum, dense weight {w}", dict(base, DENSE_WEIGHT=w))
    show("hybrid, reciprocal rank fusion", dict(base, FUSION="rrf"))
    defaults = shipped
    show("+ rerank: sentence cosine only", dict(defaults, RERANK_WEIGHTS={"dense": 0.0, "sentence": 1.0, "late": 0.0, "keyword": 0.0}))
    show("+ rerank: late interaction only", dict(defaults, RERANK_WEIGHTS={"dense": 0.0, "sentence": 0.0, "late": 1.0, "keyword": 0.0}))
    show(f"+ rerank: shipped defaults {shipped['RERANK_WEIGHTS']}", defaults)

    grid = [
        {"dense": d, "sentence": s, "late": 1.0, "keyword": kw}
        for d, s, kw in itertools.product((0.0, 0.25, 0.5), (0.0, 0.25, 0.5, 1.0), (0.0, 0.1, 0.25))
    ]
    results = {i: np.array(ranks(dict(defaults, RERANK_WEIGHTS=g))) for i, g in enumerate(grid)}
    best = max(results, key=lambda i: (np.mean(results[i] == 1), np.mean(results[i] <= 5)))
    print(f"\nbest rerank weights on the whole set: {grid[best]} hit@1 {np.mean(results[best] == 1):.3f}")
    rng = np.random.default_rng(0)
    held = []
    for _ in range(args.folds):
        perm = rng.permutation(len(qs))
        halves = perm[: len(qs) // 2], perm[len(qs) // 2 :]
        for train, test in (halves, halves[::-1]):
            pick = max(results, key=lambda i: np.mean(results[i][train] == 1))
            held.append(np.mean(results[pick][test] == 1))
    print(f"2-fold cross-validated hit@1 of choosing weights this way: {np.mean(held):.3f} (honest estimate on unseen questions)")


if __name__ == "__main__":
    main()
