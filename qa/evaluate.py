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
    """Read an eval file (JSON lines: kind answerable|unanswerable|followup, question, doc_id, answer, history, and
    optionally `also`: other phrases of the same article that state the same answer)."""
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
        also = row.get("also", [])
        if not isinstance(also, list) or not all(isinstance(a, str) and a.strip() for a in also):
            raise ValueError(f"{path}:{n}: 'also' must be a list of answer phrases")
        rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no questions (one JSON object a line, with 'kind' and 'question')")
    return rows


def answer_phrases(row: dict[str, Any], strict: bool = False) -> tuple[str, ...]:
    """The phrases that count as the answer: `answer` and, unless strict, the `also` phrases (the same answer stated
    elsewhere in the article), normalised."""
    return tuple(_norm(a) for a in [row["answer"], *([] if strict else row.get("also", []))])


def holds_answer(text: str, phrases: tuple[str, ...]) -> bool:
    t = _norm(text)
    return any(p in t for p in phrases)


def _rank(passages, doc_id: str, phrases: tuple[str, ...]) -> int | None:
    """1-based rank of the first passage from doc_id containing one of the answer phrases."""
    for i, (pdoc, text) in enumerate(passages, 1):
        if pdoc == doc_id and holds_answer(text, phrases):
            return i
    return None


@dataclass(frozen=True)
class Record:
    """One question's result: where the answer ranked, what was answered, and how sure the system was."""

    id: str
    kind: str  # answerable | unanswerable | followup
    subkind: str | None  # for unanswerable: on_topic | off_topic (when the set says)
    question: str
    query: str
    rank: int | None  # 1-based rank of the first passage holding the answer (None: not in the top k)
    outcome: str  # answered | unsure | not_found (the baseline: answered)
    confidence: float
    sentence_right: bool | None  # the answer sentence holds the answer phrase (None: no sentence given)
    passage_words: tuple[int, ...] = ()


def _share(flags) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def expected_calibration_error(records: list[Record], bins: int = 10) -> tuple[float | None, int]:
    """ECE of `confidence` as the probability that the given sentence answers, over questions given a sentence
    (answered or unsure); an unanswerable question's sentence never answers. Equal-width bins."""
    pts = [(r.confidence, bool(r.sentence_right)) for r in records if r.sentence_right is not None]
    if not pts:
        return None, 0
    conf = np.array([c for c, _ in pts])
    right = np.array([y for _, y in pts], float)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    ece = sum(abs(conf[which == b].mean() - right[which == b].mean()) * np.mean(which == b) for b in range(bins) if (which == b).any())
    return float(ece), len(pts)


def summarize(records: list[Record]) -> dict[str, float | None]:
    """The figures of `qa eval` from per-question records."""
    main = [r for r in records if r.kind == "answerable"]
    follow = [r for r in records if r.kind == "followup"]
    unans = [r for r in records if r.kind == "unanswerable"]
    answerable = main + follow
    ranks = [r.rank for r in main]

    def hit(rs, n):
        return _share(r is not None and r <= n for r in rs)

    answered_main = [r for r in main if r.outcome == "answered"]
    refused_wrongly = sum(r.outcome != "answered" for r in answerable)
    refused_rightly = sum(r.outcome != "answered" for r in unans)
    ece, n_cal = expected_calibration_error(records)
    return {
        "questions": len(main),
        "hit@1": hit(ranks, 1),
        "hit@3": hit(ranks, 3),
        "hit@5": hit(ranks, 5),
        "mrr": sum(1 / r for r in ranks if r) / len(ranks) if ranks else None,
        "answer_sentence": _share(r.outcome == "answered" and bool(r.sentence_right) for r in main),
        "answer_sentence_answered": _share(bool(r.sentence_right) for r in answered_main),
        # what a reader sees whether or not the system is sure: the sentence it shows holds the answer
        "answer_sentence_shown": _share(bool(r.sentence_right) for r in main if r.outcome != "not_found"),
        "answered_rate": _share(r.outcome == "answered" for r in answerable),
        "unsure_rate": _share(r.outcome == "unsure" for r in answerable),
        "shown_rate": _share(r.outcome != "not_found" for r in answerable),
        "abstain_precision": (
            (refused_rightly / (refused_rightly + refused_wrongly) if refused_rightly + refused_wrongly else 1.0)
            if unans else None
        ),
        "abstain_recall": _share(r.outcome != "answered" for r in unans),
        "on_topic_refused": _share(r.outcome != "answered" for r in unans if r.subkind == "on_topic"),
        "off_topic_refused": _share(r.outcome != "answered" for r in unans if r.subkind == "off_topic"),
        "on_topic_not_found": _share(r.outcome == "not_found" for r in unans if r.subkind == "on_topic"),
        "off_topic_not_found": _share(r.outcome == "not_found" for r in unans if r.subkind == "off_topic"),
        "followup_hit@1": hit([r.rank for r in follow], 1),
        "followup_hit@5": hit([r.rank for r in follow], 5),
        "ece": ece,
        "calibration_questions": n_cal if n_cal else None,
        "mean_passage_words": float(np.mean([w for r in answerable for w in r.passage_words])) if answerable else None,
    }


