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

from dataclasses import replace  # noqa: E402

from qa import embed  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.answer import rewrite  # noqa: E402
from qa.evaluate import DEFAULT_EVAL_FILE, _norm, load_questions  # noqa: E402

HOLDOUT_FILE = DEFAULT_EVAL_FILE.with_name("holdout.jsonl")

retrieve = importlib.import_module("qa.retrieve")  # the module; `qa.retrieve` is the public function


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default=None)
    ap.add_argument("--questions", default=str(DEFAULT_EVAL_FILE), help="eval file (default tests/data/eval.jsonl)")
    ap.add_argument("--calibrate", action="store_true", help="fit the abstention logistic instead")
    ap.add_argument("--folds", type=int, default=5, help="repeats of 2-fold cross-validation for the chosen grid")
    args = ap.parse_args()
    qs = [q for q in load_questions(Path(args.questions)) if q["kind"] != "unanswerable"]
    index = retrieve.get_index(args.index)
    cached = lru_cache(maxsize=None)(embed.encode_query_tokens)
    fitted = Settings.fitted()
    shipped = dict(
        dense_weight=fitted.dense_weight,
        rerank=True,
        rerank_dense=fitted.rerank_dense,
        rerank_sentence=fitted.rerank_sentence,
        rerank_late=fitted.rerank_late,
        answer_type_bonus=fitted.answer_type_bonus,
        first_mention_bonus=fitted.first_mention_bonus,
    )
    no_type = dict(answer_type_bonus=0.0, first_mention_bonus=0.0)

    def ranks(setting: dict) -> list[int]:
        settings = replace(fitted, **setting)
        out = []
        for q in qs:
            query = rewrite(q["question"], q.get("history", []))
            vec, st, ids = cached(query)
            hits = retrieve.search(index, query, vec, 5, retrieve.Filters(), (st, ids), settings)
            want = _norm(q["answer"])
            r = next((i for i, h in enumerate(hits, 1) if index.chunks[h.row].doc_id == q["doc_id"] and want in _norm(index.articles[q["doc_id"]].text[h.start : h.end])), 99)
            out.append(r)
        return out

    def show(name: str, setting: dict) -> list[int]:
        r = np.array(ranks(setting))
        print(f"| {name} | {np.mean(r == 1):.3f} | {np.mean(r <= 5):.3f} | {np.mean(np.where(r < 99, 1 / r, 0)):.3f} |")
        return list(r)

    base = dict(dense_weight=1.0, rerank=False, **no_type)
    print(f"{len(qs)} answerable questions (incl. follow-ups), {len(index.chunks)} passages\n")
    print("| technique | hit@1 | hit@5 | MRR |\n|---|---|---|---|")
    show("dense only (FAISS)", base)
    show("BM25 only", dict(base, dense_weight=0.0))
    for w in (0.3, 0.5, 0.6, 0.7, 0.8):
        show(f"hybrid, weighted sum, dense weight {w}", dict(base, dense_weight=w))
    defaults = dict(shipped, **no_type)
    show("+ rerank: sentence cosine only", dict(defaults, rerank_dense=0.0, rerank_sentence=1.0, rerank_late=0.0))
    show("+ rerank: late interaction only", dict(defaults, rerank_dense=0.0, rerank_sentence=0.0, rerank_late=1.0))
    show("+ rerank: shipped weights", defaults)
    show(f"+ answer-type bonus {shipped['answer_type_bonus']}", dict(defaults, answer_type_bonus=shipped["answer_type_bonus"]))
    show(f"+ first-mention bonus {shipped['first_mention_bonus']} (shipped)", shipped)

    grid = [
        {"rerank_dense": d, "rerank_sentence": s, "rerank_late": 1.0}
        for d, s in itertools.product((0.0, 0.25, 0.5), (0.0, 0.25, 0.5, 1.0))
    ]
    results = {i: np.array(ranks(dict(shipped, **g))) for i, g in enumerate(grid)}
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


if __name__ == "__main__" and "--calibrate" not in sys.argv:
    main()


def _abstain_features(index, path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The answer sentence's (cosine, MaxSim, missing) for every question of an eval file, with the labels
    (answerable or not) and whether no sentence of the asked-for kind was found (then the answer is "not found")."""
    from qa import answer as A
    from qa.answer_type import expected_type

    feats, labels, none = [], [], []
    for q in load_questions(path):
        query = A.rewrite(q["question"], q.get("history", []))
        vec, st, ids = embed.encode_query_tokens(query)
        hits = retrieve.search(index, query, vec, 5, retrieve.Filters(), (st, ids))
        pq = A._prepare(index, query, vec, st, ids)
        sent = A._best_sentence(index, hits, pq, Settings.fitted(), expected_type(q["question"]), query)
        feats.append([sent.cosine, sent.maxsim, sent.missing] if sent else [0.0, 0.0, 1.0])
        labels.append(q["kind"] != "unanswerable")
        none.append(sent is None)
    return np.array(feats), np.array(labels, float), np.array(none)


def _trade_off(name: str, p: np.ndarray, y: np.ndarray, thresholds) -> None:
    print(f"\n{name}\n| threshold | answerable answered | unanswerable refused |\n|---|---|---|")
    for t in thresholds:
        print(f"| {t:.3f} | {np.mean(p[y == 1] > t):.3f} | {np.mean(p[y == 0] <= t):.3f} |")
    print(f"refusing every unanswerable question needs threshold {p[y == 0].max():.3f}: answers {np.mean(p[y == 1] > p[y == 0].max()):.3f} of the answerable")


def calibrate(index_dir=None) -> None:
    """Fit the 'not in the articles' logistic on the eval set, print the refusal/answer trade-off there and on the
    held-out set (tests/data/holdout.jsonl, written blind and never used for fitting)."""
    index = retrieve.get_index(index_dir)
    X, y, none = _abstain_features(index, DEFAULT_EVAL_FILE)
    # class-balanced logistic regression by gradient descent (small, no extra dependency)
    w, b = np.zeros(X.shape[1]), 0.0
    cw = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    for _ in range(20000):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        g = cw * (p - y)
        w -= 0.5 * (X.T @ g / len(y) + 1e-3 * w)
        b -= 0.5 * g.mean()
    print(f"abstention logistic: bias {b:.2f}, weights sentence cosine {w[0]:.2f}, MaxSim {w[1]:.2f}, missing {w[2]:.2f}")

    def prob(X, none):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        return np.where(none, 0.0, p)

    p = prob(X, none)
    ts = sorted({0.2, 0.3, 0.4, 0.5, 0.6, Settings.fitted().abstention.answer_threshold, round(float(p[y == 0].max()) + 1e-3, 3)})
    _trade_off(f"tuning set ({DEFAULT_EVAL_FILE.name})", p, y, ts)
    Xh, yh, nh = _abstain_features(index, HOLDOUT_FILE)
    _trade_off(f"held-out set ({HOLDOUT_FILE.name}, not used to fit)", prob(Xh, nh), yh, ts)


if __name__ == "__main__" and "--calibrate" in sys.argv:
    calibrate()
