"""The Milvus backend (qa/milvus_index.py) against Milvus Lite, a real embedded Milvus in a local file.

Needs the optional cluster extra (`make install-cluster`): skipped without it, required in CI (QA_REQUIRE_CLUSTER=1).
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from datetime import date

import pytest

import qa
from qa import milvus_index
from qa.evaluate import DEFAULT_EVAL_FILE, evaluate_system, load_questions, summarize

from .conftest import ROOT, SEEDS, require_cluster_extra

RETRIEVE = importlib.import_module("qa.retrieve")  # the module (qa.retrieve is also the function's name)
SETS = {name: DEFAULT_EVAL_FILE.with_name(name) for name in ("eval.jsonl", "holdout.jsonl", "blind.jsonl")}
PARITY = ("hit@1", "hit@5", "mrr", "answered_rate", "shown_rate", "abstain_recall")


@pytest.fixture(scope="module", autouse=True)
def _stop_milvus_lite():
    """Stop this process's Milvus Lite servers after the module. Even so, a local Ray runtime started later in the
    same process often times out (gRPC fork handlers), so tests/test_cluster_build.py runs before this module."""
    yield
    for key in [k for k in RETRIEVE._cache if k.startswith("milvus://")]:
        RETRIEVE._cache.pop(key, None)
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return
    server_manager_instance.release_all()


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    require_cluster_extra("pymilvus", "milvus_lite")
    folder = tmp_path_factory.mktemp("milvus")
    u = f"milvus://{folder}/qa.db/news"
    report = qa.build(SEEDS, u)
    assert report.index_dir == u and report.changed and report.passages > 0
    yield u
    RETRIEVE._cache.pop(u, None)


def collection_rows(u: str) -> list[dict]:
    target = milvus_index.parse(u)
    client = milvus_index._client(target)
    client.load_collection(target.collection)
    return client.query(target.collection, filter='chunk_id != ""', output_fields=["chunk_id", "doc_id", "text", "publisher"])


def test_uri_forms_and_clear_errors(tmp_path):
    lite = milvus_index.parse("milvus:///data/news/qa.db/articles")
    assert lite.lite and lite.client_uri == "/data/news/qa.db" and lite.collection == "articles"
    server = milvus_index.parse("milvus://milvus.example:19530/news")
    assert not server.lite and server.client_uri == "http://milvus.example:19530" and server.collection == "news"
    for bad in ("milvus://host:19530/", "milvus:///relative.txt/news", "milvus://host:1/a/b", "milvus:///x/qa.db/1abc"):
        with pytest.raises(ValueError, match="milvus://HOST:PORT/COLLECTION"):
            milvus_index.parse(bad)
    with pytest.raises(qa.BuildError, match="milvus://HOST:PORT/COLLECTION"):
        qa.build(SEEDS, "milvus:///nowhere.txt/news")


def test_filter_expressions():
    f = qa.Filters(since=date(2022, 1, 1), until=date(2022, 12, 31), publisher='A "quoted" name')
    expr = milvus_index.filter_expression(f)
    assert 'publisher in ["A \\"quoted\\" name"]' in expr
    assert f"published >= {date(2022, 1, 1).toordinal()}" in expr and f"published <= {date(2022, 12, 31).toordinal()}" in expr
    assert milvus_index.filter_expression(qa.Filters()) == ""


@pytest.mark.cluster
@pytest.mark.slow
def test_the_collection_holds_every_passage_with_its_metadata(uri):
    rows = collection_rows(uri)
    info = qa.index_info(index_dir=uri)
    assert info.index_dir == uri and len(rows) == info.passages
    by_id = {a.doc_id: a for a in info.articles}
    for r in rows:
        a = by_id[r["doc_id"]]
        assert r["publisher"] == (a.publisher or "")
        head = f"{a.title}\n\n" if a.title else ""  # BM25 reads the headline with each passage, as the embedded index
        assert r["text"].startswith(head) and r["text"][len(head):] in a.text


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SETS))
def test_eval_parity_with_the_embedded_index(uri, name):
    """`qa eval` on the Milvus backend within 0.02 of the embedded index on every seed set (issue: parity)."""
    questions = load_questions(SETS[name])
    embedded = summarize(evaluate_system(questions))
    milvus = summarize(evaluate_system(questions, index_dir=uri))
    print(f"\n{name}: " + ", ".join(f"{m} embedded {embedded[m]:.3f} milvus {milvus[m]:.3f}" for m in PARITY))
    worse = {m: (embedded[m], milvus[m]) for m in PARITY if milvus[m] < embedded[m] - 0.02}
    assert not worse, worse


@pytest.mark.cluster
@pytest.mark.slow
def test_filters_run_in_milvus(uri):
    info = qa.index_info(index_dir=uri)
    publisher = info.publishers[0]
    passages = qa.retrieve("What did the president say?", k=5, publisher=publisher, index_dir=uri)
    assert passages and all(p.publisher == publisher for p in passages)
    dated = [a.published for a in info.articles if a.published]
    day = min(dated)
    passages = qa.retrieve("What did the president say?", k=5, since=day, until=day, index_dir=uri)
    assert passages and all(p.published == day for p in passages)
    # a date range with no article: nothing comes back, and ask says the filters are why
    ans = qa.ask("What did the president say?", since="1990-01-01", until="1990-12-31", index_dir=uri)
    assert ans.outcome == qa.NOT_FOUND and ans.reason == qa.FILTERED_OUT


@pytest.mark.cluster
@pytest.mark.slow
def test_incremental_rebuild_upserts_and_deletes_by_article(tmp_path):
    require_cluster_extra("pymilvus", "milvus_lite")
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    u = f"milvus://{tmp_path}/inc.db/news"
    qa.build(folder, u)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".txt", ".html"))
    gone, edited = files[0], files[1]
    gone_id, edited_id = gone.stem, edited.stem
    gone.unlink()
    marker = "The harbour authority later confirmed that the zebra crossing would reopen in April."
    edited.write_text(edited.read_text(encoding="utf-8").rstrip() + "\n\n" + marker + "\n", encoding="utf-8")
    report = qa.build(folder, u)
    assert report.changed and edited_id in report.embedded and gone_id not in report.embedded
    rows = collection_rows(u)
    docs = {r["doc_id"] for r in rows}
    assert gone_id not in docs and edited_id in docs
    assert len(rows) == qa.index_info(index_dir=u).passages
    assert any("zebra crossing" in r["text"] for r in rows if r["doc_id"] == edited_id)
    RETRIEVE._cache.pop(u, None)
    top = qa.retrieve("When will the zebra crossing reopen?", k=1, index_dir=u)[0]
    assert top.doc_id == edited_id and "zebra crossing" in top.text
    assert qa.build(folder, u).changed is False


@pytest.mark.cluster
@pytest.mark.slow
def test_articles_deep_in_sub_folders_keep_their_path_as_id_in_milvus(tmp_path):
    """An article's id is its path in the folder, which can be longer than the 256 bytes the first schema held."""
    require_cluster_extra("pymilvus", "milvus_lite")
    folder = tmp_path / "seeds"
    deep = folder / ("archive-" + "a" * 120) / ("section-" + "b" * 120) / ("2023-" + "c" * 120)
    deep.mkdir(parents=True)
    seed = sorted(SEEDS.iterdir())[0]
    shutil.copy(seed, deep / seed.name)
    doc_id = f"{deep.relative_to(folder).as_posix()}/{seed.stem}"
    assert len(doc_id.encode()) > 256
    u = f"milvus://{tmp_path}/deep.db/news"
    report = qa.build(folder, u)
    assert report.articles == 1
    rows = collection_rows(u)
    assert rows and {r["doc_id"] for r in rows} == {doc_id} and all(r["chunk_id"].startswith(doc_id) for r in rows)
    hit = qa.retrieve(rows[0]["text"][:200], k=1, index_dir=u)[0]
    assert hit.doc_id == doc_id
    RETRIEVE._cache.pop(u, None)


