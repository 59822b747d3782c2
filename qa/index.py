"""FAISS index + passage store + manifest: write atomically, load and verify."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import bm25, config
from .errors import REBUILD_HINT, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .types import Article, Chunk

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
FAISS_FILE = "index.faiss"
PASSAGES = "passages.jsonl"
ARTICLES = "articles.jsonl"
SENT_VECTORS = "sentence_vectors.npy"
SENTENCES = "sentences.npy"  # int64 rows of (article number, start, end)
# Hash every data file on load while the index is small; past this only sizes are checked (speed at scale).
_HASH_ON_LOAD_LIMIT = 64 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def article_to_json(a: Article) -> dict[str, Any]:
    return {
        "doc_id": a.doc_id,
        "title": a.title,
        "publisher": a.publisher,
        "published": a.published.isoformat() if a.published else None,
        "authors": list(a.authors),
        "text": a.text,
        "source": a.source,
    }


def article_from_json(d: dict[str, Any]) -> Article:
    return Article(
        doc_id=d["doc_id"],
        title=d.get("title"),
        publisher=d.get("publisher"),
        published=date.fromisoformat(d["published"]) if d.get("published") else None,
        authors=tuple(d.get("authors") or ()),
        text=d["text"],
        source=d.get("source") or "",
    )


def chunker_settings() -> dict[str, int | str]:
    """Everything that decides passage boundaries; a change means passages must be re-embedded."""
    return {
        "version": config.CHUNKER_VERSION,
        "target_words": config.CHUNK_TARGET_WORDS,
        "max_words": config.CHUNK_MAX_WORDS,
        "overlap_sentences": config.CHUNK_OVERLAP_SENTENCES,
    }


def text_hash(a: Article) -> str:
    """What the vectors depend on: the cleaned body."""
    return sha256_bytes(a.text.encode("utf-8"))


def make_faiss_index(vectors: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """An inner-product index for normalised vectors: exact search (flat)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(vectors)
    return index, {"type": "flat", "metric": "inner_product"}


