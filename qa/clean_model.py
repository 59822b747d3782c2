"""The cleaner's learned line models: which lines of a text scrape are article body, and which is the headline.

Gradient-boosted trees over `clean_lines.line_features` (each line's own features, its neighbours' and windows
around it); the headline model also reads the body model's scores around each line (`title_features`).
`bench/train_cleaner.py` fits them with scikit-learn and stores the trees as plain arrays in `clean_model.npz` beside
a JSON card (version, thresholds, feature names, training-data digest, leave-site-out figures); here they are walked
with numpy alone, so cleaning never imports scikit-learn.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .clean_lines import CJK, feature_names, stopwords, words

MODEL_FILE = Path(__file__).with_name("clean_model.npz")
CARD_FILE = Path(__file__).with_name("clean_model.json")
TREE_ARRAYS = ("feature", "threshold", "left", "right", "value")
_RETRAIN = "re-create it with `python bench/train_cleaner.py`"


TITLE_EXTRA = ("body_p", "above_body", "signed_log_dist", "rel_dist", "body_after", "body_next",
               "body_overlap", "lead_overlap", "overlap_vs_best", "lead_overlap_vs_best")
LEAD_LINES = 3  # the body's first lines, which a headline usually paraphrases


def _terms(line: str, stop: frozenset[str]) -> set[str]:
    """Content words of a line, and character pairs of CJK text (which has no spaces to split words at)."""
    out = {w.lower() for w in words(line) if len(w) > 2 and w.lower() not in stop and not CJK.search(w)}
    cjk = "".join(CJK.findall(line))
    return out | {cjk[i : i + 2] for i in range(len(cjk) - 1)}


def _overlap(terms: list[set[str]], ref: set[str]) -> np.ndarray:
    return np.array([len(t & ref) / len(t) if t else 0.0 for t in terms])


def title_features(lines: list[str], x: np.ndarray, body: np.ndarray, threshold: float) -> np.ndarray:
    """Line features plus where the line sits relative to the body the body model found, and how much of its
    wording the body (and the body's first lines) repeat: a headline is about its article, a related story's is not."""
    n = len(body)
    if n == 0:
        return np.zeros((0, x.shape[1] + len(TITLE_EXTRA)), np.float32)
    idx = np.arange(n)
    kept = np.flatnonzero(body >= threshold)
    first = kept[0] if len(kept) else n
    d = idx - first
    cum = np.concatenate([[0.0], np.cumsum(body)])
    after = (cum[np.clip(idx + 6, 0, n)] - cum[np.clip(idx + 1, 0, n)]) / 5
    nxt = np.append(body[1:], -1.0)
    stop = stopwords()
    terms = [_terms(line, stop) for line in lines]
    body_terms = set().union(*(terms[i] for i in kept)) if len(kept) else set()
    lead_terms = set().union(*(terms[i] for i in kept[:LEAD_LINES])) if len(kept) else set()
    cand = body < threshold
    over, lead = _overlap(terms, body_terms), _overlap(terms, lead_terms)
    best = over[cand].max() if cand.any() else 0.0
    best_lead = lead[cand].max() if cand.any() else 0.0
    extra = np.column_stack([body, d < 0, np.sign(d) * np.log1p(np.abs(d)), d / max(n, 1), after, nxt,
                             over, lead, over - best, lead - best_lead])
    return np.hstack([x, extra]).astype(np.float32)


@dataclass(frozen=True)
class Trees:
    """Boosted trees as padded arrays (trees x nodes); a leaf points to itself, so every walk takes `depth` steps."""

    baseline: float
    depth: int
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    def proba(self, x: np.ndarray) -> np.ndarray:
        n, trees = len(x), self.feature.shape[0]
        if n == 0:
            return np.zeros(0)
        t = np.arange(trees)[None, :]
        rows = np.arange(n)[:, None]
        node = np.zeros((n, trees), dtype=np.int64)
        for _ in range(self.depth):
            go_left = x[rows, self.feature[t, node]] <= self.threshold[t, node]
            node = np.where(go_left, self.left[t, node], self.right[t, node])
        raw = self.baseline + self.value[t, node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -30, 30)))


@dataclass(frozen=True)
class LineModel:
    """The fitted models: `body_proba(features)` and `title_proba(features, body scores)`, one value per line."""

    version: str
    digest: str  # sha256 of the model and card files: what the index manifest records
    threshold: float
    title_threshold: float
    body: Trees
    title: Trees

    def body_proba(self, x: np.ndarray) -> np.ndarray:
        return self.body.proba(x)

    def title_proba(self, lines: list[str], x: np.ndarray, body: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        return self.title.proba(title_features(lines, x, body, self.threshold))


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_FILE, card: Path = CARD_FILE) -> LineModel:
    """Read the models; raise a clear error when they are missing or were fitted on other line features."""
    try:
        raw_card = card.read_bytes()
        raw_model = path.read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cleaner model is unreadable ({exc}); {_RETRAIN}") from exc
    meta = json.loads(raw_card)
    if meta.get("features") != feature_names() or meta.get("title_features") != list(TITLE_EXTRA):
        raise RuntimeError(f"cleaner model {path} was fitted on other line features; {_RETRAIN}")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}

    def trees(name: str) -> Trees:
        m = meta[name]
        return Trees(float(m["baseline"]), int(m["depth"]), *(arrays[f"{name}_{k}"] for k in TREE_ARRAYS))

    return LineModel(
        version=meta["version"],
        digest=hashlib.sha256(raw_card + raw_model).hexdigest(),
        threshold=float(meta["threshold"]),
        title_threshold=float(meta["title_threshold"]),
        body=trees("body"),
        title=trees("title"),
    )
