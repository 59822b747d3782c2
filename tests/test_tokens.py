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
    assert codes.dtype == np.uint8 and codes.shape == (len(pt.states), 192)
    decoded = codec().decode(codes)
    assert np.sum(decoded * pt.states, axis=1).min() >= 0.98
    assert np.sum(decoded * pt.states, axis=1).mean() >= 0.99
    # a question token's best match among the passage's tokens scores within a hair of the uncompressed one
    q = qa.embed.encode_query_tokens("Why did the water levels of the lake fall?")[1]
    np.testing.assert_allclose((q @ decoded.T).max(axis=1), (q @ pt.states.T).max(axis=1), atol=0.02)


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
    # bytes a passage, the IDF table (one per index) aside: a few hundred bytes a token, far below float16 of all tokens
    files = qa.index.read_manifest(tiny_index)["files"]
    per_passage = sum(f["size"] for n, f in files.items() if n.startswith("token_") and n != "token_df.npy") / len(ix.chunks)
    assert per_passage < 12_000, per_passage


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
            np.testing.assert_array_equal(after.tokens.codes[after.tokens.offsets[a] : after.tokens.offsets[a + 1]],
                                          before.tokens.codes[before.tokens.offsets[b] : before.tokens.offsets[b + 1]])
            np.testing.assert_array_equal(after.tokens.passage_spans(a), before.tokens.passage_spans(b))
    assert qa.retrieve("twelve years Lake Balkhash", k=1, index_dir=out)[0].doc_id == "lake"

