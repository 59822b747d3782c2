"""Updating an index in place: a changed or added article is appended, a replaced or removed one's passages are
marked deleted, and the answers are those of a fresh build of the same folder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import qa
import qa.index
from qa import bm25, config
from qa.index import MANIFEST, VECTORS, load_index

from .conftest import CYCLEWAY_ARTICLE, HARBOUR_ARTICLE


QUESTIONS = [
    "How many years did the lake survey take?",
    "Who leads the government?",
    "What happened to the lake?",
    "What did the president say?",
    "Which company signed the agreement?",
    "When will the plan be reviewed?",
]


def _manifest(d: Path) -> dict:
    return json.loads((d / MANIFEST).read_text())


def _folder(tiny_seeds: Path, tiny_index: Path, tmp_path: Path) -> tuple[Path, Path]:
    seeds = shutil.copytree(tiny_seeds, tmp_path / "seeds")
    return seeds, shutil.copytree(tiny_index, tmp_path / "idx")


def _answers(index_dir: Path) -> list[tuple]:
    out = []
    for q in QUESTIONS:
        a = qa.ask(q, index_dir=index_dir)
        out.append((a.outcome, round(a.confidence, 6), a.sentence, [(p.doc_id, p.text) for p in a.passages]))
    return out


def _edit(seeds: Path) -> None:
    lake = seeds / "lake.txt"
    lake.write_text(lake.read_text().replace("ten years", "twelve years")
                    + "\nThe council will review the plan again in March, officials said.\n")
    (seeds / "harbour.txt").write_text(HARBOUR_ARTICLE, encoding="utf-8")


def test_an_update_appends_only_what_changed_and_answers_as_a_fresh_build(tiny_seeds, tiny_index, tmp_path):
    seeds, out = _folder(tiny_seeds, tiny_index, tmp_path)
    before = _manifest(out)
    vectors = out / before["data_dir"] / VECTORS
    size = vectors.stat().st_size
    _edit(seeds)
    r = qa.build(seeds, out)
    assert r.changed and set(r.embedded) == {"lake", "harbour"}
    assert set(r.reused) == {"000_6870258d6367f5ae", "003_a38c060e4e498b4b"}
    after = _manifest(out)
    # the same generation, appended to: the unchanged articles' bytes stay where they were
    assert after["data_dir"] == before["data_dir"]
    lake_rows = before["articles"]["lake"]["passages"]
    assert after["rows"] == before["rows"] + after["articles"]["lake"]["passages"] + after["articles"]["harbour"]["passages"]
    assert after["passages"] == after["rows"] - lake_rows
    assert vectors.stat().st_size == size + (after["rows"] - before["rows"]) * config.MODEL_DIM * 4
    assert len(after["files"][VECTORS]["parts"]) == 2
    loaded = load_index(out)
    assert loaded.live is not None and int((~loaded.live).sum()) == lake_rows
    assert "twelve years" in qa.get_article("lake", index_dir=out).text

    fresh = tmp_path / "fresh"
    qa.build(seeds, fresh)
    assert _answers(out) == _answers(fresh)
    # the wordpieces' passage counts are kept up to date, not re-counted: the same IDF as a fresh build's
    np.testing.assert_array_equal(load_index(out).tokens.idf, load_index(fresh).tokens.idf)
    # the replaced text is never retrieved
    for p in qa.retrieve("ten years", k=20, index_dir=out):
        assert p.text in qa.get_article(p.doc_id, index_dir=out).text
        assert not (p.doc_id == "lake" and "ten years" in p.text)
    # a second build with nothing changed does nothing
    again = qa.build(seeds, out)
    assert not again.changed and again.embedded == ()


def _keyword_docs(index_dir: Path, query: str) -> set[str]:
    """The articles whose live passages BM25 scores above 0 for the query."""
    loaded = load_index(index_dir)
    scores = loaded.keyword.scores(query)
    live = np.ones(len(scores), bool) if loaded.live is None else loaded.live
    return {loaded.chunks[r].doc_id for r in np.flatnonzero((scores > 0) & live)}


def test_a_headline_finds_its_article_though_its_text_never_repeats_it(tiny_seeds, tiny_index, tmp_path):
    seeds, out = _folder(tiny_seeds, tiny_index, tmp_path)
    (seeds / "cycleway.txt").write_text(CYCLEWAY_ARTICLE, encoding="utf-8")
    qa.build(seeds, out)  # an update: the kept articles' passages are keyed by BM25 anew with the added one's
    assert qa.get_article("cycleway", index_dir=out).title == "Riverside cycleway approved"
    assert "cycleway" not in qa.get_article("cycleway", index_dir=out).text.lower()
    assert _keyword_docs(out, "riverside cycleway") == {"cycleway"}
    assert qa.retrieve("riverside cycleway", k=1, index_dir=out)[0].doc_id == "cycleway"
    # the kept articles' headlines are keyed too: the lake article's headline words its text lacks ("fall", "low")
    lake = qa.get_article("lake", index_dir=out)
    only_in_title = set(bm25.terms(lake.title)) - set(bm25.terms(lake.text))
    assert only_in_title and all("lake" in _keyword_docs(out, t) for t in only_in_title)
    assert _manifest(out)["keyword"] == {"fields": ["title", "text"]}

    # an index whose BM25 was keyed by passage text alone (written before) is re-keyed by the next build, which
    # re-embeds nothing
    m = _manifest(out)
    del m["keyword"]
    (out / MANIFEST).write_text(json.dumps(m))
    r = qa.build(seeds, out)
    assert r.changed and r.embedded == () and _manifest(out)["keyword"] == {"fields": ["title", "text"]}
    assert _keyword_docs(out, "riverside cycleway") == {"cycleway"}
    assert not qa.build(seeds, out).changed


def test_a_deleted_file_removes_its_passages_and_compaction_reclaims_them(tiny_seeds, tiny_index, tmp_path, monkeypatch):
    seeds, out = _folder(tiny_seeds, tiny_index, tmp_path)
    before = _manifest(out)
    gone = before["articles"]["003_a38c060e4e498b4b"]["passages"]
    monkeypatch.setattr(config, "COMPACT_DEAD_SHARE", 0.95)
    (seeds / "003_a38c060e4e498b4b.txt").unlink()
    r = qa.build(seeds, out)
    assert r.changed and r.embedded == () and r.removed == ("003_a38c060e4e498b4b",)
    m = _manifest(out)
    assert m["rows"] == before["rows"] and m["passages"] == before["passages"] - gone
    assert "003_a38c060e4e498b4b" not in m["articles"]
    with pytest.raises(KeyError):
        qa.get_article("003_a38c060e4e498b4b", index_dir=out)
    assert all(p.doc_id != "003_a38c060e4e498b4b" for p in qa.retrieve("Kazakhstan government", k=20, index_dir=out))
    assert all(p.doc_id != "003_a38c060e4e498b4b" for p in qa.retrieve("Kazakhstan", k=20, index_dir=out, publisher=None,
                                                                       since="1900-01-01"))
    # past the share of deleted passages, the next change re-writes the index whole
    monkeypatch.setattr(config, "COMPACT_DEAD_SHARE", 0.0)
    lake = seeds / "lake.txt"
    lake.write_text(lake.read_text() + "\nA later paragraph.\n")
    (seeds / "000_6870258d6367f5ae.txt").unlink()
    assert qa.build(seeds, out).removed == ("000_6870258d6367f5ae",)  # a whole re-write says so too
    m = _manifest(out)
    assert m["data_dir"] != before["data_dir"] and m["rows"] == m["passages"]
    assert load_index(out).live is None


def test_an_update_that_fails_before_its_manifest_leaves_the_old_index(tiny_seeds, tiny_index, tmp_path, monkeypatch):
    seeds, out = _folder(tiny_seeds, tiny_index, tmp_path)
    before = _manifest(out)
    sizes = {p.name: p.stat().st_size for p in (out / before["data_dir"]).iterdir() if p.is_file()}
    _edit(seeds)

    def crash(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(qa.index, "_swap_manifest", crash)
    with pytest.raises(qa.BuildError, match="No space left"):
        qa.build(seeds, out)
    monkeypatch.undo()
    assert _manifest(out) == before
    assert {p.name: p.stat().st_size for p in (out / before["data_dir"]).iterdir() if p.is_file()} == sizes
    assert set(load_index(out).articles) == set(before["articles"])

    # bytes a killed update appended past the committed sizes are ignored on load, then cut by the next update
    vectors = out / before["data_dir"] / VECTORS
    with open(vectors, "ab") as f:
        f.write(np.ones(7 * config.MODEL_DIM, np.float32).tobytes())
    assert set(load_index(out).articles) == set(before["articles"])
    r = qa.build(seeds, out)
    assert r.changed
    m = _manifest(out)
    assert vectors.stat().st_size == m["files"][VECTORS]["size"] == m["rows"] * config.MODEL_DIM * 4
    assert not [p for p in (out / m["data_dir"]).iterdir() if p.is_file() and p.name not in m["files"]]


def test_an_update_of_an_hnsw_index_keeps_the_graph_and_skips_deleted_passages(tiny_seeds, tmp_path, monkeypatch):
    monkeypatch.setattr(qa.index, "FLAT_MAX_PASSAGES", 5)
    seeds = shutil.copytree(tiny_seeds, tmp_path / "seeds")
    out = tmp_path / "idx"
    qa.build(seeds, out)
    assert _manifest(out)["index"]["type"] == "hnsw"
    _edit(seeds)
    qa.build(seeds, out)
    m = _manifest(out)
    assert m["index"]["type"] == "hnsw" and m["rows"] > m["passages"]
    fresh = tmp_path / "fresh"
    qa.build(seeds, fresh)
    assert [x[2:] for x in _answers(out)] == [x[2:] for x in _answers(fresh)]


def test_the_cleaning_cache_re_cleans_only_pages_whose_inputs_changed(tiny_seeds, tmp_path, monkeypatch):
    import qa.clean

    seeds = shutil.copytree(tiny_seeds, tmp_path / "seeds")
    out = tmp_path / "idx"
    qa.build(seeds, out)
    cleaned: list[str] = []
    real = qa.clean._clean_page

    def counting(job):
        cleaned.append(job[0].doc_id)
        return real(job)

    monkeypatch.setattr(qa.clean, "_clean_page", counting)
    assert not qa.build(seeds, out).changed and cleaned == []
    lake = seeds / "lake.txt"
    lake.write_text(lake.read_text().replace("ten years", "twelve years"))
    r = qa.build(seeds, out)
    assert cleaned == ["lake"] and r.embedded == ("lake",)
    # what the cache gave is what cleaning the folder gives
    assert {a.doc_id: a for a in load_index(out).articles.values()} == {
        c.article.doc_id: c.article for c in qa.clean_folder(seeds) if c.article is not None
    }
    cleaned.clear()
    qa.build(seeds, out, force=True)
    assert sorted(cleaned) == ["000_6870258d6367f5ae", "003_a38c060e4e498b4b", "lake"]


def test_encoding_on_several_processes_gives_the_same_index(tiny_seeds, tmp_path, monkeypatch):
    """Two single-threaded encoder processes write what one process writes, bit for bit (the int8 model's scales
    are constants, so slicing the texts differently changes nothing)."""
    import qa.builder

    monkeypatch.setattr(config, "PARALLEL_ENCODE_MIN_TEXTS", 1)
    monkeypatch.setattr(qa.builder, "ENCODE_SLICE", 16)  # slices of 2 passages and 8 sentences: many jobs
    out = {}
    for n in ("1", "2"):
        monkeypatch.setenv("QA_ENCODE_PROCESSES", n)
        assert qa.builder._encode_workers(10) == int(n)
        qa.build(tiny_seeds, tmp_path / n)
        out[n] = load_index(tmp_path / n)
    a, b = out["1"], out["2"]
    assert [c.text for c in a.chunks] == [c.text for c in b.chunks]
    np.testing.assert_array_equal(np.asarray(a.vectors), np.asarray(b.vectors))
    np.testing.assert_array_equal(np.asarray(a.sentence_vectors), np.asarray(b.sentence_vectors))
    rows = list(range(len(a.chunks)))
    np.testing.assert_array_equal(np.asarray(a.tokens.block(rows).codes), np.asarray(b.tokens.block(rows).codes))
    np.testing.assert_array_equal(np.asarray(a.tokens.refs), np.asarray(b.tokens.refs))
    assert _answers(tmp_path / "1") == _answers(tmp_path / "2")


def _records(stories: list[str]) -> str:
    """A scraper's JSON Lines export of these stories."""
    return "\n".join(json.dumps({"title": s.splitlines()[0], "text": s, "date": "2019-11-19"}) for s in stories) + "\n"