@dataclass
class LoadedIndex:
    """An index loaded from disk and verified against its manifest."""

    path: Path
    manifest: dict[str, Any]
    faiss: Any
    vectors: np.ndarray
    chunks: list[Chunk]
    articles: dict[str, Article]
    sentences: np.ndarray  # (n, 3) int64: article number in `order`, start, end
    sentence_vectors: np.ndarray
    order: list[str]  # doc_ids in file order; sentences refer to them by number
    keyword: Any  # qa.bm25.Keyword

    @property
    def data_dir(self) -> Path:
        return self.path / self.manifest["data_dir"]


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_index(
    index_dir: Path,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
    article_hashes: dict[str, str],
    sentences: np.ndarray,
    sentence_vectors: np.ndarray,
) -> dict[str, Any]:
    """Write a new generation into a temporary folder, then swap it in by replacing manifest.json atomically.

    A build killed at any point leaves the previous manifest, and the files it names, untouched.
    """
    import faiss

    if vectors.shape != (len(chunks), config.MODEL_DIM):
        raise ValueError(f"vectors shape {vectors.shape} does not match {len(chunks)} passages x {config.MODEL_DIM}")
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = time.strftime("gen-%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    tmp = index_dir / f".tmp-{gen}"
    tmp.mkdir()
    try:
        np.save(tmp / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32))
        findex, index_info = make_faiss_index(vectors)
        faiss.write_index(findex, str(tmp / FAISS_FILE))
        _write_jsonl(tmp / PASSAGES, ({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end, "text": c.text} for c in chunks))
        _write_jsonl(tmp / ARTICLES, (article_to_json(a) for a in articles))
        np.save(tmp / SENTENCES, np.asarray(sentences, dtype=np.int64).reshape(-1, 3))
        np.save(tmp / SENT_VECTORS, np.ascontiguousarray(sentence_vectors, dtype=np.float32))
        bm25.write(tmp, [c.text for c in chunks])
        files = {}
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                _fsync_path(p)
                files[p.relative_to(tmp).as_posix()] = {"size": p.stat().st_size, "sha256": file_sha256(p)}
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        manifest = {
            "format": config.INDEX_FORMAT,
            "model": {
                "name": config.MODEL_NAME,
                "weights_sha256": config.MODEL_SHA256,
                "dimension": config.MODEL_DIM,
                "normalized": True,
            },
            "cleaner_version": config.CLEANER_VERSION,
            "chunker_version": config.CHUNKER_VERSION,
            "chunker": chunker_settings(),
            "index": index_info,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data_dir": gen,
            "passages": len(chunks),
            "articles": {
                a.doc_id: {
                    "source": a.source,
                    "content_sha256": article_hashes.get(a.doc_id),
                    "text_sha256": text_hash(a),
                    "passages": counts.get(a.doc_id, 0),
                }
                for a in articles
            },
            "files": files,
        }
        _fsync_path(tmp)
        os.rename(tmp, index_dir / gen)
        tmp_manifest = index_dir / f".tmp-{gen}.json"
        tmp_manifest.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _fsync_path(tmp_manifest)
        os.replace(tmp_manifest, index_dir / MANIFEST)
        _fsync_path(index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    collect_garbage(index_dir, keep=gen)
    return manifest


def collect_garbage(index_dir: Path, keep: str) -> None:
    """Remove generations and temporary files that the current manifest does not name."""
    for p in index_dir.iterdir():
        if p.name == keep or p.name in (MANIFEST, ".lock") or not (p.name.startswith("gen-") or p.name.startswith(".tmp-")):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """Read and check manifest.json; raise a clear error naming the rebuild command."""
    path = index_dir / MANIFEST
    if not index_dir.is_dir():
        raise IndexNotFoundError(f"No index folder at {index_dir}. {REBUILD_HINT}")
    if not path.is_file():
        raise IndexNotFoundError(f"No index at {index_dir} (manifest.json is missing). {REBUILD_HINT}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"The index manifest {path} is unreadable ({exc}). {REBUILD_HINT}") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"The index manifest {path} is not a JSON object. {REBUILD_HINT}")
    fmt = manifest.get("format")
    if fmt != config.INDEX_FORMAT:
        raise IndexMismatchError(
            f"The index at {index_dir} has format {fmt!r}; this version of qa reads format {config.INDEX_FORMAT}. {REBUILD_HINT}"
        )
    model = manifest.get("model") or {}
    if model.get("name") != config.MODEL_NAME or model.get("weights_sha256") != config.MODEL_SHA256:
        raise IndexMismatchError(
            f"The index at {index_dir} was built with model {model.get('name')!r} "
            f"(weights {str(model.get('weights_sha256'))[:12]}…), not {config.MODEL_NAME}. {REBUILD_HINT}"
        )
    if model.get("dimension") != config.MODEL_DIM or model.get("normalized") is not True:
        raise IndexMismatchError(
            f"The index at {index_dir} holds {model.get('dimension')}-dimensional vectors "
            f"(normalized={model.get('normalized')}); expected {config.MODEL_DIM}, normalized. {REBUILD_HINT}"
        )
    for key in ("data_dir", "files", "passages", "articles"):
        if key not in manifest:
            raise IndexCorruptError(f"The index manifest {path} lacks {key!r}. {REBUILD_HINT}")
    return manifest


def load_index(index_dir: Path) -> LoadedIndex:
    """Load and verify an index folder.

    Raises:
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: with the command to rebuild.
    """
    import faiss

    manifest = read_manifest(index_dir)
    data = index_dir / str(manifest["data_dir"])
    files: dict[str, Any] = manifest["files"]
    total = sum(int(f.get("size", 0)) for f in files.values())
    for name, info in files.items():
        p = data / name
        if not p.is_file():
            raise IndexCorruptError(f"Index file {p} is missing. {REBUILD_HINT}")
        if p.stat().st_size != info.get("size"):
            raise IndexCorruptError(
                f"Index file {p} has {p.stat().st_size} bytes, the manifest says {info.get('size')} (truncated or replaced). {REBUILD_HINT}"
            )
        if total <= _HASH_ON_LOAD_LIMIT and file_sha256(p) != info.get("sha256"):
            raise IndexCorruptError(f"Index file {p} does not match its checksum in the manifest. {REBUILD_HINT}")
    for required in (VECTORS, FAISS_FILE, PASSAGES, ARTICLES, SENTENCES, SENT_VECTORS):
        if required not in files:
            raise IndexCorruptError(f"The manifest does not list {required}. {REBUILD_HINT}")
    try:
        findex = faiss.read_index(str(data / FAISS_FILE), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except Exception:  # faiss raises RuntimeError with C++ text; retry without mmap for index types that refuse it
        try:
            findex = faiss.read_index(str(data / FAISS_FILE))
        except Exception as exc:
            raise IndexCorruptError(f"The FAISS index {data / FAISS_FILE} cannot be read ({exc}). {REBUILD_HINT}") from exc
    try:
        vectors = np.load(data / VECTORS, mmap_mode="r", allow_pickle=False)
        chunks = [Chunk(**json.loads(line)) for line in (data / PASSAGES).read_text(encoding="utf-8").splitlines() if line]
        articles = {}
        for line in (data / ARTICLES).read_text(encoding="utf-8").splitlines():
            if line:
                a = article_from_json(json.loads(line))
                articles[a.doc_id] = a
        sentences = np.load(data / SENTENCES, allow_pickle=False)
        sentence_vectors = np.load(data / SENT_VECTORS, mmap_mode="r", allow_pickle=False)
        keyword = bm25.Keyword(data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorruptError(f"The index at {index_dir} has an unreadable data file ({exc}). {REBUILD_HINT}") from exc
    n = manifest["passages"]
    if findex.d != config.MODEL_DIM or vectors.shape != (n, config.MODEL_DIM):
        raise IndexMismatchError(
            f"The index at {index_dir} holds vectors of dimension {findex.d}, expected {config.MODEL_DIM}. {REBUILD_HINT}"
        )
    if findex.ntotal != n or len(chunks) != n:
        raise IndexCorruptError(
            f"The index at {index_dir} is inconsistent: {findex.ntotal} vectors, {len(chunks)} passages, manifest says {n}. {REBUILD_HINT}"
        )
    for c in chunks:
        a = articles.get(c.doc_id)
        if a is None or a.text[c.start : c.end] != c.text:
            raise IndexCorruptError(f"Passage {c.chunk_id} does not match its article text. {REBUILD_HINT}")
    order = list(articles)
    if sentences.ndim != 2 or sentences.shape[1] != 3 or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"The sentence store at {index_dir} is inconsistent. {REBUILD_HINT}")
    return LoadedIndex(index_dir, manifest, findex, vectors, chunks, articles, sentences, sentence_vectors, order, keyword)
