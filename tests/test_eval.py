"""Quality gate: retrieval and answer figures on tests/data/eval.jsonl may not drop below today's (pinned just under)."""
from __future__ import annotations

import json

import pytest

from qa.cli import main
from qa.evaluate import DEFAULT_EVAL_FILE, evaluate_system, load_questions

# Measured 2026-11-22 on the committed index: hit@1 0.880, hit@5 1.000, MRR 0.937, follow-up hit@1 1.000,
# abstention recall 1.000, answered 0.782, sentence hit when answered ~0.70.
FLOORS = {
    "hit@1": 0.86,
    "hit@5": 0.98,
    "mrr": 0.92,
    "followup_hit@1": 0.90,
    "abstain_recall": 0.92,
    "answered_rate": 0.74,
    "answer_sentence_answered": 0.62,
}


@pytest.fixture(scope="module")
def figures():
    s = evaluate_system(load_questions(DEFAULT_EVAL_FILE))
    return s.summary()


def test_eval_set_shape():
    qs = load_questions(DEFAULT_EVAL_FILE)
    kinds = [q["kind"] for q in qs]
    assert kinds.count("answerable") >= 60 and kinds.count("unanswerable") >= 10 and kinds.count("followup") >= 8


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_quality_floor(figures, metric):
    print(f"\n{metric} = {figures[metric]:.3f} (floor {FLOORS[metric]})")
    assert figures[metric] >= FLOORS[metric]


def test_passages_are_short(figures):
    assert figures["mean_passage_words"] <= 100


def test_qa_eval_cli_json_with_baseline(tmp_path, capsys):
    rows = [json.loads(line) for line in DEFAULT_EVAL_FILE.read_text().splitlines()]
    small = [next(r for r in rows if r["kind"] == k) for k in ("answerable", "unanswerable", "followup")]
    f = tmp_path / "small.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in small) + "\n")
    assert main(["eval", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"answerable": 1, "unanswerable": 1, "followup": 1}
    assert out["qa"]["hit@5"] == 1.0 and out["baseline"]["hit@5"] is not None


def test_bad_eval_file_is_a_clear_error(tmp_path, capsys):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"kind": "answerable", "question": "x"}\n')
    assert main(["eval", str(f)]) == 2
    assert "needs 'doc_id' and 'answer'" in capsys.readouterr().err
