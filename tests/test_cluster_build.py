"""`qa build --ray`: the same index as a single-process build, a killed worker retried, the old index served until
the swap, and ray kept off the default path. Ray tests share one local runtime with 2 CPUs."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.index import load_index
from tests.conftest import HARBOUR_ARTICLE, ROOT, SEEDS, require_cluster_extra

CORPORA = ROOT / "tests" / "corpora"
ENCODER_BUSY = "ray::MapWorker(MapBatches(_Encoder)).submit"  # an encoder actor's process title while it encodes


@pytest.fixture(scope="module")
def ray_runtime():
    require_cluster_extra("ray")
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The seeds plus every 12th text scrape of the two development corpora (a few dozen real pages), and a JSON
    Lines file of two articles (read into two records on the workers)."""
    d = tmp_path_factory.mktemp("ray-seeds")
    for p in SEEDS.iterdir():
        shutil.copy(p, d / p.name)
    for corpus in ("aeb-dev", "readability"):
        for p in sorted((CORPORA / corpus / "txt").iterdir())[::12]:
            shutil.copy(p, d / p.name)
    records = [{"title": f"Dredging of the {place}", "text": HARBOUR_ARTICLE.replace("harbour", place)}
               for place in ("harbour", "canal")]
    (d / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def serial(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial-index")
    return qa.build(folder, out, force=True), load_index(out)


def _by_article(ix) -> dict:
    """Each live article's passages, sentences, vectors and tokens, wherever the index stores them (an update appends
    changed articles at the end of its files)."""
    out = {}
    for doc_id, n in ix.doc_numbers.items():
        rows = np.flatnonzero(ix.chunk_docs == n)
        srows = np.flatnonzero(ix.sentences[:, 0] == n)
        out[doc_id] = (
            [(ix.chunks[r].chunk_id, ix.chunks[r].doc_id, ix.chunks[r].start, ix.chunks[r].end, ix.chunks[r].text) for r in rows],
            np.asarray(ix.sentences[srows, 1:]), np.asarray(ix.vectors[rows]), np.asarray(ix.sentence_vectors[srows]),
            ix.tokens.block(rows.tolist()),
        )
    return out


def assert_same_index(a, b):
    """Same articles, passages, sentences and token ids/spans; vectors within float tolerance, token codes all but
    equal."""
    assert list(a.articles) == list(b.articles)
    assert a.articles == b.articles
    pa, pb = _by_article(a), _by_article(b)
    for doc_id in a.articles:
        (ca, sa, va, sva, ta), (cb, sb, vb, svb, tb) = pa[doc_id], pb[doc_id]
        assert ca == cb
        np.testing.assert_array_equal(sa, sb)
        np.testing.assert_allclose(va, vb, atol=1e-5)
        np.testing.assert_allclose(sva, svb, atol=1e-5)
        np.testing.assert_array_equal(ta.lengths, tb.lengths)
        np.testing.assert_array_equal(ta.ids, tb.ids)
        np.testing.assert_array_equal(ta.spans, tb.spans)
        np.testing.assert_array_equal(ta.refs, tb.refs)  # the same tokens share codes
        # a float-level difference may move a pair of dimensions to the neighbouring centroid, nothing more
        assert np.mean(ta.codes == tb.codes) >= 0.99
        da, db = a.tokens.codec.decode(ta.codes), b.tokens.codec.decode(tb.codes)
        assert len(da) == 0 or np.sum(da * db, axis=1).min() >= 0.99
    strip = lambda m: {d: {k: v for k, v in e.items() if k != "number"} for d, e in m.items()}  # noqa: E731
    assert strip(a.manifest["articles"]) == strip(b.manifest["articles"])
    assert a.manifest["encoder"] == b.manifest["encoder"]


def _titled(title: str) -> dict[int, int]:
    """pid -> parent pid of the processes whose title starts with `title` (a fork keeps its parent's title)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    return {int(r[0]): int(r[1]) for r in rows if len(r) == 3 and r[2].startswith(title)}


@pytest.mark.cluster
@pytest.mark.slow
def test_ray_build_equals_single_process_build(ray_runtime, folder, serial, tmp_path):
    report, want = serial
    # Small batches, so both encoder actors get work and passages are padded in other company than in one process.
    got = qa.build(folder, tmp_path, ray=qa.RayBuild(articles_per_batch=4))
    assert (got.articles, got.passages, got.skipped) == (report.articles, report.passages, report.skipped)
    assert sorted(got.embedded) == sorted(report.embedded) and got.reused == ()
    assert {"feed#1", "feed#2"} <= set(want.articles)  # the JSON Lines file's records, read on the workers
    assert_same_index(want, load_index(tmp_path))
    questions = list(qa.example_questions(3, index_dir=want.path))
    questions += [f"What do the articles say about {want.articles[d].title}?" for d in want.order[:: len(want.order) // 3]]
    assert len(questions) >= 4
    for q in questions:
        a, b = qa.ask(q, index_dir=want.path), qa.ask(q, index_dir=tmp_path)
        assert (b.passages[0].chunk_id, b.outcome) == (a.passages[0].chunk_id, a.outcome), q


@pytest.mark.cluster
@pytest.mark.slow
def test_ray_build_reencodes_only_what_a_single_process_build_would(ray_runtime, folder, serial, tmp_path):
    """Unchanged articles are re-used from the previous index: the same ones as in a single-process update."""
    grown = tmp_path / "seeds"
    shutil.copytree(folder, grown)
    for p in sorted((CORPORA / "aeb-dev" / "txt").iterdir())[1:40:12]:  # pages the folder does not hold yet
        shutil.copy(p, grown / p.name)
    indexes = {}
    for name, ray in (("serial", None), ("ray", qa.RayBuild())):
        indexes[name] = tmp_path / name
        shutil.copytree(serial[1].path, indexes[name])
        indexes[name] = (qa.build(grown, indexes[name], ray=ray), load_index(indexes[name]))
    (want, want_index), (got, got_index) = indexes["serial"], indexes["ray"]
    assert got.embedded and got.reused
    assert (sorted(got.embedded), sorted(got.reused)) == (sorted(want.embedded), sorted(want.reused))
    assert_same_index(want_index, got_index)
    assert not qa.build(grown, tmp_path / "ray", ray=qa.RayBuild()).changed


@pytest.mark.cluster
@pytest.mark.slow
def test_killed_worker_is_retried_and_old_index_served_until_swap(ray_runtime, folder, serial, tmp_path):
    old = qa.build(SEEDS, tmp_path)
    result: dict = {}

    def run():
        try:
            result["report"] = qa.build(folder, tmp_path, ray=qa.RayBuild(articles_per_batch=4))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            result["error"] = exc

    builder = threading.Thread(target=run)
    builder.start()
    killed, served_after_kill, forked = None, [], set()
    while builder.is_alive():
        titled = _titled(ENCODER_BUSY)
        forked |= {pid for pid, parent in titled.items() if parent in titled}
        if killed is None:
            busy = sorted(pid for pid, parent in titled.items() if parent not in titled)  # actors, not their forks
            if busy:
                killed = busy[0]
                os.kill(killed, signal.SIGKILL)  # a worker dies mid-batch, as when its node goes away
        else:
            served_after_kill.append(load_index(tmp_path).manifest["passages"])
        time.sleep(0.05)
    builder.join()
    if "error" in result:
        raise result["error"]
    assert killed is not None, "no encoder was seen at work, so none was killed"
    assert not forked, "an encoder actor forked encoder processes of its own"
    assert result["report"].passages == serial[0].passages
    # the old index until the swap, then the new one (the build still saves its cleaning cache after the swap)
    new = result["report"].passages
    assert served_after_kill and served_after_kill[0] == old.passages
    swapped = next((i for i, n in enumerate(served_after_kill) if n != old.passages), len(served_after_kill))
    assert set(served_after_kill[swapped:]) <= {new}, served_after_kill
    assert_same_index(serial[1], load_index(tmp_path))


@pytest.mark.cluster
def test_an_encoder_actor_encodes_in_its_own_process_on_its_own_cpus(ray_runtime):
    """A large batch makes a single-process build fork encoder processes, one a core. An actor must not: the forks
    would take CPUs Ray gave to others, and keep the actor's sockets open after it dies, so Ray would wait on it."""
    from qa import builder, config
    from qa.cluster_build import _Encoder

    class Probe(_Encoder):  # defined here, so Ray ships it by value
        def plan(self, texts: int) -> tuple[int, int]:
            from qa import builder, embed

            return builder._encode_workers(texts), embed.build_threads()

    big = config.PARALLEL_ENCODE_MIN_TEXTS * 10
    cores = builder.usable_cores()
    if cores < 2:
        pytest.skip("on one core a single-process build forks no encoder processes either")
    assert builder._encode_workers(big) == cores  # here, in one process: one encoder process a core
    actor = ray_runtime.remote(num_cpus=1)(Probe).remote()
    try:
        assert ray_runtime.get(actor.plan.remote(big), timeout=120) == (1, 1)  # the actor: one process, one thread
    finally:
        ray_runtime.kill(actor)


@pytest.mark.cluster
def test_unreachable_head_fails_fast_with_the_fix(tmp_path, tiny_seeds):
    require_cluster_extra("ray")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.perf_counter()
    with pytest.raises(qa.BuildError, match="ray start --head"):
        qa.build(tiny_seeds, tmp_path, ray=qa.RayBuild(address=f"127.0.0.1:{port}"))
    assert time.perf_counter() - t < 60  # not ray.init's minutes of retries
    with pytest.raises(qa.BuildError, match="HOST:PORT"):
        qa.build(tiny_seeds, tmp_path, ray=qa.RayBuild(address="head-without-port"))
    assert not (tmp_path / "manifest.json").exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"workers": 0}, {"cpus_per_worker": -1}, {"articles_per_batch": 1.5}, {"num_cpus": True}, {"address": ""},
     {"address": "head:6379", "num_cpus": 2}],
)
def test_bad_ray_settings_say_what_to_pass(kwargs):
    with pytest.raises(ValueError):
        qa.RayBuild(**kwargs)


