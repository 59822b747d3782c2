"""The cleaner's learned line models: which lines of a text scrape are article body, and which is the headline.

Gradient-boosted trees over `clean_lines.line_features` (each line's own features, its neighbours' and windows
around it). A second body model reads the first one's scores over the whole page (`context_features`: the blocks
of lines it kept, which one stands out as the article); the headline model reads the first model's scores around
each line (`title_features`).
`bench/train_cleaner.py` fits them with scikit-learn and stores the trees as plain arrays in `clean_model.npz` beside
a JSON card (version, thresholds, feature names, training-data digest, leave-site-out figures); here they are walked
with numpy alone, so cleaning never imports scikit-learn.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .clean_lines import CJK, feature_names, stopwords, window_mean, words

MODEL_FILE = Path(__file__).with_name("clean_model.npz")
CARD_FILE = Path(__file__).with_name("clean_model.json")
TREE_ARRAYS = ("feature", "threshold", "left", "right", "value")
_RETRAIN = "re-create it with `python bench/train_cleaner.py`"


TITLE_EXTRA = ("body_p", "above_body", "signed_log_dist", "rel_dist", "body_after", "body_next",
               "body_overlap", "lead_overlap", "overlap_vs_best", "lead_overlap_vs_best",
               "early_kept", "dup_near", "dup_below", "headings_between", "short_run", "byline_next", "prose_next")
LEAD_LINES = 3  # the body's first lines, which a headline usually paraphrases
# The headline may be one of the body model's first kept lines (on a short page or a site unlike any it saw, the
# headline itself can score as body): the headline model rates those too.
EARLY_KEPT = 1
NEAR = 3  # lines each side in which a menu's short lines or a byline under the headline are looked for
HEADING_WORDS = (3, 20)  # a line this long in words, without a full stop, reads as a heading
MENU_WORDS = 4  # a line this short, without a full stop, reads as a menu or contents entry
PROSE_WORDS = 15  # a line this long, ending with a full stop, is a paragraph of text
BYLINE_WORDS = 12  # a dated line this short reads as a byline or date line


def _terms(line: str, stop: frozenset[str]) -> set[str]:
    """Content words of a line, and character pairs of CJK text (which has no spaces to split words at)."""
    has_cjk = CJK.search(line) is not None  # most lines have none: no word of theirs is tested
    out = {w.lower() for w in words(line) if len(w) > 2 and w.lower() not in stop and not (has_cjk and CJK.search(w))}
    if not has_cjk:
        return out
    cjk = "".join(CJK.findall(line))
    return out | {cjk[i : i + 2] for i in range(len(cjk) - 1)}


def _overlap(terms: list[set[str]], ref: set[str]) -> np.ndarray:
    return np.array([len(t & ref) / len(t) if t else 0.0 for t in terms])


def title_candidates(body: np.ndarray, threshold: float) -> np.ndarray:
    """The lines the headline model rates: those the first body model leaves out, and its first EARLY_KEPT kept
    lines."""
    kept = body >= threshold
    return ~kept | (kept & (np.cumsum(kept) <= EARLY_KEPT))


def _layout(lines: list[str], x: np.ndarray, body: np.ndarray, first: int) -> np.ndarray:
    """Where a line stands among the page's headings, menus and bylines: a headline is usually the last heading over
    the text, once on the page (or twice in a row), with a byline or the text's first paragraph under it; a menu's
    or table of contents' entries stand among short lines, and an entry of the contents is repeated lower down as
    the heading of its section."""
    n = len(lines)
    col = {name: i for i, name in enumerate(feature_names())}
    n_words = np.expm1(x[:, col["log_words"]].astype(np.float64))
    terminal = x[:, col["terminal"]] > 0
    # Its words, not clean_lines.line_key (letters and digits run together): with that key the leave-site-out titles
    # fell on headlines (0.753 -> 0.741) and WCXB (0.799 -> 0.793), the rest unchanged (refit of 2026-11-25).
    keys = [" ".join(words(line.casefold())) for line in lines]
    at: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k:
            at.setdefault(k, []).append(i)
    dup_near = np.array([any(0 < abs(j - i) <= 2 for j in at.get(k, ())) for i, k in enumerate(keys)])
    dup_below = np.array([any(j > i + 2 for j in at.get(k, ())) for i, k in enumerate(keys)])
    heading = (~terminal) & (n_words >= HEADING_WORDS[0]) & (n_words <= HEADING_WORDS[1])
    cum = np.concatenate([[0], np.cumsum(heading)])
    idx = np.arange(n)
    # Headings strictly between the line and the body's first line (negative below it).
    between = np.where(idx < first, cum[first] - cum[np.minimum(idx + 1, n)], -(cum[np.minimum(idx, n)] - cum[first]))
    short = ((n_words <= MENU_WORDS) & ~terminal).astype(np.float64)
    scum = np.concatenate([[0.0], np.cumsum(short)])
    lo, hi = np.clip(idx - NEAR, 0, n), np.clip(idx + NEAR + 1, 0, n)
    short_run = (scum[hi] - scum[lo] - short) / (2 * NEAR)
    byline = (x[:, col["byline_start"]] > 0) | ((x[:, col["has_date"]] > 0) & (n_words <= BYLINE_WORDS))
    prose = terminal & (n_words >= PROSE_WORDS)
    nxt = [slice(i + 1, min(n, i + 1 + NEAR)) for i in range(n)]
    byline_next = np.array([byline[s].any() for s in nxt])
    prose_next = np.array([prose[s].any() for s in nxt])
    return np.column_stack([dup_near, dup_below, np.sign(between) * np.log1p(np.abs(between)), short_run,
                            byline_next, prose_next])


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
    early = (body >= threshold) & title_candidates(body, threshold)
    extra = np.column_stack([body, d < 0, np.sign(d) * np.log1p(np.abs(d)), d / max(n, 1), after, nxt,
                             over, lead, over - best, lead - best_lead, early, _layout(lines, x, body, first)])
    return np.hstack([x, extra]).astype(np.float32)


CONTEXT_EXTRA = ("p", "p~1", "p~2", "p~4", "p~8", "p@-1", "p@+1", "in_main", "block_share", "block_mean", "block_rank",
                 "signed_log_dist_main", "mass_before", "cues_after_main", "block_mean_vs_main", "blocks")
CONTEXT_GATE = 0.35  # chosen on the dev sites' leave-site-out figures (bench/train_cleaner.py)
BLOCK_BRIDGE = 1  # lines: a block of body lines survives this many unsure lines inside it


def context_features(x: np.ndarray, body: np.ndarray, threshold: float) -> np.ndarray:
    """Line features plus what the first body model made of the whole page: its scores around each line, and the
    blocks of lines it kept. The article is usually one block that stands out (its mass of sure words and how sure it
    is); comments and related stories are later blocks, after an end cue. The second model reads these."""
    n = len(body)
    if n == 0:
        return np.zeros((0, x.shape[1] + len(CONTEXT_EXTRA)), np.float32)
    col = {name: i for i, name in enumerate(feature_names())}
    words_in = np.expm1(x[:, col["log_words"]].astype(np.float64))
    mass = body * words_in
    total = mass.sum() + 1e-9
    near = window_mean((body >= threshold).astype(np.float64), BLOCK_BRIDGE) > 0
    starts = near & ~np.concatenate([[False], near[:-1]])
    block = np.where(near, np.cumsum(starts) - 1, -1)
    blocks = int(starts.sum())
    idx = np.arange(n)
    if blocks:
        of = block[near]
        b_mass = np.bincount(of, weights=mass[near], minlength=blocks)
        b_mean = np.bincount(of, weights=body[near], minlength=blocks) / np.bincount(of, minlength=blocks)
        b_first = np.full(blocks, n)
        np.minimum.at(b_first, of, idx[near])
        b_last = np.full(blocks, -1)
        np.maximum.at(b_last, of, idx[near])
        strength = b_mass * b_mean**2
        main = int(np.argmax(strength))
        first, last = int(b_first[main]), int(b_last[main])
        rank = np.empty(blocks)
        rank[np.argsort(-strength, kind="stable")] = np.arange(blocks)
        safe = np.maximum(block, 0)
        share = np.where(near, b_mass[safe] / total, 0.0)
        mean = np.where(near, b_mean[safe], 0.0)
        line_rank = np.where(near, rank[safe], blocks)
        main_mean = b_mean[main]
        in_main = block == main
    else:
        first = last = n
        share = mean = np.zeros(n)
        line_rank = np.zeros(n)
        main_mean = 0.0
        in_main = np.zeros(n, bool)
    dist = np.where(idx < first, idx - first, np.where(idx > last, idx - last, 0))
    before = (np.cumsum(mass) - mass) / total
    cues = np.cumsum(x[:, col["end_cue"]] + x[:, col["comment_header"]])
    after_main = np.where(idx > last, cues - cues[min(last, n - 1)], 0.0) if last < n else np.zeros(n)
    extra = np.column_stack([
        body, window_mean(body, 1), window_mean(body, 2), window_mean(body, 4), window_mean(body, 8),
        np.concatenate([[0.0], body[:-1]]), np.concatenate([body[1:], [0.0]]),
        in_main, share, mean, line_rank, np.sign(dist) * np.log1p(np.abs(dist)), before, after_main,
        mean - main_mean, np.full(n, blocks),
    ])
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

    @cached_property
    def _perfect(self) -> tuple[np.ndarray, ...]:
        """The trees laid out as perfect binary trees of `depth` levels, node k's children at 2k+1 and 2k+2: a walk step
        is then two gathers and no child lookup. A leaf above the last level is copied into every place under it
        (its test sends a row either way to the same value), so the values reached are the stored trees' own."""
        trees, depth = len(self.feature), self.depth
        inner, leaves = 2 ** depth - 1, 2 ** depth
        feature = np.zeros((trees, inner), np.int64)
        threshold = np.zeros((trees, inner), np.float32)
        value = np.zeros((trees, leaves), self.value.dtype)
        for t in range(trees):
            stack = [(0, 0, 0)]  # (stored node, place in the perfect tree, level)
            while stack:
                node, place, level = stack.pop()
                if level == depth:
                    value[t, place - inner] = self.value[t, node]
                    continue
                leaf = self.left[t, node] == node and self.right[t, node] == node
                feature[t, place] = self.feature[t, node]
                threshold[t, place] = self.threshold[t, node]
                stack.append((node if leaf else int(self.left[t, node]), 2 * place + 1, level + 1))
                stack.append((node if leaf else int(self.right[t, node]), 2 * place + 2, level + 1))
        return feature.ravel(), threshold.ravel(), value.ravel()

    def proba(self, x: np.ndarray) -> np.ndarray:
        n, width = len(x), x.shape[1] if x.ndim == 2 else 0
        if n == 0:
            return np.zeros(0)
        feature, threshold, value = self._perfect
        trees, inner = len(self.feature), 2 ** self.depth - 1
        flat_x = np.ascontiguousarray(x, dtype=np.float32).ravel()
        row = (np.arange(n, dtype=np.int64) * width)[:, None]
        base = (np.arange(trees, dtype=np.int64) * inner)[None, :]
        place = np.zeros((n, trees), np.int64)
        for _ in range(self.depth):
            at = base + place
            # "not <=" rather than ">", so a NaN goes right as in the stored trees' walk
            place = 2 * place + 1 + ~(flat_x[row + feature[at]] <= threshold[at])
        leaf = place - inner + (np.arange(trees, dtype=np.int64) * (inner + 1))[None, :]
        raw = self.baseline + value[leaf].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -30, 30)))


