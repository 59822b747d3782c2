"""`qa eval`: retrieval and answer quality on a question set, against a naive baseline measured in the same run."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import config

DEFAULT_EVAL_FILE = config.REPO_ROOT / "tests" / "data" / "eval.jsonl"
BASELINE_WINDOW = 500


def _norm(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Read an eval file (JSON lines: kind answerable|unanswerable|followup, question, doc_id, answer, history)."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        kind = row.get("kind")
        if kind not in ("answerable", "unanswerable", "followup") or not isinstance(row.get("question"), str):
            raise ValueError(f"{path}:{n}: needs 'kind' (answerable|unanswerable|followup) and 'question'")
        if kind != "unanswerable" and not (row.get("doc_id") and row.get("answer")):
            raise ValueError(f"{path}:{n}: an {kind} question needs 'doc_id' and 'answer'")
        rows.append(row)
    return rows


def _rank(passages, doc_id: str, answer: str) -> int | None:
    """1-based rank of the first passage from doc_id containing the answer phrase."""
    want = _norm(answer)
    for i, (pdoc, text) in enumerate(passages, 1):
        if pdoc == doc_id and want in _norm(text):
            return i
    return None


@dataclass
class Scores:
    name: str
    ranks: list[int | None] = field(default_factory=list)
    sentence_hits: list[bool] = field(default_factory=list)
    sentence_answered: list[bool] = field(default_factory=list)
    followup_ranks: list[int | None] = field(default_factory=list)
    answered_answerable: list[bool] = field(default_factory=list)
    abstained_unanswerable: list[bool] = field(default_factory=list)
    passage_words: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float | None]:
        def hit(ranks, n):
            return sum(1 for r in ranks if r is not None and r <= n) / len(ranks) if ranks else None

        tp = sum(self.abstained_unanswerable)
        fp = sum(1 for a in self.answered_answerable if not a)
        return {
            "questions": len(self.ranks),
            "hit@1": hit(self.ranks, 1),
            "hit@3": hit(self.ranks, 3),
            "hit@5": hit(self.ranks, 5),
            "mrr": sum(1 / r for r in self.ranks if r) / len(self.ranks) if self.ranks else None,
            "answer_sentence": sum(self.sentence_hits) / len(self.sentence_hits) if self.sentence_hits else None,
            "answer_sentence_answered": (
                sum(self.sentence_hits) / sum(self.sentence_answered) if any(self.sentence_answered) else None
            ),
            "answered_rate": sum(self.answered_answerable) / len(self.answered_answerable) if self.answered_answerable else None,
            "abstain_precision": (tp / (tp + fp) if tp + fp else 1.0) if self.abstained_unanswerable else None,
            "abstain_recall": tp / len(self.abstained_unanswerable) if self.abstained_unanswerable else None,
            "followup_hit@1": hit(self.followup_ranks, 1),
            "followup_hit@5": hit(self.followup_ranks, 5),
            "mean_passage_words": float(np.mean(self.passage_words)) if self.passage_words else None,
        }


def evaluate_system(questions: list[dict[str, Any]], index_dir=None, k: int = 5) -> Scores:
    """Run qa.ask on every question and score it."""
    from .answer import ask

    s = Scores("qa (hybrid + answer)")
    for row in questions:
        ans = ask(row["question"], history=row.get("history", ()), k=k, index_dir=index_dir)
        if row["kind"] == "unanswerable":
            s.abstained_unanswerable.append(not ans.found)
            if ans.found:
                s.misses.append(f"answered unanswerable {row['question']!r}: {ans.sentence!r}")
            continue
        r = _rank([(p.doc_id, p.text) for p in ans.passages], row["doc_id"], row["answer"])
        s.passage_words += [len(p.text.split()) for p in ans.passages]
        s.answered_answerable.append(ans.found)
        if row["kind"] == "followup":
            s.followup_ranks.append(r)
        else:
            s.ranks.append(r)
            s.sentence_hits.append(bool(ans.found and ans.sentence and _norm(row["answer"]) in _norm(ans.sentence)))
            s.sentence_answered.append(ans.found)
        if r != 1 or not ans.found:
            s.misses.append(f"{row.get('id')}: rank={r} found={ans.found} q={row['question']!r} searched={ans.query!r}")
    return s


def evaluate_baseline(questions: list[dict[str, Any]], seeds_dir=None, k: int = 5) -> Scores:
    """Naive baseline: fixed 500-character windows over the raw files, dense search only."""
    from .clean import list_seed_files
    from .embed import encode_queries

    windows: list[tuple[str, str]] = []
    for p in list_seed_files(config.seeds_dir(seeds_dir)):
        raw = p.read_text(encoding="utf-8", errors="replace")
        windows += [(p.stem, raw[i : i + BASELINE_WINDOW]) for i in range(0, len(raw), BASELINE_WINDOW)]
    vecs = encode_queries([w for _, w in windows])
    s = Scores(f"baseline ({BASELINE_WINDOW}-char raw windows, dense only)")
    for row in questions:
        if row["kind"] == "unanswerable":
            continue
        q = row["question"] if row["kind"] != "followup" else row["question"]
        order = np.argsort(-(vecs @ encode_queries([q])[0]))[:k]
        top = [windows[i] for i in order]
        r = _rank(top, row["doc_id"], row["answer"])
        s.passage_words += [len(w.split()) for _, w in top]
        (s.followup_ranks if row["kind"] == "followup" else s.ranks).append(r)
    return s


METRICS = [
    ("hit@1", "hit@1"),
    ("hit@3", "hit@3"),
    ("hit@5", "hit@5"),
    ("MRR", "mrr"),
    ("answer sentence hit (all answerable)", "answer_sentence"),
    ("answer sentence hit (when answered)", "answer_sentence_answered"),
    ("answerable answered", "answered_rate"),
    ("abstention precision", "abstain_precision"),
    ("abstention recall", "abstain_recall"),
    ("follow-up hit@1", "followup_hit@1"),
    ("follow-up hit@5", "followup_hit@5"),
    ("mean passage words", "mean_passage_words"),
]


def format_table(ours: dict, base: dict, counts: dict[str, int]) -> str:
    def f(v):
        return "—" if v is None else (f"{v:.1f}" if isinstance(v, float) and v > 1.5 else f"{v:.3f}")

    lines = [
        f"Questions: {counts['answerable']} answerable, {counts['unanswerable']} unanswerable, {counts['followup']} follow-ups",
        "",
        "| metric | qa | baseline |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {f(ours.get(key))} | {f(base.get(key))} |" for label, key in METRICS]
    return "\n".join(lines)


def run(path: Path | None = None, index_dir=None, with_baseline: bool = True) -> dict[str, Any]:
    questions = load_questions(path or DEFAULT_EVAL_FILE)
    counts = {k: sum(1 for q in questions if q["kind"] == k) for k in ("answerable", "unanswerable", "followup")}
    ours = evaluate_system(questions, index_dir)
    base = evaluate_baseline(questions) if with_baseline else Scores("baseline")
    return {"counts": counts, "qa": ours.summary(), "baseline": base.summary(), "misses": ours.misses}