def test_one_changed_record_of_a_feed_export_is_all_an_update_re_embeds(tmp_path):
    stories = [HARBOUR_ARTICLE.replace("harbour", place) for place in ("harbour", "airport", "railway station")]
    seeds, out = tmp_path / "seeds", tmp_path / "idx"
    seeds.mkdir()
    (seeds / "feed.jsonl").write_text(_records(stories), encoding="utf-8")
    first = qa.build(seeds, out)
    assert set(first.embedded) == {"feed#1", "feed#2", "feed#3"}
    assert _manifest(out)["articles"]["feed#2"]["source"] == "feed.jsonl#2"
    stories[1] = stories[1].replace("airport", "ferry terminal")
    (seeds / "feed.jsonl").write_text(_records(stories), encoding="utf-8")
    r = qa.build(seeds, out)
    assert r.embedded == ("feed#2",) and set(r.reused) == {"feed#1", "feed#3"}
    assert "ferry terminal" in qa.get_article("feed#2", index_dir=out).text
    (seeds / "feed.jsonl").write_text(_records(stories[:2]), encoding="utf-8")  # the third record is gone
    r = qa.build(seeds, out)
    assert r.changed and r.embedded == () and "feed#3" not in _manifest(out)["articles"]
    assert {p.doc_id for p in qa.retrieve("railway station", k=20, index_dir=out)} <= {"feed#1", "feed#2"}


