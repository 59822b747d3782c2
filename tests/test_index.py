"""Index build, manifest verification, incremental rebuilds and crash safety."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import qa
from qa.index import MANIFEST, load_index

from .conftest import ROOT, SEEDS


def _copy_index(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _manifest(d: Path) -> dict:
    return json.loads((d / MANIFEST).read_text())


def test_build_writes_manifest_and_loads(tiny_index):
    m = _manifest(tiny_index)
    assert m["model"] == {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "weights_sha256": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "dimension": 384,
        "normalized": True,
    }
    assert set(m["articles"]) == {"000_6870258d6367f5ae", "003_a38c060e4e498b4b", "lake"}
    assert all(len(v["content_sha256"]) == 64 for v in m["articles"].values())
    loaded = load_index(tiny_index)
    assert loaded.faiss.ntotal == m["passages"] == len(loaded.chunks)
    assert not list(tiny_index.glob("*.pkl")) and not list(tiny_index.rglob("*.pickle"))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / MANIFEST).unlink(), "manifest.json is missing"),
        (lambda d: (d / MANIFEST).write_text("{not json"), "unreadable"),
        (lambda d: _edit(d, lambda m: m["model"].update(name="other/model")), "built with model 'other/model'"),
        (lambda d: _edit(d, lambda m: m["model"].update(dimension=768)), "768-dimensional"),
        (lambda d: _edit(d, lambda m: m.update(format=0)), "format 0"),
        (lambda d: _data(d, "index.faiss").write_bytes(_data(d, "index.faiss").read_bytes()[:100]), "truncated"),
        (lambda d: _data(d, "passages.jsonl").unlink(), "is missing"),
    ],
)
def test_damaged_index_gives_clear_error(tiny_index, tmp_path, damage, message):
    d = _copy_index(tiny_index, tmp_path / "idx")
    damage(d)
    with pytest.raises(qa.QAError) as err:
        qa.retrieve("acting prime minister", index_dir=d)
    assert message in str(err.value)
    assert "qa build" in str(err.value)


def test_missing_index_folder(tmp_path):
    with pytest.raises(qa.IndexNotFoundError, match="qa build"):
        qa.retrieve("anything", index_dir=tmp_path / "nope")


def _edit(d: Path, fn) -> None:
    m = _manifest(d)
    fn(m)
    (d / MANIFEST).write_text(json.dumps(m))


def _data(d: Path, name: str) -> Path:
    return d / _manifest(d)["data_dir"] / name


def test_incremental_rebuild(tiny_seeds, tiny_index, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(tiny_seeds, seeds)
    out = _copy_index(tiny_index, tmp_path / "idx")

    same = qa.build(seeds, out)
    assert same.embedded == () and not same.changed and same.articles == 3

    lake = seeds / "lake.txt"
    lake.write_text(lake.read_text().replace("ten years", "twelve years"))
    (seeds / "empty.txt").write_bytes(b"")
    r = qa.build(seeds, out)
    assert r.changed and r.embedded == ("lake",)
    assert set(r.reused) == {"000_6870258d6367f5ae", "003_a38c060e4e498b4b"}
    assert [s.reason for s in r.skipped] == ["empty file"]
    assert "twelve years" in qa.get_article("lake", index_dir=out).text

    forced = qa.build(seeds, out, force=True)
    assert len(forced.embedded) == 3 and forced.reused == ()
    # only the current generation is kept on disk
    assert len([p for p in out.iterdir() if p.name.startswith("gen-")]) == 1


def test_build_with_no_usable_article_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(qa.BuildError, match="No usable article"):
        qa.build(tmp_path, tmp_path / "idx")
    with pytest.raises(qa.BuildError, match="does not exist"):
        qa.build(tmp_path / "missing", tmp_path / "idx")


def test_cli_build_prints_no_library_debug_lines(tiny_seeds, tmp_path):
    """bm25s sets its own logger to DEBUG on import; `qa build` without -v shows the summary and no debug lines."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "qa", "build", "--seeds", str(tiny_seeds), "--index", str(tmp_path / "i")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Index built" in r.stdout  # a first build says so, not "updated"
    assert "DEBUG" not in r.stdout + r.stderr, (r.stdout + r.stderr)[:2000]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "Index unchanged" in again.stdout, again.stderr[-2000:]