DEFAULT_PATH = r"""
import sys
import qa
from qa.cli import main
assert main(["build", "--seeds", sys.argv[1], "--index", sys.argv[2]]) == 0
qa.ask("What happened?", index_dir=sys.argv[2])
loaded = sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.") or m.startswith("pymilvus"))
print("LOADED", loaded)
"""

MISSING_EXTRA = r"""
import sys
sys.modules["ray"] = None  # as if the extra were not installed
import qa
try:
    qa.build(sys.argv[1], sys.argv[2], ray=qa.RayBuild())
except qa.BuildError as exc:
    print("ERROR", exc)
"""


@pytest.mark.slow
def test_default_build_and_ask_import_no_ray(tiny_seeds, tmp_path):
    out = subprocess.run([sys.executable, "-c", DEFAULT_PATH, str(tiny_seeds), str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout


def test_missing_extra_names_the_install_command(tiny_seeds, tmp_path):
    out = subprocess.run([sys.executable, "-c", MISSING_EXTRA, str(tiny_seeds), str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert "pip install .[cluster]" in out.stdout and "make install-cluster" in out.stdout, out.stdout + out.stderr
    assert not (tmp_path / "manifest.json").exists()


@pytest.mark.cluster
@pytest.mark.slow
def test_ray_build_into_a_milvus_collection(ray_runtime, folder, serial, tmp_path):
    """`qa build --ray --index milvus://…`: encoded on Ray, written through the same writer into the sidecar and
    upserted into the collection; it answers like the single-process folder index."""
    require_cluster_extra("pymilvus", "milvus_lite")
    from milvus_lite.server_manager import server_manager_instance

    report, want = serial
    uri = f"milvus://{tmp_path}/ray.db/news"
    try:
        got = qa.build(folder, uri, ray=qa.RayBuild())
        assert (got.index_dir, got.articles, got.passages) == (uri, report.articles, report.passages)
        for q in list(qa.example_questions(3, index_dir=want.path)):
            a, b = qa.ask(q, index_dir=want.path), qa.ask(q, index_dir=uri)
            assert b.passages[0].chunk_id == a.passages[0].chunk_id, q
    finally:
        import importlib

        importlib.import_module("qa.retrieve")._cache.pop(uri, None)
        server_manager_instance.release_all()