@pytest.mark.cluster
@pytest.mark.slow
def test_a_collection_from_another_build_is_a_clear_error(tmp_path):
    require_cluster_extra("pymilvus", "milvus_lite")
    u = f"milvus://{tmp_path}/mm.db/news"
    with pytest.raises(qa.IndexNotFoundError, match=r"qa build --index milvus://"):
        qa.ask("Who?", index_dir=u)
    qa.build(SEEDS, u)
    target = milvus_index.parse(u)
    client = milvus_index._client(target)
    stored = json.loads(client.describe_collection("news")["properties"][milvus_index.MANIFEST_PROPERTY])
    stored["encoder"] = {**stored["encoder"], "export_sha256": "0" * 64}
    client.alter_collection_properties("news", properties={milvus_index.MANIFEST_PROPERTY: json.dumps(stored)})
    RETRIEVE._cache.pop(u, None)
    with pytest.raises(qa.IndexMismatchError, match=r"qa build --force --index milvus://"):
        qa.ask("Who?", index_dir=u)
    qa.build(SEEDS, u)  # the build sees the other encoder and rewrites the collection
    RETRIEVE._cache.pop(u, None)
    assert qa.ask("Who became acting prime minister?", index_dir=u).passages


def test_the_default_path_never_imports_pymilvus():
    code = "import sys, qa; qa.ask('Who resigned?'); print(sorted(m for m in ('pymilvus', 'milvus_lite', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.cluster
@pytest.mark.slow
def test_the_chat_app_serves_from_milvus(uri, tmp_path):
    """The app started with QA_INDEX_URI answers the load test's cases (right sentence, right source, the viewer
    opened on it; "not in the articles" for the off-topic one) from the collection."""
    from .conftest import bench_module

    load = bench_module("load")
    RETRIEVE._cache.pop(uri, None)
    milvus_index.release(milvus_index.parse(uri))  # Milvus Lite: one process at a time may open the file
    env = {**os.environ, "QA_INDEX_URI": uri}
    env.pop("QA_INDEX_DIR", None)
    result = load.run_load(tmp_path / "app.log", concurrent=0, sequential=8, env=env)
    phase = result.phases[0]
    assert len(phase.latencies) == 8 and not phase.errors, phase.errors


@pytest.mark.cluster
@pytest.mark.slow
def test_a_collection_qa_did_not_build_is_never_dropped_without_force(tmp_path):
    require_cluster_extra("pymilvus", "milvus_lite")
    from pymilvus import DataType

    u = f"milvus://{tmp_path}/other.db/theirs"
    target = milvus_index.parse(u)
    client = milvus_index._client(target)
    schema = client.create_schema(auto_id=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("theirs", schema=schema)
    client.insert("theirs", [{"v": [0.1, 0.2]}])
    client.close()
    milvus_index.release(target)
    with pytest.raises(qa.BuildError, match="holds no qa manifest"):
        qa.build(SEEDS, u)
    assert milvus_index._client(target).has_collection("theirs")
    milvus_index.release(target)
    assert qa.build(SEEDS, u, force=True).changed
    RETRIEVE._cache.pop(u, None)
    assert qa.ask("Who resigned?", index_dir=u).passages
