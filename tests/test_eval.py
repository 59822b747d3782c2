"""Quality gate: retrieval and answer figures on tests/data/eval.jsonl may not drop below today's (pinned just under)."""
from __future__ import annotations

import json

import pytest

from qa.cli import main
from qa.evaluate import DEFAULT_EVAL_FILE, _norm, _rank, answer_phrases, evaluate_system, load_questions, summarize

from .conftest import TINY_ARTICLE

DATA = DEFAULT_EVAL_FILE.parent
ROOT = DATA.parent.parent
HOLDOUT_FILE = DEFAULT_EVAL_FILE.with_name("holdout.jsonl")
BLIND_FILE = DEFAULT_EVAL_FILE.with_name("blind.jsonl")

# Measured 2026-11-22 on the committed index (README "Answer quality"), with the settings and confidence fitted on
# the development corpora (qa/fitted.json, fitted on tests/data/dev_tune.jsonl only: all three sets here are
# another corpus for it). The confidence is calibrated on folders like a user's (~200 articles); on these five
# articles it is under-confident, so fewer answers are given as confident and more as "unsure" than before
# (answered_rate 0.14-0.35): the floors pin that a sentence is still shown (shown_rate) and that it is right when
# given as the answer.
# Re-measured 2026-11-24 with the shared token codes (qa/tokens.py): eval.jsonl: hit@1 0.893, hit@5 1.000, MRR
# 0.943, follow-up hit@1 1.000, unanswerable refused 1.000, a sentence shown for 0.908, right when answered 0.875.
# holdout.jsonl: 0.900, 0.975, 0.933, 1.000, 0.950, 0.854, 0.900. blind.jsonl: 0.900, 0.933, 0.907, 1.000, 0.867,
# 0.857, 0.750 (confidence re-fitted 2026-11-23).
# Re-measured 2026-11-24 with the answer sentence scorer fitted on dev_tune (MaxSim, cosine and the match gained from
# the sentence before) and the confidence re-fitted with it: eval.jsonl: a sentence shown for 0.885, right when
# answered 0.882, right when shown 0.800, unanswerable refused 1.000; holdout.jsonl: 0.875, 0.875, 0.735, 0.950;
# blind.jsonl: 0.857, 0.750, 0.760, 0.800. Ranking is unchanged.
# Re-measured 2026-11-24 with the confidence reading how the sentence stands out among the candidates ("share"): more
# answers are given, and right, on every set (right answers given, of all answerable: eval 0.200 -> 0.253, holdout
# 0.175 -> 0.275, blind 0.100 -> 0.133); of those given, holdout's are right a little less often (0.875 -> 0.846).
# eval.jsonl: a sentence shown for 0.908, right when answered 0.864, right when shown 0.806, unanswerable refused
# 1.000; holdout.jsonl: 0.875, 0.846, 0.735, 0.950; blind.jsonl: 0.914, 0.800, 0.778, 0.800. Ranking is unchanged.
FLOORS = {
    "eval.jsonl": {"hit@1": 0.89, "hit@5": 0.98, "mrr": 0.93, "followup_hit@1": 0.95, "abstain_recall": 0.95,
                   "shown_rate": 0.89, "answer_sentence_answered": 0.85, "answer_sentence_shown": 0.78,
                   "answer_sentence": 0.24},
    "holdout.jsonl": {"hit@1": 0.87, "hit@5": 0.95, "mrr": 0.90, "followup_hit@1": 0.95, "abstain_recall": 0.95,
                      "shown_rate": 0.85, "answer_sentence_answered": 0.83, "answer_sentence_shown": 0.71,
                      "answer_sentence": 0.26},
    "blind.jsonl": {"hit@1": 0.87, "hit@5": 0.90, "mrr": 0.88, "followup_hit@1": 0.95, "abstain_recall": 0.80,
                    "shown_rate": 0.89, "answer_sentence_answered": 0.78, "answer_sentence_shown": 0.76,
                    "answer_sentence": 0.12},
}
FILES = {"eval.jsonl": DEFAULT_EVAL_FILE, "holdout.jsonl": HOLDOUT_FILE, "blind.jsonl": BLIND_FILE}


@pytest.fixture(scope="module", params=sorted(FILES))
def figures(request):
    return request.param, summarize(evaluate_system(load_questions(FILES[request.param])))


# the issue asks for >= 60 answerable, >= 10 unanswerable and >= 8 follow-ups in the eval set
SHAPES = {"eval.jsonl": (60, 10, 8), "holdout.jsonl": (40, 20, 8), "blind.jsonl": (30, 15, 5)}


@pytest.mark.parametrize("name", sorted(FILES))
def test_eval_set_shape(name):
    qs = load_questions(FILES[name])
    kinds = [q["kind"] for q in qs]
    counts = tuple(kinds.count(k) for k in ("answerable", "unanswerable", "followup"))
    assert all(c >= m for c, m in zip(counts, SHAPES[name])), counts
    assert len({q["id"] for q in qs}) == len(qs)