def test_build_killed_midway_leaves_old_index_loadable(tiny_seeds, tiny_index, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(tiny_seeds, seeds)
    shutil.copy(SEEDS / "002_686b9ab0d986a4d5.txt", seeds)
    out = _copy_index(tiny_index, tmp_path / "idx")
    before = _manifest(out)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "qa", "build", "--seeds", str(seeds), "--index", str(out)], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob(".tmp-*")) and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = _manifest(out)
    assert after["data_dir"] == before["data_dir"], "the kill came too late to test anything"
    loaded = load_index(out)
    assert set(loaded.articles) == set(before["articles"])
    # and the next build recovers and cleans up the debris
    r = qa.build(seeds, out)
    assert "002_686b9ab0d986a4d5" in r.embedded
    assert not list(out.glob(".tmp-*"))


def test_hnsw_index_filters_exactly_within_the_subset(tiny_seeds, tmp_path, monkeypatch):
    """Past FLAT_MAX_PASSAGES the index is an HNSW graph; a filtered search scores the allowed passages exactly
    from the graph's in-memory vectors. Forced here on the tiny corpus by lowering the threshold."""
    import importlib

    import faiss
    import numpy as np

    import qa.index

    monkeypatch.setattr(qa.index, "FLAT_MAX_PASSAGES", 5)
    out = tmp_path / "hnsw"
    qa.build(tiny_seeds, out)
    ix = load_index(out)
    assert isinstance(ix.faiss, faiss.IndexHNSW) and _manifest(out)["index"]["type"] == "hnsw"
    R = importlib.import_module("qa.retrieve")

    for pub in {a.publisher for a in ix.articles.values() if a.publisher}:
        allowed = R._allowed(ix, qa.Filters(publisher=pub))
        assert list(allowed) == [i for i, c in enumerate(ix.chunks) if ix.articles[c.doc_id].publisher == pub]
        q = np.ascontiguousarray(ix.vectors[allowed[-1]], dtype=np.float32).reshape(1, -1)
        np.testing.assert_allclose(R._subset_scores(ix, q, allowed), np.asarray(ix.vectors[allowed]) @ q[0], atol=1e-5)
        assert R._dense_pool(ix, q[0], 3, allowed)[0] == allowed[-1]  # a passage's own vector finds it first
        hits = qa.retrieve("government", k=3, publisher=pub, index_dir=out)
        assert hits and all(h.publisher == pub for h in hits)

    dates = sorted({a.published for a in ix.articles.values() if a.published})
    for since, until in ((dates[0], None), (None, dates[0]), (dates[-1], dates[-1]), (None, None)):
        f = qa.Filters(since=since, until=until, publisher=None)
        want = [
            i
            for i, c in enumerate(ix.chunks)
            if (p := ix.articles[c.doc_id].published) is not None and (since is None or p >= since) and (until is None or p <= until)
        ]
        got = R._allowed(ix, f)
        assert (got is None and since is None and until is None) or list(got) == want


def test_sentence_vectors_reuse_a_whole_passage_and_a_repeat():
    """A sentence that is a whole passage takes that passage's vector, a repeated sentence is encoded once, and every
    sentence vector is what encoding that sentence alone gives."""
    import numpy as np

    from qa.builder import _encode_new
    from qa.embed import encode_sentences

    whole = "The council voted to close the old bridge on Friday."
    shared = "Subscribe to our newsletter for more local news."
    items = [
        ([whole], [whole], [0]),
        (["Rain is expected all week. " + shared], ["Rain is expected all week.", shared], [0]),
        (["Schools will open late. " + shared], ["Schools will open late.", shared], [0]),
    ]
    out = _encode_new(items, progress=False)
    got = np.vstack([e.sentence_vectors for e in out])
    alone = encode_sentences([s for _, sents, _ in items for s in sents])
    np.testing.assert_allclose(got, alone, atol=1e-5)
    assert np.array_equal(out[0].sentence_vectors[0], out[0].vectors[0])
    assert np.array_equal(out[1].sentence_vectors[1], out[2].sentence_vectors[1])