def _check_articles(questions: list[dict[str, Any]], held: set[str], where: str, fix: str) -> None:
    """A ValueError when questions name articles `where` does not hold: each would silently count as a miss."""
    unknown = sorted({q["doc_id"] for q in questions if q["kind"] != "unanswerable"} - held)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ValueError(f"{len(unknown)} article{'s' if len(unknown) > 1 else ''} the questions name "
                         f"{'are' if len(unknown) > 1 else 'is'} not in {where} ({shown}): {fix}")


def evaluate_system(
    questions: list[dict[str, Any]], index_dir=None, k: int = 5, settings=None, strict: bool = False
) -> list[Record]:
    """Run qa.ask on every question and record how it did. A passage or sentence is right when it holds the answer
    phrase or, unless strict, one of the question's `also` phrases."""
    from .answer import ask
    from .retrieve import get_index

    _check_articles(questions, set(get_index(index_dir).articles), "the index",
                    "build the index from the folder the questions were written over")
    out = []
    for row in questions:
        # a follow-up comes after its earlier questions were really asked, as in the chat: their answers are history
        history = []
        for earlier in row.get("history", ()):
            history.append(ask(earlier, history=list(history), k=k, index_dir=index_dir, settings=settings))
        ans = ask(row["question"], history=history, k=k, index_dir=index_dir, settings=settings)
        answerable = row["kind"] != "unanswerable"
        phrases = answer_phrases(row, strict) if answerable else ()
        rank = _rank([(p.doc_id, p.text) for p in ans.passages], row["doc_id"], phrases) if answerable else None
        right = None
        if ans.sentence is not None:
            right = (answerable and ans.passage is not None and ans.passage.doc_id == row["doc_id"]
                     and holds_answer(ans.sentence, phrases))
        out.append(
            Record(
                id=str(row.get("id", "")), kind=row["kind"], subkind=row.get("subkind"), question=row["question"],
                query=ans.query, rank=rank, outcome=ans.outcome, confidence=ans.confidence, sentence_right=right,
                passage_words=tuple(len(p.text.split()) for p in ans.passages),
            )
        )
    return out


def misses(records: list[Record]) -> list[str]:
    """One line per question not answered first-and-right, or unanswerable but answered."""
    lines = []
    for r in records:
        if r.kind == "unanswerable":
            if r.outcome == "answered":
                lines.append(f"{r.id}: answered an unanswerable question ({r.subkind or 'unanswerable'}) q={r.question!r}")
        elif r.rank != 1 or r.outcome != "answered" or not r.sentence_right:
            lines.append(
                f"{r.id}: rank={r.rank} {r.outcome} conf={r.confidence:.2f} sentence_right={r.sentence_right} "
                f"q={r.question!r} searched={r.query!r}"
            )
    return lines


