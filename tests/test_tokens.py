"""The token store: what it keeps, how small it is, how close its vectors are, and that rebuilds copy it exactly."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

import qa
import qa.embed
from qa.bm25 import stopwords
from qa.index import load_index
from qa.tokens import CODEBOOK_FILE, codec

from .conftest import TINY_ARTICLE


def test_codes_keep_the_vectors_and_their_rankings():
    pt = qa.embed.encode_passages([TINY_ARTICLE])
    codes = codec().encode(pt.states)
    assert codes.dtype == np.uint8 and codes.shape == (len(pt.states), 160)
    decoded = codec().decode(codes)
    assert np.sum(decoded * pt.states, axis=1).min() >= 0.975
    assert np.sum(decoded * pt.states, axis=1).mean() >= 0.985
    # a question token's best match among the passage's tokens scores within a hair of the uncompressed one
    q = qa.embed.encode_query_tokens("Why did the water levels of the lake fall?")[1]
    np.testing.assert_allclose((q @ decoded.T).max(axis=1), (q @ pt.states.T).max(axis=1), atol=0.02)
    # the codebook's parts cover every dimension once, and the dimension order is undone on decoding
    assert sorted(codec().perm.tolist()) == list(range(384))
    shuffled = qa.tokens.PQCodec(np.arange(384), codec().parts)
    assert np.sum(shuffled.decode(codes) * pt.states, axis=1).mean() < 0.5


def test_shared_codes_follow_repeats_and_the_overlap_sentence():
    # passage 0 (article offset 0): wordpieces 5, 7, 5; passage 1 (offset 10) starts on passage 0's last token (the
    # overlapping sentence) and repeats 9; passage 2 is another article with the same wordpieces at the same offsets
    ids = np.array([5, 7, 5, 5, 9, 9, 5, 7])
    spans = np.array([[0, 2], [3, 5], [10, 12], [0, 2], [4, 6], [8, 9], [0, 2], [3, 5]])
    lengths = np.array([3, 3, 2])
    group = qa.tokens.share(ids, spans, lengths, starts=np.array([0, 10, 0]), articles=np.array([0, 0, 1]))
    assert group.tolist() == [0, 1, 0, 0, 2, 2, 3, 4]
    # each group's code is its members' mean vector; a passage decodes one vector a token, shared ones equal
    rng = np.random.default_rng(0)
    states = rng.standard_normal((len(ids), 384)).astype(np.float32)
    states /= np.linalg.norm(states, axis=1, keepdims=True)
    block = qa.tokens.compress(states, ids, spans, lengths, np.array([0, 10, 0]), np.array([0, 0, 1]))
    assert len(block.codes) == 5 and block.refs.tolist() == group.tolist()
    mean = states[[0, 2, 3]].mean(axis=0)
    decoded = codec().decode(block.codes)
    assert decoded[0] @ (mean / np.linalg.norm(mean)) > 0.95
    # without the passages' places every passage is its own article: only repeats inside a passage share
    alone = qa.tokens.compress(states, ids, spans, lengths)
    assert alone.refs.tolist() == [0, 1, 0, 2, 3, 3, 4, 5]
    # a block cut out of another keeps only the codes its tokens point at
    part = block.passages(1, 3)
    assert len(part.codes) == 4 and part.refs.tolist() == [0, 1, 1, 2, 3]
    np.testing.assert_array_equal(part.codes[0], block.codes[0])


def test_codebook_is_recorded_and_checked(tiny_index, tmp_path):
    manifest = qa.index.read_manifest(tiny_index)
    assert manifest["token_store"]["codebook_sha256"] == hashlib.sha256(CODEBOOK_FILE.read_bytes()).hexdigest()
    out = shutil.copytree(tiny_index, tmp_path / "idx")
    m = json.loads((out / "manifest.json").read_text())
    m["token_store"]["codebook_sha256"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(qa.QAError, match="qa build --force"):
        load_index(out)


def test_store_keeps_content_wordpieces_with_their_spans(tiny_index):
    ix = load_index(tiny_index)
    row = next(i for i, c in enumerate(ix.chunks) if c.doc_id == "lake")
    text = ix.chunks[row].text
    words = [text[a:b].lower() for a, b in ix.tokens.passage_spans(row)]
    assert {"water", "levels", "authority"} <= set(words)
    assert not set(words) & (stopwords() | {".", ",", "the", "in", "to"})
    assert len(words) == len(ix.tokens.passage(row))
    # bytes a passage, the IDF table (one per index) aside: at most 6 KB (qa.tokens: 160 bytes a shared code)
    files = qa.index.read_manifest(tiny_index)["files"]
    per_passage = sum(f["size"] for n, f in files.items() if n.startswith("token_") and n != "token_df.npy") / len(ix.chunks)
    assert per_passage <= 6 * 1024, per_passage
    codes, tokens = ix.tokens.codes.shape[0], ix.tokens.refs.shape[0]
    assert codes < 0.9 * tokens, (codes, tokens)


def test_rebuild_copies_unchanged_articles_tokens(tiny_seeds, tiny_index, tmp_path):
    seeds = shutil.copytree(tiny_seeds, tmp_path / "seeds")
    out = shutil.copytree(tiny_index, tmp_path / "idx")
    lake = seeds / "lake.txt"
    lake.write_text(lake.read_text().replace("ten years", "twelve years"))
    before = load_index(out)
    r = qa.build(seeds, out)
    assert r.embedded == ("lake",)
    after = load_index(out)
    for doc in r.reused:
        rows_b = [i for i, c in enumerate(before.chunks) if c.doc_id == doc]
        rows_a = [i for i, c in enumerate(after.chunks) if c.doc_id == doc]
        for a, b in zip(rows_a, rows_b):
            np.testing.assert_array_equal(after.tokens.passage(a), before.tokens.passage(b))
            np.testing.assert_array_equal(after.tokens.passage_spans(a), before.tokens.passage_spans(b))
    assert qa.retrieve("twelve years Lake Balkhash", k=1, index_dir=out)[0].doc_id == "lake"



def test_refs_outside_their_passage_codes_are_refused(tiny_index):
    ix = load_index(tiny_index)
    t = ix.tokens
    assert t.consistent(len(ix.chunks))
    refs = np.array(t.refs, dtype=np.int64)
    row = int(np.flatnonzero(np.diff(t.offsets) > 0)[-1])
    refs[t.offsets[row]] = t.code_ranges[row, 1]  # one past the passage's codes
    damaged = qa.tokens.TokenStore(t.codes, refs, t.ids, t.spans, t.offsets, t.code_ranges, t.idf)
    with pytest.raises(qa.QAError, match="qa build --force"):
        damaged.passage(row)
    with pytest.raises(qa.QAError, match="qa build --force"):
        damaged.gather(np.array([row]))
    ranges = np.array(t.code_ranges)
    ranges[row, 1] = len(t.codes) + 1
    bad = qa.tokens.TokenStore(t.codes, t.refs, t.ids, t.spans, t.offsets, ranges, t.idf)
    assert not bad.consistent(len(ix.chunks))