def test_quality_floors(figures):
    name, got = figures
    low = {m: round(got[m], 3) for m, floor in FLOORS[name].items() if got[m] < floor}
    print(f"\n{name}: " + ", ".join(f"{m} {got[m]:.3f} (floor {f})" for m, f in FLOORS[name].items()))
    assert not low, f"{name}: below the floor: {low}"


def test_passages_are_short(figures):
    assert figures[1]["mean_passage_words"] <= 100


def test_qa_eval_cli_json_with_baseline(tmp_path, capsys):
    rows = [json.loads(line) for line in DEFAULT_EVAL_FILE.read_text().splitlines()]
    small = [next(r for r in rows if r["kind"] == k) for k in ("answerable", "unanswerable", "followup")]
    f = tmp_path / "small.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in small) + "\n")
    assert main(["eval", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"answerable": 1, "unanswerable": 1, "followup": 1}
    assert out["qa"]["hit@5"] == 1.0 and out["baseline"]["hit@5"] is not None


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"kind": "answerable", "question": "x"}', "needs 'doc_id' and 'answer'"),
        ('{"kind": "answerable", "question": "x", "doc_id": "d", "answer": "a", "also": "b"}',
         "'also' must be a list of answer phrases"),
    ],
)
def test_bad_eval_file_is_a_clear_error(tmp_path, capsys, line, message):
    f = tmp_path / "bad.jsonl"
    f.write_text(line + "\n")
    assert main(["eval", str(f)]) == 2
    assert message in capsys.readouterr().err


def test_questions_about_articles_the_index_or_baseline_folder_lacks_are_an_error_not_misses(tmp_path, capsys):
    row = json.loads(DEFAULT_EVAL_FILE.read_text().splitlines()[0])
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({**row, "doc_id": "no-such-article"}) + "\n")
    assert main(["eval", str(f), "--no-baseline"]) == 2
    assert "1 article the questions name is not in the index (no-such-article)" in capsys.readouterr().err
    # the questions are about the index's articles, but the baseline is asked to read another folder
    f.write_text(json.dumps(row) + "\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    assert main(["eval", str(f), "--seeds", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"not in the baseline's folder {other}" in err and "--seeds" in err


def test_the_code_defaults_are_the_fitted_settings():
    """qa.Settings() and the fitted file (qa/fitted.json) agree, so a user replacing one field keeps the fit."""
    import qa

    assert qa.Settings() == qa.Settings.fitted()


def test_the_fitted_settings_record_the_questions_they_were_fitted_on():
    """qa/fitted.json names the tuning set and its sha256: a changed tuning set without a re-fit fails here."""
    import hashlib

    from qa.settings import FITTED_FILE

    fitted_on = json.loads(FITTED_FILE.read_text(encoding="utf-8"))["fitted_on"]
    assert fitted_on["questions"] == "dev_tune.jsonl"
    assert fitted_on["sha256"] == hashlib.sha256((DATA / "dev_tune.jsonl").read_bytes()).hexdigest()


def test_also_phrases_count_unless_strict():
    row = {"answer": "at least 19 people", "also": ["killing  19 visitors"]}
    passages = [("a", "Gunmen stormed it, killing 19 visitors."), ("b", "It killed at least 19 people.")]
    assert _rank(passages, "a", answer_phrases(row)) == 1
    assert _rank(passages, "a", answer_phrases(row, strict=True)) is None
    assert _rank(passages, "b", answer_phrases(row)) == 2  # another article's passage never counts


@pytest.mark.parametrize("name", [*sorted(FILES), "dev_tune.jsonl", "dev_test.jsonl"])
def test_answer_phrases_are_copied_from_their_articles(name):
    """Every answer and 'also' phrase is in its article as a user's folder holds it: the seed, or the text scrape of
    a development page (so a passage can hold it only if the cleaner kept it)."""
    files = [*(ROOT / "seeds").glob("*.txt"), *(ROOT / "tests" / "corpora").glob("*/txt/*.txt")]
    texts = {p.stem: p for p in files}
    missing = []
    for q in load_questions(DATA / name):
        if q["kind"] != "unanswerable":
            text = _norm(texts[q["doc_id"]].read_text(encoding="utf-8"))
            missing += [(q["id"], p) for p in answer_phrases(q) if p not in text]
    assert not missing


def test_the_latency_benchmark_asks_a_question_sets_own_questions():
    """bench/latency.py and bench/startup.py write no question of their own: they time a set's first turns and its
    follow-ups (with their earlier turns), so they measure any index with the questions written for it."""
    from .conftest import bench_module

    rows = load_questions(DATA / "dev_test.jsonl")
    first, follow = bench_module("latency").questions(DATA / "dev_test.jsonl")
    assert first == [r["question"] for r in rows if not r.get("history")][: len(first)] and len(first) == 20
    assert follow and all(earlier and q for earlier, q in follow)
    assert [q for _, q in follow] == [r["question"] for r in rows if r.get("history")][: len(follow)]
    assert bench_module("startup").first_question(DATA / "dev_test.jsonl") == first[0]
