"""FAISS index + passage store + manifest: write atomically, load and verify."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import bm25, config, tokens as token_store
from .errors import REBUILD_HINT, IndexCorruptError, IndexError_, IndexMismatchError, IndexNotFoundError
from .onnx_runtime import file_sha256
from .tokens import TokenBlock, TokenStore
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


def article_to_json(a: Article) -> dict[str, Any]:
    return {
        "doc_id": a.doc_id,
        "title": a.title,
        "publisher": a.publisher,
        "published": a.published.isoformat() if a.published else None,
        "authors": list(a.authors),
        "text": a.text,
        "source": a.source,
        "url": a.url,
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
        url=d.get("url") or None,
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


# Index type by corpus size (bench/scale.py, 2 cores): exact search costs ~0.1 ms per 1k passages a query, so it
# stays exact up to 50k passages (~4 ms); past that an HNSW graph answers in ~1 ms at 1M with recall@10 >= 0.95.
FLAT_MAX_PASSAGES = 50_000
HNSW_M = 32  # graph links per vector: ~260 bytes a passage on top of its 1536-byte vector
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128  # candidates kept while searching; the candidate pool asks for 50, so keep a margin above it


def make_faiss_index(vectors: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """An inner-product index for normalised vectors: exact (flat) for small corpora, an HNSW graph past
    FLAT_MAX_PASSAGES. The info dict, written into the manifest, carries what load_index needs to search it."""
    import faiss

    if len(vectors) <= FLAT_MAX_PASSAGES:
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(vectors)
        return index, {"type": "flat", "metric": "inner_product"}
    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index, {
        "type": "hnsw",
        "metric": "inner_product",
        "M": HNSW_M,
        "efConstruction": HNSW_EF_CONSTRUCTION,
        "efSearch": HNSW_EF_SEARCH,
    }


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
    tokens: TokenStore | None = None  # for late-interaction reranking (qa/tokens.py)
    chunk_sentences: np.ndarray | None = None  # (passages, 2): the range of sentence rows inside each passage
    doc_numbers: dict[str, int] | None = None  # doc_id -> its number in `order`
    chunk_docs: np.ndarray | None = None  # (passages,) each passage's article number, for fast filters
    doc_publishers: np.ndarray | None = None  # (articles,) a code per article number, -1 when unknown
    publisher_codes: dict[str, int] | None = None  # publisher -> its code in doc_publishers
    doc_dates: np.ndarray | None = None  # (articles,) publication date as a proleptic ordinal, -1 when undated
    remote: Any = None  # qa.milvus_index.Stage1 when stage 1 is served by a Milvus collection; None: this folder's
    # FAISS and BM25 files (qa.retrieve.EmbeddedStage1)


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
    token_block: TokenBlock,
    encoder: dict[str, Any],
    vocab_size: int = config.MODEL_VOCAB,
    cleaner_version: str = config.CLEANER_VERSION,
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
        token_store.write(tmp, token_block, vocab_size)
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
            "cleaner_version": cleaner_version,
            "chunker_version": config.CHUNKER_VERSION,
            "chunker": chunker_settings(),
            "encoder": dict(encoder),
            "index": index_info,
            "token_store": token_store.settings(),
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
            try:
                p.unlink(missing_ok=True)
            except OSError as exc:  # the new index is already in place; leftovers are removed next time
                log.warning("could not remove %s: %s", p, exc)


# A generation folder name as write_index makes it: a plain name, so a hand-edited manifest cannot point outside.
_GEN_NAME = re.compile(r"gen-[A-Za-z0-9_.-]+")


def _safe_relative(name: object) -> bool:
    """A data file name inside the generation folder: relative, without '..' or empty parts."""
    if not isinstance(name, str) or not name or "\\" in name or name.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


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
    if "format" not in manifest:
        raise IndexMismatchError(
            f"The index at {index_dir} has no format number: an older version of qa wrote it. {REBUILD_HINT}"
        )
    fmt = manifest.get("format")
    if fmt != config.INDEX_FORMAT:
        raise IndexMismatchError(
            f"The index at {index_dir} has format {fmt!r}; this version of qa reads format {config.INDEX_FORMAT}. {REBUILD_HINT}"
        )
    model = manifest.get("model")
    if not isinstance(model, dict):
        raise IndexCorruptError(f"The index manifest {path} does not say which model built it. {REBUILD_HINT}")
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
    files = manifest["files"]
    well_formed = (
        isinstance(manifest["data_dir"], str)
        and _GEN_NAME.fullmatch(manifest["data_dir"]) is not None
        and isinstance(manifest["passages"], int)
        and not isinstance(manifest["passages"], bool)
        and isinstance(manifest["articles"], dict)
        and isinstance(files, dict)
        and all(
            _safe_relative(name)
            and isinstance(info, dict)
            and type(info.get("size")) is int
            and isinstance(info.get("sha256"), str)
            for name, info in files.items()
        )
    )
    if not well_formed:
        raise IndexCorruptError(f"The index manifest {path} has malformed entries (edited by hand?). {REBUILD_HINT}")
    return manifest


def _manifest_stamp(index_dir: Path) -> tuple[int, int, int] | None:
    try:
        st = (index_dir / MANIFEST).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def load_index(index_dir: Path) -> LoadedIndex:
    """Load and verify an index folder.

    A build that swaps in a new generation while this reads the old one deletes the old files; the load then
    starts over from the new manifest instead of failing.

    Raises:
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: with the command to rebuild.
    """
    for attempt in range(3):
        stamp = _manifest_stamp(index_dir)
        try:
            return _load_once(index_dir)
        except IndexError_:
            if attempt == 2 or _manifest_stamp(index_dir) == stamp:
                raise
            log.info("the index at %s was replaced while loading; loading the new one", index_dir)
    raise AssertionError("unreachable")


def _load_once(index_dir: Path) -> LoadedIndex:
    try:
        return _load_verified(index_dir)
    except OSError as exc:  # e.g. a file that is not readable by this user
        raise IndexCorruptError(f"The index at {index_dir} cannot be read ({exc}). {REBUILD_HINT}") from exc


def check_encoder(index_dir: Path, manifest: dict[str, Any]) -> None:
    """The index's vectors and token codes must come from the encoder and codebook this machine uses for questions:
    vectors from another export or runtime are not comparable with the questions' vectors.

    Raises:
        IndexMismatchError: naming `qa build --force`.
    """
    from .embed import encoder_identity

    ours, theirs = encoder_identity(), manifest.get("encoder")
    if theirs != ours:
        got = theirs if isinstance(theirs, dict) else {}
        raise IndexMismatchError(
            f"The index at {index_dir} was encoded by {got.get('runtime')} {got.get('runtime_version')} "
            f"(export {str(got.get('export_sha256'))[:12]}…); this installation encodes questions with "
            f"{ours['runtime']} {ours['runtime_version']} (export {str(ours['export_sha256'])[:12]}…). "
            "Re-encode it with `qa build --force`."
        )
    if manifest.get("token_store") != token_store.settings():
        raise IndexMismatchError(
            f"The index at {index_dir} stores token vectors in another layout or codebook "
            f"({manifest.get('token_store')!r}). Re-encode it with `qa build --force`."
        )


def _load_verified(index_dir: Path) -> LoadedIndex:
    import faiss

    manifest = read_manifest(index_dir)
    check_encoder(index_dir, manifest)
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
    for required in (VECTORS, FAISS_FILE, PASSAGES, ARTICLES, SENTENCES, SENT_VECTORS, *token_store.FILES):
        if required not in files:
            raise IndexCorruptError(f"The manifest does not list {required}. {REBUILD_HINT}")
    index_info = manifest.get("index") if isinstance(manifest.get("index"), dict) else {}
    try:
        # MMAP_IFC maps the stored vectors of flat and HNSW indexes instead of copying them into memory.
        findex = faiss.read_index(str(data / FAISS_FILE), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except Exception:  # faiss raises RuntimeError with C++ text; retry without mmap for index types that refuse it
        try:
            findex = faiss.read_index(str(data / FAISS_FILE))
        except Exception as exc:
            raise IndexCorruptError(f"The FAISS index {data / FAISS_FILE} cannot be read ({exc}). {REBUILD_HINT}") from exc
    if index_info.get("type") == "hnsw":
        ef = index_info.get("efSearch")
        if not isinstance(findex, faiss.IndexHNSW) or type(ef) is not int or ef < 1:
            raise IndexCorruptError(
                f"The FAISS index {data / FAISS_FILE} is not the HNSW index (efSearch {ef!r}) its manifest describes. {REBUILD_HINT}"
            )
        findex.hnsw.efSearch = ef
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
        tokens = TokenStore.load(data)
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
    if not tokens.consistent(n):
        raise IndexCorruptError(f"The token store at {index_dir} is inconsistent. {REBUILD_HINT}")
    # Sentences are stored in article order then by offset, so each passage's sentences are one contiguous range.
    doc_num = {d: i for i, d in enumerate(order)}
    chunk_docs = np.fromiter((doc_num[c.doc_id] for c in chunks), dtype=np.int64, count=len(chunks))
    key = sentences[:, 0] * (1 << 32) + sentences[:, 1]
    ends = sentences[:, 0] * (1 << 32) + sentences[:, 2]
    lo = np.searchsorted(key, chunk_docs * (1 << 32) + np.fromiter((c.start for c in chunks), np.int64, len(chunks)), side="left")
    hi = np.searchsorted(ends, [doc_num[c.doc_id] * (1 << 32) + c.end for c in chunks], side="right")
    chunk_sentences = np.stack([lo, hi], axis=1) if chunks else np.zeros((0, 2), np.int64)
    # per-article columns, so a publisher or date filter is a few array comparisons, not a loop over articles
    publisher_codes: dict[str, int] = {}
    for a in articles.values():
        if a.publisher is not None:
            publisher_codes.setdefault(a.publisher, len(publisher_codes))
    doc_publishers = np.fromiter((publisher_codes.get(articles[d].publisher, -1) for d in order), np.int32, len(order))
    doc_dates = np.fromiter(
        (articles[d].published.toordinal() if articles[d].published else -1 for d in order), dtype=np.int64, count=len(order)
    )
    return LoadedIndex(
        index_dir, manifest, findex, vectors, chunks, articles, sentences, sentence_vectors, order, keyword, tokens,
        chunk_sentences, doc_num, chunk_docs, doc_publishers, publisher_codes, doc_dates,
    )