@pytest.mark.parametrize("where", ["inside", "same"])
def test_an_index_kept_in_the_articles_folder_is_never_read_as_articles(tmp_path, tiny_seeds, where):
    seeds = tmp_path / "articles"
    shutil.copytree(tiny_seeds, seeds)
    out = seeds / "index" if where == "inside" else seeds
    first = qa.build(seeds, out)
    again = qa.build(seeds, out)
    assert again.articles == first.articles == 3 and not again.changed
    assert not [s for s in again.skipped if "duplicate" in s.reason or s.path.endswith((".jsonl", ".json"))]
    assert any("a qa index's files" in s.reason for s in again.skipped)
    assert {p.doc_id for p in qa.retrieve("lake water levels", k=20, index_dir=out)} <= {
        "000_6870258d6367f5ae", "003_a38c060e4e498b4b", "lake"}


def test_a_build_removes_its_own_old_generations_and_nothing_of_the_users(tmp_path, tiny_seeds):
    out = tmp_path / "idx"
    (out / "gen-photos").mkdir(parents=True)
    (out / "gen-photos" / "holiday.txt").write_text("precious", encoding="utf-8")
    qa.build(tiny_seeds, out)
    qa.build(tiny_seeds, out, force=True)  # a whole new generation: the first is removed
    gens = sorted(p.name for p in out.iterdir() if p.name.startswith("gen-"))
    assert len(gens) == 2 and "gen-photos" in gens
    assert (out / "gen-photos" / "holiday.txt").read_text(encoding="utf-8") == "precious"


def test_building_another_folder_into_the_sample_index_is_refused(tmp_path, tiny_seeds, monkeypatch):
    for var in ("QA_INDEX_DIR", "QA_INDEX_URI", "QA_SEEDS_DIR"):
        monkeypatch.delenv(var, raising=False)
    before = (config.DEFAULT_INDEX_DIR / MANIFEST).read_bytes()
    with pytest.raises(qa.BuildError, match=r"sample index .*--index DIR"):
        qa.build(tiny_seeds)
    assert (config.DEFAULT_INDEX_DIR / MANIFEST).read_bytes() == before
