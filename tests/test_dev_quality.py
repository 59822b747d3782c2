"""Quality gate on a corpus like a user's folder: the 212 development pages (tests/corpora) and the seeds, built
with `qa build` exactly as a user would, and the blind question sets written over them (tests/data/dev_*.jsonl).

dev_tune.jsonl is the half the settings and the confidence were fitted on; dev_test.jsonl (the other half of the
articles) was never fitted on. Floors are pinned just under the figures measured on this machine (README "Answer
quality"), so quality on other sites cannot silently regress. Slow: the build takes a few minutes.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.evaluate import evaluate_system, load_questions, summarize
from qa.settings import Settings

from .conftest import bench_module

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CORPORA = ROOT / "tests" / "corpora"

# Re-measured 2026-11-25 on a fresh build (201 articles): dev_test hit@1 0.779, MRR 0.848, a sentence shown for 0.931;
# dev_tune hit@1 0.743, hit@5 0.921, MRR 0.818. Floors unchanged. Measured 2026-11-24 (README "Answer quality"), a
# passage or sentence counting as right when it holds the answer phrase or one of the question's `also` phrases, with
# the answer sentence scorer and the confidence fitted on dev_tune (the confidence reading how the sentence stands out
# among the candidates, "share").
# dev_test: hit@1 0.786, hit@5 0.935, MRR 0.852, off-topic never answered, on-topic near-misses not answered 0.769 (the
# threshold keeps it >= 0.70 on dev_tune, issue #11's target), a sentence shown for 0.937 of answerable questions,
# right for 0.875 of those answered and for 0.692 of those shown, a right answer given for 0.318 of all answerable,
# follow-up hit@5 0.850. dev_tune: 0.737, 0.914, 0.812, 1.000, 0.727, 0.946, 0.796, 0.524, 0.283, 0.933.
# A follow-up that needs the context also ranks the previous answer's article by the question as typed: follow-up
# hit@1 / hit@5, dev_tune 0.867 / 0.933 -> 1.000 / 1.000, dev_test 0.650 / 0.850 -> 0.800 / 0.900 (answered 0.351
# -> 0.345, shown 0.937 -> 0.931 there: a follow-up's confidence moved); the rest unchanged.
FLOORS = {
    "dev_tune.jsonl": {"hit@1": 0.70, "hit@5": 0.89, "mrr": 0.78, "off_topic_refused": 0.99, "on_topic_refused": 0.70,
                       "shown_rate": 0.92, "answer_sentence_answered": 0.76, "answer_sentence_shown": 0.50,
                       "answer_sentence": 0.26, "followup_hit@1": 0.95, "followup_hit@5": 0.95},
    "dev_test.jsonl": {"hit@1": 0.74, "hit@5": 0.91, "mrr": 0.82, "off_topic_refused": 0.99, "on_topic_refused": 0.74,
                       "shown_rate": 0.92, "answer_sentence_answered": 0.84, "answer_sentence_shown": 0.67,
                       "answer_sentence": 0.30, "followup_hit@1": 0.75, "followup_hit@5": 0.88},
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dev_index(tmp_path_factory) -> Path:
    """The development corpora's text scrapes plus the seeds, in one folder, built into one index."""
    import qa

    folder = tmp_path_factory.mktemp("dev-folder")
    sources = [*(CORPORA / "aeb-dev" / "txt").glob("*.txt"), *(CORPORA / "readability" / "txt").glob("*.txt"),
               *(ROOT / "seeds").glob("*.txt")]
    for src in sources:
        assert not (folder / src.name).exists(), f"two pages named {src.name}"
        shutil.copy(src, folder / src.name)  # a build refuses symlinks that lead outside the seeds folder
    out = tmp_path_factory.mktemp("dev-index")
    qa.build(folder, out)
    return out


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_dev_quality_floors(dev_index, name):
    got = summarize(evaluate_system(load_questions(DATA / name), dev_index))
    floors = FLOORS[name]
    low = {m: round(got[m], 3) for m, floor in floors.items() if got[m] is None or got[m] < floor}
    print(f"\n{name}: " + ", ".join(f"{m} {got[m]:.3f} (floor {f})" for m, f in floors.items()))
    assert not low, f"{name}: below the floor: {low}"


def test_dev_sets_are_split_by_article():
    tune, test = (load_questions(DATA / n) for n in ("dev_tune.jsonl", "dev_test.jsonl"))
    docs = lambda qs: {q["doc_id"] for q in qs if q.get("doc_id")}  # noqa: E731
    assert not docs(tune) & docs(test)
    assert sum(q["kind"] == "answerable" for q in test) >= 100


def test_a_headline_asked_as_printed_finds_its_article(dev_index):
    """Each gold headline of dev_test's articles asked as a question: its article first for 50 of 51 (48 without the
    headline bonus, qa.retrieve.title_match; the bonus was chosen on the other articles' headlines, bench/tune.py)."""
    tune = bench_module("tune")
    hits, n = tune.headline_hits(tune.headline_queries()["test"], dev_index, Settings.fitted())
    assert n >= 45 and hits / n >= 0.96, (hits, n)
