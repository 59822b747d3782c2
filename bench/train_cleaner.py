"""Fit the cleaner's line model (qa/clean_model.json) on the development pages, and report its leave-site-out score.

    python bench/train_cleaner.py

Training pages: the "dev" part of tests/corpora/split.json for aeb-dev and readability (never the sealed "test"
part), plus the five seeds with their hand-written bodies. A line's label is whether most of its word 4-grams are in
the gold body. scikit-learn fits boosted trees; the run time walks the exported arrays with numpy.
The file records the sha256 of the training data and the cross-validated figures (GroupKFold by site, so a page is
always scored by a model that never saw its site).
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import clean_lines as cl  # noqa: E402
from qa.clean_eval import body_score, load_corpus, norm_title, page_score  # noqa: E402
from qa.clean_model import CARD_FILE, MODEL_FILE, TITLE_EXTRA, TREE_ARRAYS, title_features  # noqa: E402

VERSION = "3"
THRESHOLD = 0.45
TITLE_THRESHOLD = 0.005
TREES, DEPTH, RATE = 200, 5, 0.08
# The seeds are the folder this tool ships with: their five pages weigh as much as 25 corpus pages.
SEED_WEIGHT = 15.0
FOLDS = 5
_TOKEN = re.compile(r"\w+")


def line_labels(lines: list[str], body: str) -> np.ndarray:
    """Share of each line's word 4-grams found in the gold body (short lines: the whole line as an n-gram)."""
    gold = [t.lower() for t in _TOKEN.findall(body)]
    grams: dict[int, set] = {}

    def ngrams(n: int) -> set:
        if n not in grams:
            grams[n] = {tuple(gold[i : i + n]) for i in range(len(gold) - n + 1)}
        return grams[n]

    out = []
    for line in lines:
        toks = [t.lower() for t in _TOKEN.findall(line)]
        if not toks:
            out.append(0.0)
        elif len(toks) >= 4:
            sh = [tuple(toks[i : i + 4]) for i in range(len(toks) - 3)]
            out.append(sum(s in ngrams(4) for s in sh) / len(sh))
        else:
            out.append(float(tuple(toks) in ngrams(len(toks))))
    return np.asarray(out)


def training_pages() -> list[tuple[str, str, str, str, str, str | None]]:
    """(corpus, id, site, scrape, gold body, headline as the scrape states it, "" if unlabelled) of every page the
    models may learn from."""
    out = []
    for corpus in ("aeb-dev", "readability"):
        for p in load_corpus(corpus, "dev"):
            title = "" if p.meta.get("stand_in") else p.meta.get("title_in_text")
            out.append((corpus, p.id, p.site, p.txt, p.body, title))
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        expected = ROOT / "tests" / "data" / "expected"
        body = (expected / path.name).read_text(encoding="utf-8")
        title = json.loads((expected / f"{path.stem}.json").read_text(encoding="utf-8"))["title"]
        out.append(("seeds", path.stem, "seeds", path.read_text(encoding="utf-8"), body, title))
    return out


def data_digest(pages) -> str:
    h = hashlib.sha256()
    for corpus, pid, _site, txt, body, title in sorted(pages, key=lambda p: p[:2]):
        for part in (corpus, pid, txt, body, str(title)):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
    return h.hexdigest()


def featurise(pages):
    """Per page: (lines, features, labels); site chrome is counted within each corpus, as a folder would be."""
    out = {}
    for corpus in sorted({p[0] for p in pages}):
        group = [p for p in pages if p[0] == corpus]
        parsed = [cl.page_lines(p[3]) for p in group]
        repeats = cl.collection_repeats([lines for lines, _ in parsed])
        for p, (lines, bullets), rep in zip(group, parsed, repeats):
            want = norm_title(p[5])
            is_title = np.array([bool(want) and norm_title(line) == want for line in lines])
            out[(p[0], p[1])] = (lines, cl.line_features(lines, rep, bullets), line_labels(lines, p[4]), is_title)
    return out


def _weights(keys, feats) -> np.ndarray:
    return np.concatenate([np.full(len(feats[k][2]), SEED_WEIGHT if k[0] == "seeds" else 1.0) for k in keys])


def fit(keys, feats):
    """Boosted trees on the lines of `keys`."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([feats[k][1] for k in keys])
    y = np.concatenate([feats[k][2] for k in keys]) >= 0.5
    m = HistGradientBoostingClassifier(max_iter=TREES, max_depth=DEPTH, learning_rate=RATE, random_state=0)
    return m.fit(x, y, sample_weight=_weights(keys, feats))


def fit_title(keys, feats, body):
    """Boosted trees picking the headline line, given the body scores each page got from a model blind to its site."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([title_features(feats[k][0], feats[k][1], body[k], THRESHOLD) for k in keys])
    y = np.concatenate([feats[k][3] for k in keys])
    # Only lines the body model leaves out can be the headline at run time: fit on those alone.
    cand = np.concatenate([body[k] < THRESHOLD for k in keys])
    m = HistGradientBoostingClassifier(max_iter=100, max_depth=4, learning_rate=0.08, random_state=0)
    return m.fit(x[cand], y[cand])