def test_loading_reads_the_dense_index_ahead_in_the_background(tmp_path, monkeypatch):
    """load_index asks the kernel to read the whole FAISS file into the page cache, chunk by chunk (one call reads
    ahead only a few MB), from a background thread."""
    import threading

    from qa import index as index_mod

    f = tmp_path / "index.faiss"
    f.write_bytes(b"\0" * (2 * index_mod.READ_AHEAD_CHUNK + 5))
    calls, real = [], os.posix_fadvise

    def spy(fd, offset, length, advice):
        calls.append((offset, length, advice))
        return real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", spy)
    index_mod._read_ahead(f)
    for t in threading.enumerate():
        if t.name == "qa-read-ahead":
            t.join(10)
    chunk = index_mod.READ_AHEAD_CHUNK
    assert calls == [(0, chunk, os.POSIX_FADV_WILLNEED), (chunk, chunk, os.POSIX_FADV_WILLNEED),
                     (2 * chunk, chunk, os.POSIX_FADV_WILLNEED)]
    index_mod._read_ahead(tmp_path / "missing.faiss")  # advice only: a missing file is not an error


def test_prefetch_asks_for_exactly_the_candidates_pages(tmp_path):
    """The rerank's read-ahead (qa.index.prefetch) covers each wanted row's bytes in the file mapping, from the
    start of its page, also for a view that starts further into the file; arrays in memory are left alone."""
    import mmap

    import numpy as np

    from qa.index import page_ranges, prefetch

    data = np.arange(100 * 192, dtype=np.uint32).astype(np.uint8).reshape(100, 192)
    data.tofile(tmp_path / "codes.u8")
    codes = np.memmap(tmp_path / "codes.u8", dtype=np.uint8, mode="r", shape=(100, 192))
    page = mmap.PAGESIZE
    got = page_ranges(codes, codes._mmap, np.array([3, 50, 7]), np.array([5, 51, 7]))
    assert got == [(3 * 192 // page * page, 5 * 192 - 3 * 192 // page * page),
                   (50 * 192 // page * page, 51 * 192 - 50 * 192 // page * page)]
    view = codes[10:]
    first = 10 * 192 // page * page
    assert page_ranges(view, codes._mmap, np.array([0]), np.array([2])) == [(first, 12 * 192 - first)]
    prefetch(codes, np.array([3, 50]), np.array([5, 51]))  # the kernel is asked; nothing is read into Python
    np.testing.assert_array_equal(codes[3:5], data[3:5])
    prefetch(data, np.array([0]), np.array([1]))  # in memory: nothing to do


def test_one_publisher_spelt_in_two_cases_is_one_filter(tmp_path):
    """Pages of one site may spell its name "PolitiFact" or "Politifact": the index lists it once, and filtering by
    either spelling, in any case, finds the articles of both."""
    folder = tmp_path / "pages"
    folder.mkdir()
    pages = {
        "a.txt": ("RiverWatch", "The county opened a new bridge over the river on Monday, officials said, after two "
                  "years of work.\n\nDrivers will save about twenty minutes on the trip between the two towns."),
        "b.txt": ("Riverwatch", "Cyclists tried the new bridge over the river first, and the mayor cut a ribbon "
                  "at noon.\n\nA footpath opens next month, once the railings are painted and the lights tested."),
    }
    for name, (site, text) in pages.items():
        (folder / name).write_text(f"Bridge news from the valley\n\n{text}\n\n© 2024 {site}\n")
    out = tmp_path / "index"
    qa.build(folder, out)
    assert {a.publisher for a in load_index(out).articles.values()} == {"RiverWatch", "Riverwatch"}
    assert qa.index_info(index_dir=out).publishers == ("RiverWatch",)  # one name (a tie: the first in sorted order)
    for asked in ("RiverWatch", "riverwatch", "Riverwatch"):
        hits = qa.retrieve("new bridge over the river", k=5, publisher=asked, index_dir=out)
        assert {h.doc_id for h in hits} == {"a", "b"}
