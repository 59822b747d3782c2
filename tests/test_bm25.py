"""The fast query-side tokeniser must agree with bm25s's, or queries would miss the index vocabulary."""
from __future__ import annotations

import pytest

from qa import bm25

from .conftest import SEEDS


@pytest.mark.parametrize("name", sorted(p.name for p in SEEDS.glob("*.txt")))
def test_terms_match_bm25s_tokenize(name):
    text = (SEEDS / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        assert bm25.terms(line) == bm25.tokenize([line])[0]


def test_terms_stem_and_drop_stopwords():
    assert bm25.terms("The governments resigned, Tokayev’s cabinet!") == bm25.tokenize(["The governments resigned, Tokayev's cabinet!"])[0]
    assert "the" not in bm25.terms("the the the")
