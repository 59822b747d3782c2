"""Chunking: whole sentences, exact offsets, inside the model window, overlapping."""
from __future__ import annotations


import pytest

from qa import config
from qa.chunk import chunk_article, split_sentences
from qa.clean import clean_collection, list_seed_files
from qa.types import Article

from .conftest import SEEDS


@pytest.fixture(scope="module")
def articles():
    return clean_collection(list_seed_files(SEEDS))[0]


def test_sentence_splitter_keeps_abbreviations_and_initials():
    text = 'Putin visited on Nov. 9 with Mr. Peskov. The U.S. said "no comment." Then J. Smith left! Why? Because.'
    sents = [text[s:e] for s, e in split_sentences(text)]
    assert sents == [
        "Putin visited on Nov. 9 with Mr. Peskov.",
        'The U.S. said "no comment."',
        "Then J. Smith left!",
        "Why?",
        "Because.",
    ]


def test_offsets_round_trip_and_ids_are_stable(articles):
    for a in articles:
        chunks = chunk_article(a)
        assert chunks, a.doc_id
        for c in chunks:
            assert a.text[c.start : c.end] == c.text
            assert c.doc_id == a.doc_id and c.chunk_id.startswith(a.doc_id + ":")
        assert [c.chunk_id for c in chunk_article(a)] == [c.chunk_id for c in chunks]
        # together the passages cover every sentence of the article
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for s, e in split_sentences(a.text):
            assert s in covered and e - 1 in covered


def test_passages_are_whole_sentences_within_window(articles):
    from tokenizers import Tokenizer

    from qa.onnx_runtime import model_dir

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    for a in articles:
        starts = {s for s, _ in split_sentences(a.text)}
        ends = {e for _, e in split_sentences(a.text)}
        for c in chunk_article(a):
            assert c.start in starts and c.end in ends, c.text
            assert len(tok.encode(c.text).ids) <= config.MODEL_MAX_TOKENS


def test_overlap_of_one_sentence(articles):
    a = max(articles, key=lambda x: len(x.text))
    chunks = chunk_article(a)
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start < prev.end  # the last sentence of one passage opens the next


def test_giant_sentence_is_split_to_fit():
    words = " ".join(f"word{i}," for i in range(400)) + " end."
    a = Article("big", None, None, None, (), words)
    chunks = chunk_article(a)
    assert len(chunks) >= 4
    assert all(len(c.text.split()) <= config.CHUNK_MAX_WORDS for c in chunks)
    assert all(a.text[c.start : c.end] == c.text for c in chunks)