@dataclass(frozen=True)
class LineModel:
    """The fitted models: `body_proba(features)` and `title_proba(lines, features, first body scores)`, one value per
    line."""

    version: str
    digest: str  # sha256 of the model and card files: what the index manifest records
    threshold: float
    title_threshold: float
    body: Trees
    title: Trees
    context: Trees  # the second body model, over `context_features`

    def first_proba(self, x: np.ndarray) -> np.ndarray:
        """The first body model's scores, from each line's own features and its neighbours'."""
        return self.body.proba(x)

    def body_proba(self, x: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
        """The body scores: the second model's reading of the first model's scores (`first`, computed when None)
        over the whole page."""
        first = self.first_proba(x) if first is None else first
        second = self.context.proba(context_features(x, first, self.threshold))
        # The second model may drop a line or settle one the first model was unsure of, never pull in one the first
        # model is sure is not body (a teaser link inside the article block looks like a subheading to it).
        return np.where(first >= CONTEXT_GATE, second, np.minimum(first, second))

    def title_proba(self, lines: list[str], x: np.ndarray, body: np.ndarray) -> np.ndarray:
        """Headline scores; `body` is the first model's scores (what the headline model was fitted on)."""
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
    if (
        meta.get("features") != feature_names()
        or meta.get("title_features") != list(TITLE_EXTRA)
        or meta.get("context_features") != list(CONTEXT_EXTRA)
    ):
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
        context=trees("context"),
    )