def evaluate_baseline(questions: list[dict[str, Any]], seeds_dir=None, k: int = 5, strict: bool = False) -> list[Record]:
    """Naive baseline: fixed 500-character windows over the raw files, dense search only."""
    from .clean import list_seed_files, seed_name
    from .embed import encode_queries

    windows: list[tuple[str, str]] = []
    folder = config.seeds_dir(seeds_dir)
    for p in list_seed_files(folder):
        raw = p.read_text(encoding="utf-8", errors="replace")
        doc_id = seed_name(p.with_suffix(""), folder)  # the article id a build gives the file
        windows += [(doc_id, raw[i : i + BASELINE_WINDOW]) for i in range(0, len(raw), BASELINE_WINDOW)]
    _check_articles(questions, {d for d, _ in windows}, f"the baseline's folder {folder}",
                    "pass the folder the index was built from as seeds_dir (qa eval --seeds DIR), or skip the baseline")
    vecs = np.concatenate([encode_queries([w for _, w in windows[i : i + 256]]) for i in range(0, len(windows), 256)])
    out = []
    for row in questions:
        if row["kind"] == "unanswerable":
            continue
        order = np.argsort(-(vecs @ encode_queries([row["question"]])[0]))[:k]
        top = [windows[i] for i in order]
        out.append(
            Record(
                id=str(row.get("id", "")), kind=row["kind"], subkind=None, question=row["question"],
                query=row["question"], rank=_rank(top, row["doc_id"], answer_phrases(row, strict)), outcome="answered",
                confidence=0.0, sentence_right=None, passage_words=tuple(len(w.split()) for _, w in top),
            )
        )
    return out


METRICS = [
    ("hit@1", "hit@1"),
    ("hit@3", "hit@3"),
    ("hit@5", "hit@5"),
    ("MRR", "mrr"),
    ("answer sentence right (of all answerable)", "answer_sentence"),
    ("answer sentence right (of answered)", "answer_sentence_answered"),
    ("answer sentence right (of shown: answered or unsure)", "answer_sentence_shown"),
    ("answerable answered", "answered_rate"),
    ("answerable shown as unsure", "unsure_rate"),
    ("answerable given a sentence (answered or unsure)", "shown_rate"),
    ("unanswerable refused (not answered)", "abstain_recall"),
    ("on-topic absent refused", "on_topic_refused"),
    ("off-topic refused", "off_topic_refused"),
    ("on-topic absent: not in the articles", "on_topic_not_found"),
    ("off-topic: not in the articles", "off_topic_not_found"),
    ("abstention precision", "abstain_precision"),
    ("follow-up hit@1", "followup_hit@1"),
    ("follow-up hit@5", "followup_hit@5"),
    ("confidence calibration error (ECE)", "ece"),
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


def run(
    path: Path | None = None, index_dir=None, with_baseline: bool = True, seeds_dir=None, settings=None,
    strict: bool = False,
) -> dict[str, Any]:
    """Evaluate the system (and the baseline over the raw files in seeds_dir) on a question file."""
    questions = load_questions(path or DEFAULT_EVAL_FILE)
    counts = {k: sum(1 for q in questions if q["kind"] == k) for k in ("answerable", "unanswerable", "followup")}
    ours = evaluate_system(questions, index_dir, settings=settings, strict=strict)
    base = summarize(evaluate_baseline(questions, seeds_dir, strict=strict)) if with_baseline else {}
    # the baseline only ranks windows: it neither answers nor refuses
    base = {k: base.get(k) for k in ("questions", "hit@1", "hit@3", "hit@5", "mrr", "followup_hit@1", "followup_hit@5", "mean_passage_words")}
    return {"counts": counts, "qa": summarize(ours), "baseline": base, "misses": misses(ours)}
