"""The public API on the committed index, and `qa ask`."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

import qa
from qa.cli import main

from .conftest import CYCLEWAY_ARTICLE, ROOT, STATION_ARTICLE


def test_retrieve_returns_cited_passages_with_exact_offsets():
    passages = qa.retrieve("Who became acting prime minister of Kazakhstan?", k=5)
    assert 1 <= len(passages) <= 5
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    for p in passages:
        assert qa.get_article(p.doc_id).text[p.start : p.end] == p.text
        assert p.title and p.title in p.citation
    assert any("Roman Sklyar" in p.text for p in passages)


def test_citation_leaves_out_unknown_parts():
    p = next(p for p in qa.retrieve("Kazakh government resigns Sklyar", k=10) if p.doc_id == "000_6870258d6367f5ae")
    assert p.citation == "Kazakh government resigns, President Tokayev appoints new PM — The Kyiv Independent, 2024-02-05"
    assert p.published == date(2024, 2, 5) and p.authors == ("Nate Ostiller",)
    q = next(p for p in qa.retrieve("Nazarbayev statue toppled Taldykorgan", k=10) if p.doc_id == "003_a38c060e4e498b4b")
    assert q.citation == "Kazakhstan president Tokayev boosts ties with Russia while pushing aside his strongman predecessor"


@pytest.mark.parametrize("question", ["", "   \n\t", None, 42, ["who?"]])
def test_bad_questions_raise_value_error(question):
    with pytest.raises(ValueError, match="question"):
        qa.retrieve(question)


@pytest.mark.parametrize("k", [0, -1, 2.5, "5", True])
def test_bad_k_raises_value_error(k):
    with pytest.raises(ValueError, match="k must be"):
        qa.retrieve("Who is Samat Abish?", k=k)


def test_k_larger_than_corpus_returns_everything():
    n = len(qa.retrieve("Kazakhstan", k=10_000))
    assert n > 10


@pytest.mark.parametrize("doc_id", ["nope", "", "../../etc/passwd"])
def test_unknown_article_raises_key_error(doc_id):
    with pytest.raises(KeyError, match="No article with id"):
        qa.get_article(doc_id)


def test_index_dir_env_override(tiny_index, monkeypatch):
    monkeypatch.setenv("QA_INDEX_DIR", str(tiny_index))
    assert {p.doc_id for p in qa.retrieve("Lake Balkhash water level", k=3)} <= {"lake", "000_6870258d6367f5ae", "003_a38c060e4e498b4b"}
    assert qa.retrieve("Lake Balkhash water level", k=1)[0].doc_id == "lake"


def test_cli_ask_json(capsys):
    assert main(["ask", "Who is Samat Abish?", "-k", "3", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1  # one JSON object: the answer with its passages
    answer = json.loads(out[0])
    assert answer["outcome"] in {"answered", "unsure"} and "Abish" in answer["sentence"]
    assert answer["question"] == "Who is Samat Abish?" and 0 <= answer["confidence"] <= 1
    rows = answer["passages"]
    assert len(rows) == 3
    assert set(rows[0]) >= {"text", "score", "doc_id", "title", "publisher", "published", "authors", "start", "end", "chunk_id", "citation"}
    assert any("Abish" in r["text"] for r in rows)
    assert answer["passage"] in rows


def test_cli_ask_cites_each_passage_with_its_authors(tiny_index, capsys):
    assert main(["ask", "Lake Balkhash water levels", "-k", "1", "--index", str(tiny_index)]) == 0
    out = capsys.readouterr().out
    assert qa.get_article("lake", index_dir=tiny_index).authors == ("Jane Example",)
    cited = out[out.index("[1] ") :].splitlines()
    assert "Lake Balkhash" in cited[0] and cited[1] == "    By: Jane Example"


def test_cli_reports_errors_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "qa", "ask", "x", "--index", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert "qa build" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "qa", "ask", "   "], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "question is empty" in r.stderr


def test_console_script_installed():
    exe = ROOT / ".venv" / "bin" / "qa"
    if not exe.exists():
        pytest.skip("console script not installed in .venv (run make install)")
    r = subprocess.run([str(exe), "ask", "Nazarbayev nephew", "-k", "1"], capture_output=True, text=True)
    assert r.returncode == 0 and "[1]" in r.stdout


def test_import_qa_is_light():
    code = "import sys, qa; bad = [m for m in ('torch', 'sentence_transformers', 'transformers', 'gradio', 'faiss') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    assert out == "[]"


def test_k_passages_come_back_though_one_article_repeats_itself_past_the_candidate_pool(tmp_path, tiny_seeds):
    import shutil

    seeds = tmp_path / "seeds"
    shutil.copytree(tiny_seeds, seeds)
    line = "The city council debated the hospital budget again on Monday evening."
    (seeds / "repeats.txt").write_text("Hospital budget debated\n\n" + "\n\n".join([line] * 3000), encoding="utf-8")
    qa.build(seeds, tmp_path / "idx")
    got = qa.retrieve("hospital budget", k=8, index_dir=tmp_path / "idx")
    assert len(got) == 8  # the repeats are shown once; the other articles' passages fill the rest
    assert len({(p.doc_id, p.start) for p in got}) == 8


def test_a_headline_asked_as_printed_lifts_its_article_and_a_question_sharing_words_with_it_does_not(tmp_path):
    from qa.retrieve import get_index, title_match

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "cycleway.txt").write_text(CYCLEWAY_ARTICLE, encoding="utf-8")
    (seeds / "station.txt").write_text(STATION_ARTICLE, encoding="utf-8")
    qa.build(seeds, tmp_path / "idx")
    index = get_index(tmp_path / "idx")
    assert title_match(index, "Riverside cycleway approved", "cycleway") == pytest.approx(1.0)
    assert title_match(index, "riverside cycleway approved?", "station") == 0.0
    assert 0.0 < title_match(index, "Was the cycleway to the station approved?", "cycleway") < 0.5

    def scores(question: str, bonus: float) -> dict[str, float]:
        got = qa.retrieve(question, k=4, index_dir=tmp_path / "idx", settings=qa.Settings(title_match_bonus=bonus))
        return {p.doc_id: p.score for p in got}

    without, default = scores("Riverside cycleway approved", 0.0), scores("Riverside cycleway approved", 0.15)
    assert qa.Settings().title_match_bonus == 0.15
    assert default["cycleway"] == pytest.approx(without["cycleway"] + 0.15, abs=1e-5)  # the whole headline asked
    assert default["station"] == pytest.approx(without["station"], abs=1e-5)
    # below half a match there is no bonus: a question sharing a word or two with a headline is no headline asked
    asked = "Was the cycleway to the station approved?"
    assert scores(asked, 0.15) == pytest.approx(scores(asked, 0.0), abs=1e-6)