def pick_title(m, lines, x, body):
    if not len(x):
        return None
    p = np.where(body >= THRESHOLD, 0.0, m.predict_proba(title_features(lines, x, body, THRESHOLD))[:, 1])
    i = int(np.argmax(p))
    return lines[i] if p[i] >= TITLE_THRESHOLD else None


def export(m) -> tuple[dict[str, np.ndarray], float, int]:
    """The fitted trees as padded arrays (see qa.clean_model.LineModel), the baseline score and the depth."""
    trees = [p[0].nodes for p in m._predictors]
    width = max(len(t) for t in trees)
    out = {
        "feature": np.zeros((len(trees), width), np.int32),
        "threshold": np.zeros((len(trees), width), np.float32),
        "left": np.zeros((len(trees), width), np.int32),
        "right": np.zeros((len(trees), width), np.int32),
        "value": np.zeros((len(trees), width), np.float32),
    }
    depth = 0
    for i, t in enumerate(trees):
        k = len(t)
        leaf = t["is_leaf"].astype(bool)
        own = np.arange(k)
        out["feature"][i, :k] = np.where(leaf, 0, t["feature_idx"])
        out["threshold"][i, :k] = np.where(leaf, np.inf, t["num_threshold"])
        out["left"][i, :k] = np.where(leaf, own, t["left"])
        out["right"][i, :k] = np.where(leaf, own, t["right"])
        out["value"][i, :k] = np.where(leaf, t["value"], 0.0)
        depth = max(depth, int(t["depth"].max()))
    return out, float(np.ravel(m._baseline_prediction)[0]), depth


def cross_validate(keys, feats, groups, pages_by_key) -> tuple[dict, dict]:
    """Leave-site-out figures (each page scored by models fitted without its site) and the body scores so obtained."""
    from sklearn.model_selection import GroupKFold

    folds = list(GroupKFold(n_splits=FOLDS).split(np.arange(len(keys)), groups=[groups[k] for k in keys]))
    oof = {}
    for tr, te in folds:
        m = fit([keys[i] for i in tr], feats)
        for i in te:
            x = feats[keys[i]][1]
            oof[keys[i]] = m.predict_proba(x)[:, 1] if len(x) else np.zeros(0)
    titles = {}
    for tr, te in folds:
        labelled = [keys[i] for i in tr if pages_by_key[keys[i]][5] != ""]
        m = fit_title(labelled, feats, oof)
        for i in te:
            titles[keys[i]] = pick_title(m, feats[keys[i]][0], feats[keys[i]][1], oof[keys[i]])
    out = {}
    for corpus in sorted({k[0] for k in keys}):
        ks = [k for k in keys if k[0] == corpus]
        bodies = {k: "\n\n".join(l for l, q in zip(feats[k][0], oof[k]) if q >= THRESHOLD) for k in ks}
        s = body_score([page_score(bodies[k], pages_by_key[k][4]) for k in ks])
        labelled = [k for k in ks if pages_by_key[k][5] != ""]
        right = sum(norm_title(titles[k]) == norm_title(pages_by_key[k][5]) for k in labelled)
        out[corpus] = {"f1": round(s.f1, 4), "precision": round(s.precision, 4), "recall": round(s.recall, 4),
                       "pages": s.pages, "title_accuracy": round(right / len(labelled), 4) if labelled else None}
    return out, oof


def main() -> int:
    pages = training_pages()
    feats = featurise(pages)
    pages_by_key = {(p[0], p[1]): p for p in pages}
    keys = sorted(pages_by_key)
    groups = {k: f"{k[0]}:{pages_by_key[k][2]}" for k in keys}
    cv, oof = cross_validate(keys, feats, groups, pages_by_key)
    body, body_base, body_depth = export(fit(keys, feats))
    title, title_base, title_depth = export(fit_title([k for k in keys if pages_by_key[k][5] != ""], feats, oof))
    card = {
        "version": VERSION,
        "threshold": THRESHOLD,
        "title_threshold": TITLE_THRESHOLD,
        "features": cl.feature_names(),
        "title_features": list(TITLE_EXTRA),
        "training_data_sha256": data_digest(pages),
        "training_pages": {c: sum(1 for k in keys if k[0] == c) for c in sorted({k[0] for k in keys})},
        "leave_site_out": cv,
        "body": {"baseline": body_base, "depth": body_depth},
        "title": {"baseline": title_base, "depth": title_depth},
    }
    arrays = {f"body_{k}": body[k] for k in TREE_ARRAYS} | {f"title_{k}": title[k] for k in TREE_ARRAYS}
    np.savez_compressed(MODEL_FILE, **arrays)
    CARD_FILE.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE.relative_to(ROOT)} and its card (training data sha256 {card['training_data_sha256'][:16]}...)")
    print("leave-site-out figures (training pages, each scored by models that never saw its site):")
    for corpus, s in cv.items():
        t = "-" if s["title_accuracy"] is None else f"{s['title_accuracy']:.2f}"
        print(f"  {corpus:12} F1 {s['f1']:.3f}  P {s['precision']:.3f}  R {s['recall']:.3f}  title {t}  ({s['pages']} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
