"""The cleaner's learned line model: which lines of a text scrape are article body (numpy only at run time).

Gradient-boosted trees over `clean_lines.line_features` (each line's own features, its neighbours' and windows
around it). `bench/train_cleaner.py` fits them with scikit-learn and stores the trees as plain arrays in
`clean_model.npz` beside a JSON card (version, threshold, feature names, training-data digest, leave-site-out
figures); here they are evaluated with numpy alone, so cleaning never imports scikit-learn.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .clean_lines import feature_names

MODEL_FILE = Path(__file__).with_name("clean_model.npz")
CARD_FILE = Path(__file__).with_name("clean_model.json")
_RETRAIN = "re-create it with `python bench/train_cleaner.py`"


@dataclass(frozen=True)
class LineModel:
    """Boosted trees as padded arrays (trees x nodes); a leaf points to itself, so every walk takes `depth` steps."""

    version: str
    digest: str  # sha256 of the model and card files: what the index manifest records
    threshold: float
    baseline: float
    feature: np.ndarray
    threshold_at: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    depth: int

    def body_proba(self, x: np.ndarray) -> np.ndarray:
        """Probability that each line (a row of `line_features`) is article body."""
        n, trees = len(x), self.feature.shape[0]
        if n == 0:
            return np.zeros(0)
        t = np.arange(trees)[None, :]
        rows = np.arange(n)[:, None]
        node = np.zeros((n, trees), dtype=np.int64)
        for _ in range(self.depth):
            go_left = x[rows, self.feature[t, node]] <= self.threshold_at[t, node]
            node = np.where(go_left, self.left[t, node], self.right[t, node])
        raw = self.baseline + self.value[t, node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -30, 30)))


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_FILE, card: Path = CARD_FILE) -> LineModel:
    """Read the model; raise a clear error when it is missing or was fitted on other line features."""
    try:
        raw_card = card.read_bytes()
        raw_model = path.read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cleaner model is unreadable ({exc}); {_RETRAIN}") from exc
    meta = json.loads(raw_card)
    if meta.get("features") != feature_names():
        raise RuntimeError(f"cleaner model {path} was fitted on other line features; {_RETRAIN}")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("feature", "threshold", "left", "right", "value")}
    return LineModel(
        version=meta["version"],
        digest=hashlib.sha256(raw_card + raw_model).hexdigest(),
        threshold=float(meta["threshold"]),
        baseline=float(meta["baseline"]),
        feature=arrays["feature"],
        threshold_at=arrays["threshold"],
        left=arrays["left"],
        right=arrays["right"],
        value=arrays["value"],
        depth=int(meta["depth"]),
    )
