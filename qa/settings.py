"""Retrieval and answering settings: one frozen object passed into search and ask; fitted values are a data file."""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

# Written by `python bench/tune.py --write`, with the digest of the question set it was fitted on.
FITTED_FILE = Path(__file__).resolve().parent / "fitted.json"
FITTED_FORMAT = 1


@dataclass(frozen=True)
class Abstention:
    """How sure we are that the answer sentence answers: a logistic over named evidence about the sentence, and the
    probabilities above which the sentence is given as the answer, or shown as the closest (unsure) one."""

    # defaults: the fit in qa/fitted.json (bench/tune.py on tests/data/dev_tune.jsonl), so Settings() agrees with it
    features: tuple[str, ...] = ('cosine', 'unmatched', 'share')
    weights: tuple[float, ...] = (1.4662, -1.4034, 2.2073)
    bias: float = -1.8645
    answer_threshold: float = 0.521
    unsure_threshold: float = 0.183

    def __post_init__(self) -> None:
        if len(self.features) != len(self.weights):
            raise ValueError(f"abstention has {len(self.features)} features but {len(self.weights)} weights")
        if not 0.0 <= self.unsure_threshold <= self.answer_threshold <= 1.0:
            raise ValueError(
                f"abstention thresholds must satisfy 0 <= unsure ({self.unsure_threshold}) <= answer "
                f"({self.answer_threshold}) <= 1"
            )

    def probability(self, evidence: dict[str, float]) -> float:
        z = self.bias + sum(w * float(evidence[f]) for f, w in zip(self.features, self.weights))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@dataclass(frozen=True)
class Settings:
    """Everything that decides how passages are ranked and answers chosen. Pass one to `qa.ask`/`qa.retrieve` to try
    other values; `Settings.fitted()` (the default) reads the values fitted by bench/tune.py from qa/fitted.json."""

    # Stage 1: candidates from dense (FAISS) and keyword (BM25) search, fused by a normalised weighted sum.
    candidate_pool: int = 50
    dense_weight: float = 0.7
    # Stage 2: rerank the best candidates by passage cosine, best-sentence cosine and late interaction (MaxSim).
    rerank: bool = True
    rerank_pool: int = 30
    rerank_dense: float = 0.25
    rerank_sentence: float = 0.25
    rerank_late: float = 1.0
    # Bonuses for a passage holding the kind of answer asked for, and for "Who is X?" the passage where the article
    # first mentions X (qa/answer_type.py).
    answer_type_bonus: float = 0.05
    first_mention_bonus: float = 0.15
    # A bonus for the passages of an article whose headline the question nearly is (qa.retrieve.title_match, 0..1):
    # chosen by bench/tune.py on headlines asked as questions, for the articles without a dev_test question.
    title_match_bonus: float = 0.15
    # The answer sentence: among the top passages, token MaxSim inside the sentence, plus a share of its cosine and
    # a share of the MaxSim gained by reading the sentence before it too (bench/tune.py fits both on dev_tune).
    answer_passages: int = 3
    sentence_cosine_weight: float = 0.227
    sentence_context_weight: float = 0.706
    # The same fit's scale: a candidate's chance of being the answer is a softmax of sentence_scale x its score over
    # the question's candidates, and the chosen one's chance ("share") is evidence for the confidence.
    sentence_scale: float = 10.637
    token_match: float = 0.6  # a question token whose best match in the sentence is below this is "missing"
    history_turns: int = 3
    abstention: Abstention = field(default_factory=Abstention)

    def __post_init__(self) -> None:
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be between 0 and 1, got {self.dense_weight}")
        if not self.sentence_scale > 0.0:
            raise ValueError(f"sentence_scale must be above 0, got {self.sentence_scale}")
        for name in ("candidate_pool", "rerank_pool", "answer_passages"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @classmethod
    def fitted(cls, path: str | os.PathLike | None = None) -> Settings:
        """The settings in the fitted file (default qa/fitted.json), or the built-in defaults if it is absent.

        Raises:
            ValueError: the file exists but is not a settings file this version can read.
        """
        p = Path(path) if path is not None else FITTED_FILE
        if not p.exists():
            return cls()
        return _load(str(p), p.stat().st_mtime_ns)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        values = dict(data)
        if "abstention" in values:
            a = values["abstention"]
            values["abstention"] = Abstention(**{**a, "features": tuple(a["features"]), "weights": tuple(a["weights"])})
        return replace(cls(), **values)


@lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int) -> Settings:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != FITTED_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FITTED_FORMAT}")
        return Settings.from_json(doc["settings"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"The settings file {path} is unreadable ({exc}). Refit it with `python bench/tune.py --write`.") from exc


def write_fitted(settings: Settings, questions: Path, notes: dict[str, Any], path: Path = FITTED_FILE) -> None:
    """Save fitted settings with the digest of the question set they were fitted on (atomically)."""
    doc = {
        "format": FITTED_FORMAT,
        "fitted_on": {
            "questions": questions.name,
            "sha256": hashlib.sha256(questions.read_bytes()).hexdigest(),
        },
        "notes": notes,
        "settings": settings.to_json(),
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
