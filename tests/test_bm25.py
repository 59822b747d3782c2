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


def test_idf_is_bm25s_idf_of_each_term_s_document_count(tmp_path):
    import math

    docs = ["Riverside cycleway approved\n\nThe council voted for a route.", "The council met.", "Harbour dredging."]
    bm25.write(tmp_path, docs)
    kw = bm25.Keyword(tmp_path, len(docs))
    counts: dict[str, int] = {}
    for d in docs:
        for t in set(bm25.terms(d)):
            counts[t] = counts.get(t, 0) + 1
    for t, df in counts.items():
        assert kw.idf(t) == pytest.approx(math.log(1 + (len(docs) - df + 0.5) / (df + 0.5)), abs=1e-12), t
    assert kw.idf("nowhere") == 0.0 and kw.idf("") == 0.0
    assert kw.idf("council") < kw.idf("harbour")  # in two documents, against one
