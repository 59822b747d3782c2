"""FAISS index + passage store + manifest: write atomically, load and verify."""
from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import bm25, config, tokens as token_store
from .errors import REBUILD_HINT, IndexCorruptError, IndexError_, IndexMismatchError, IndexNotFoundError
from .onnx_runtime import file_sha256
from .tokens import TokenBlock, TokenStore, idf_from_df, token_df
from .types import Article, Chunk, article_from_json, article_to_json

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# Hash every data file on load while the index is small; past this only sizes are checked (speed at scale).
_HASH_ON_LOAD_LIMIT = 64 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    live: np.ndarray | None = None  # (rows,) bool: False for the passages of articles an update replaced or
    # removed (they stay in the files until a build compacts them); None when every row is live
    doc_live: np.ndarray | None = None  # (records,) bool: the same per article record number
    live_bits: np.ndarray | None = None  # `live` packed little-endian, as faiss's IDSelectorBitmap reads it


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# Columns: arrays and JSON lines kept as raw files that an update appends to in place. The manifest records each
# file's committed size (and dtype and shape of an array); readers never look past it, so bytes an update appends
# before it swaps in its manifest are invisible to them, and a crashed update's are cut off by the next one.

VECTORS = "vectors.f32"  # (passages, 384) float32
SENT_VECTORS = "sentence_vectors.f32"  # (sentences, 384) float32
SENTENCES = "sentences.i64"  # (sentences, 3) int64: article record number, start, end
PASSAGES = "passages.jsonl"  # one passage a line, with "n": its article's record number
ARTICLES = "articles.jsonl"  # one article record a line; its line number is its record number
_ARRAYS = {"vectors": VECTORS, "sentence_vectors": SENT_VECTORS, "sentences": SENTENCES}
_TOKEN_FILE = {"token_codes": "token_codes.u8", "token_refs": "token_refs.bin", "token_ids": "token_ids.u16",
               "token_spans": "token_spans.bin", "token_offsets": "token_offsets.i64",
               "token_code_ranges": "token_code_ranges.i64"}
COLUMN_FILES = {**_ARRAYS, **_TOKEN_FILE}
_IN_MEMORY = ("sentences", "token_offsets", "token_code_ranges")  # read whole on load; the rest memory-mapped
# Re-written by every build or update under a fresh name, because each depends on the whole index: the dense
# index (a graph past FLAT_MAX_PASSAGES), BM25 (its scores use corpus-wide statistics) and the wordpieces' passage
# counts (token_df: how many live passages hold each; their IDF is computed on load).
FAISS_FILE = "index.faiss"
TOKEN_DF = "token_df.npy"


def _file_entry(path: Path, parts: list | None = None) -> dict[str, Any]:
    """A manifest entry: size and sha256 of a whole file, or of each appended part (sha256 then hashes the parts'
    digests, so an update hashes only what it appended)."""
    if not parts:
        return {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return {
        "size": sum(size for size, _ in parts),
        "sha256": sha256_bytes("".join(h for _, h in parts).encode()),
        "parts": [list(p) for p in parts],
    }


def _range_sha256(path: Path, start: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(start)
        left = size
        while left:
            block = f.read(min(left, 1 << 20))
            if not block:
                break
            h.update(block)
            left -= len(block)
    return h.hexdigest()


def _write_array(f, a: np.ndarray, h=None) -> int:
    """Write an array's bytes (little-endian, C order) in slices, without copying a memory-mapped array whole."""
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        a = a.astype(a.dtype.newbyteorder("<"))
    flat = a.reshape(-1).view(np.uint8)
    for i in range(0, len(flat), 64 << 20):
        piece = flat[i : i + (64 << 20)]
        f.write(piece)
        if h is not None:
            h.update(piece)
    return int(flat.nbytes)


def _append(path: Path, committed: int, data: bytes | np.ndarray) -> tuple[int, str]:
    """Cut the file back to its committed size (dropping what a crashed update appended) and append `data`;
    returns the appended part's size and sha256."""
    h = hashlib.sha256()
    with open(path, "r+b") as f:
        f.truncate(committed)
        f.seek(committed)
        if isinstance(data, bytes):
            f.write(data)
            h.update(data)
            size = len(data)
        else:
            size = _write_array(f, data, h)
        f.flush()
        os.fsync(f.fileno())
    return size, h.hexdigest()


def _read_array(path: Path, info: dict[str, Any], mmap: bool) -> np.ndarray:
    dtype, shape = np.dtype(info["dtype"]).newbyteorder("<"), tuple(int(x) for x in info["shape"])
    if not int(np.prod(shape)):
        return np.zeros(shape, dtype)
    if mmap:
        return np.memmap(path, dtype=dtype, mode="r", shape=shape)
    count = int(np.prod(shape))
    return np.fromfile(path, dtype=dtype, count=count).reshape(shape)


READ_AHEAD_CHUNK = 8 << 20


def _read_ahead(path: Path) -> None:
    """Ask the kernel, from a background thread, to read a whole file into the page cache (POSIX_FADV_WILLNEED). The
    dense index's stored vectors are memory-mapped, and a graph walk over an uncached file is a page fault per node
    it visits: the first queries after loading a large index took 50-120 ms in stage 1 alone (bench/scale.py)."""
    if not hasattr(os, "posix_fadvise"):
        return

    def run() -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                for offset in range(0, size, READ_AHEAD_CHUNK):  # one call reads ahead only a few MB
                    os.posix_fadvise(fd, offset, READ_AHEAD_CHUNK, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(fd)
        except OSError:  # advice only: the queries read what they need anyway
            pass

    threading.Thread(target=run, name="qa-read-ahead", daemon=True).start()


def prefetch(array: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Ask the kernel to read rows [lo, hi) of a memory-mapped array now, all ranges at once (MADV_WILLNEED), so a
    query's candidates that are not in the page cache come from disk together rather than one page fault after
    another. A no-op for an array in memory, or where madvise is missing; advice the kernel refuses is skipped, since
    the reads then happen anyway, only one after another."""
    mm = getattr(array, "_mmap", None)  # np.memmap's mapping of its file
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_WILLNEED"):
        return
    try:
        for first, length in page_ranges(array, mm, lo, hi):
            mm.madvise(mmap.MADV_WILLNEED, first, length)
    except (OSError, ValueError):  # e.g. a mapping closed by a concurrent reload
        return


def page_ranges(array: np.ndarray, mm: mmap.mmap, lo: np.ndarray, hi: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) within the mapping `mm` of rows [lo, hi) of `array` (a view of it), each start rounded down
    to a page as madvise requires; empty ranges are left out."""
    base = array.ctypes.data - np.frombuffer(mm, np.uint8, count=1).ctypes.data  # where row 0 sits in the mapping
    row = array.strides[0]
    out = []
    for a, b in zip(base + np.asarray(lo, np.int64) * row, base + np.asarray(hi, np.int64) * row):
        if b > a:
            first = int(a) // mmap.PAGESIZE * mmap.PAGESIZE
            out.append((first, int(b) - first))
    return out


def _read_lines(path: Path, size: int) -> list[str]:
    with open(path, "rb") as f:
        data = f.read(size)
    if len(data) != size:
        raise ValueError(f"{path.name} is shorter than the manifest says")
    return [line for line in data.decode("utf-8").splitlines() if line]


def _jsonl_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:  # line by line: a whole build's passages may not fit in memory
        for r in rows:
            f.write(_jsonl_line(r))


def _jsonl_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(map(_jsonl_line, rows)).encode("utf-8")


def _passage_row(c: Chunk, n: int) -> dict[str, Any]:
    return {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "n": n, "start": c.start, "end": c.end, "text": c.text}


def _names(manifest: dict[str, Any]) -> dict[str, str]:
    names = manifest.get("names") if isinstance(manifest.get("names"), dict) else {}
    return {"faiss": names.get("faiss", FAISS_FILE), "bm25": names.get("bm25", bm25.BM25_DIR),
            "token_df": names.get("token_df", TOKEN_DF)}


def _article_entry(a: Article, number: int, content_sha256: str | None, passages: int) -> dict[str, Any]:
    return {"source": a.source, "content_sha256": content_sha256, "text_sha256": text_hash(a), "passages": passages,
            "number": number}


def _base_manifest(encoder: dict[str, Any], cleaner_version: str, gen: str) -> dict[str, Any]:
    return {
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
        "token_store": token_store.settings(),
        "keyword": bm25.settings(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data_dir": gen,
    }


def _swap_manifest(index_dir: Path, manifest: dict[str, Any], tag: str) -> None:
    tmp_manifest = index_dir / f".tmp-{tag}.json"
    tmp_manifest.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _fsync_path(tmp_manifest)
    os.replace(tmp_manifest, index_dir / MANIFEST)
    _fsync_path(index_dir)


def _new_tag() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"


# What a build names in the index folder: "gen-" + _new_tag(), and the temporary ".tmp-<tag>.json", ".tmp-gen-<tag>"
# and ".tmp-clean_cache.jsonl"; a build removes old ones and nothing else (a user's folder "gen-photos" stays).
_OUR_GENERATION = re.compile(
    r"(?:\.tmp-)?gen-\d{8}T\d{6}-\d+-\d{6}|\.tmp-\d{8}T\d{6}-\d+-\d{6}\.json|\.tmp-clean_cache\.jsonl"
)


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
    """Write a whole new generation into a temporary folder, then swap it in by replacing manifest.json atomically.

    `sentences` rows are (position of the article in `articles`, start, end). A build killed at any point leaves
    the previous manifest, and the files it names, untouched.
    """
    import faiss

    if vectors.shape != (len(chunks), config.MODEL_DIM):
        raise ValueError(f"vectors shape {vectors.shape} does not match {len(chunks)} passages x {config.MODEL_DIM}")
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = "gen-" + _new_tag()
    tmp = index_dir / f".tmp-{gen}"
    tmp.mkdir()
    try:
        number = {a.doc_id: n for n, a in enumerate(articles)}
        arrays = {
            "vectors": np.ascontiguousarray(vectors, dtype=np.float32),
            "sentence_vectors": np.ascontiguousarray(sentence_vectors, dtype=np.float32),
            "sentences": np.asarray(sentences, dtype=np.int64).reshape(-1, 3),
            **token_store.columns(token_block, vocab_size),
        }
        columns = {}
        for name, a in arrays.items():
            with open(tmp / COLUMN_FILES[name], "wb") as f:
                _write_array(f, a)
            columns[name] = {"dtype": a.dtype.str, "shape": list(a.shape)}
        _write_jsonl(tmp / PASSAGES, (_passage_row(c, number[c.doc_id]) for c in chunks))
        _write_jsonl(tmp / ARTICLES, (article_to_json(a) for a in articles))
        findex, index_info = make_faiss_index(arrays["vectors"])
        faiss.write_index(findex, str(tmp / FAISS_FILE))
        by_id = {a.doc_id: a for a in articles}
        bm25.write(tmp / bm25.BM25_DIR, [bm25.document(by_id[c.doc_id].title, c.text) for c in chunks])
        np.save(tmp / TOKEN_DF, token_df(token_block.ids, token_block.lengths, vocab_size))
        files = {}
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                _fsync_path(p)
                files[p.relative_to(tmp).as_posix()] = _file_entry(p)
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        manifest = {
            **_base_manifest(encoder, cleaner_version, gen),
            "index": index_info,
            "names": {"faiss": FAISS_FILE, "bm25": bm25.BM25_DIR, "token_df": TOKEN_DF},
            "columns": columns,
            "records": len(articles),
            "rows": len(chunks),
            "passages": len(chunks),
            "articles": {
                a.doc_id: _article_entry(a, number[a.doc_id], article_hashes.get(a.doc_id), counts.get(a.doc_id, 0))
                for a in articles
            },
            "files": files,
        }
        _fsync_path(tmp)
        os.rename(tmp, index_dir / gen)
        _swap_manifest(index_dir, manifest, gen)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    collect_garbage(index_dir, manifest)
    return manifest


class NeedsRewrite(Exception):
    """An update that cannot be appended (e.g. a token span past the store's uint16 column): write it whole."""


def update_index(
    index_dir: Path,
    old: LoadedIndex,
    kept: list[str],
    added: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
    article_hashes: dict[str, str],
    sentences: np.ndarray,
    sentence_vectors: np.ndarray,
    token_block: TokenBlock,
    vocab_size: int = config.MODEL_VOCAB,
    cleaner_version: str = config.CLEANER_VERSION,
) -> dict[str, Any]:
    """Update the index in place: keep the `kept` articles' passages where they are, mark every other article's
    as deleted, and append the `added` articles (their passages, `sentences` rows numbered by position in
    `added`, vectors and token codes) to the column files. Only the dense index, BM25 and the wordpieces' passage
    counts are written whole, because each depends on every passage. The new manifest is swapped in last: a crash
    before that leaves the previous index as it was (the bytes appended past its sizes are ignored, then cut).

    Raises:
        NeedsRewrite: the update cannot be appended; write the index whole instead.
    """
    import faiss

    m = old.manifest
    data = index_dir / m["data_dir"]
    tag = _new_tag()
    base_records, base_rows = int(m["records"]), int(m["rows"])
    number = {a.doc_id: base_records + i for i, a in enumerate(added)}
    new_cols = {
        "vectors": np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, config.MODEL_DIM),
        "sentence_vectors": np.ascontiguousarray(sentence_vectors, dtype=np.float32).reshape(-1, config.MODEL_DIM),
        "sentences": np.asarray(sentences, dtype=np.int64).reshape(-1, 3) + np.array([base_records, 0, 0]),
        **token_store.columns(token_block, vocab_size),
    }
    columns = json.loads(json.dumps(m["columns"]))
    new_cols["token_offsets"] = new_cols["token_offsets"][1:] + int(columns["token_refs"]["shape"][0])
    new_cols["token_refs"] = new_cols["token_refs"].astype(np.int64) + int(columns["token_codes"]["shape"][0])
    new_cols["token_code_ranges"] = new_cols["token_code_ranges"] + int(columns["token_codes"]["shape"][0])
    for name, a in new_cols.items():
        stored = np.dtype(columns[name]["dtype"])
        if stored.kind in "ui" and a.size and a.max() > np.iinfo(stored).max:
            raise NeedsRewrite(f"{name} values outgrow the stored {stored} column")
        new_cols[name] = a.astype(stored, copy=False)
    files = dict(m["files"])
    written: list[Path] = []
    appended = {fname: m["files"][fname]["size"] for fname in (*COLUMN_FILES.values(), PASSAGES, ARTICLES)}
    payloads = [(COLUMN_FILES[name], a) for name, a in new_cols.items()] + [
        (PASSAGES, _jsonl_bytes(_passage_row(c, number[c.doc_id]) for c in chunks)),
        (ARTICLES, _jsonl_bytes(article_to_json(a) for a in added)),
    ]
    try:
        for fname, payload in payloads:
            info = files[fname]
            part = _append(data / fname, info["size"], payload)
            files[fname] = _file_entry(data / fname, [*(info.get("parts") or [[info["size"], info["sha256"]]]), part])
        for name, a in new_cols.items():
            columns[name]["shape"][0] += len(a)

        rows = base_rows + len(chunks)
        keep_numbers = [int(m["articles"][d]["number"]) for d in kept]
        doc_live = np.zeros(base_records + len(added), bool)
        doc_live[keep_numbers] = True
        doc_live[base_records:] = True
        chunk_docs = np.concatenate([old.chunk_docs, [number[c.doc_id] for c in chunks]]).astype(np.int64)
        live = doc_live[chunk_docs]
        live_rows = np.flatnonzero(live)

        names = {"faiss": f"index-{tag}.faiss", "bm25": f"bm25-{tag}", "token_df": f"token_df-{tag}.npy"}
        index_info = m["index"]
        if index_info.get("type") == "flat" and rows > FLAT_MAX_PASSAGES:
            findex, index_info = make_faiss_index(np.vstack([np.asarray(old.vectors), new_cols["vectors"]]))
        else:
            findex = faiss.read_index(str(data / _names(m)["faiss"]))
            if len(chunks):
                findex.add(new_cols["vectors"])
        written.append(data / names["faiss"])
        faiss.write_index(findex, str(data / names["faiss"]))
        titles = {**{d: a.title for d, a in old.articles.items()}, **{a.doc_id: a.title for a in added}}
        kept_chunks = [old.chunks[r] for r in live_rows[live_rows < base_rows]]
        texts = [bm25.document(titles[c.doc_id], c.text) for c in [*kept_chunks, *chunks]]
        written.append(data / names["bm25"])
        bm25.write(data / names["bm25"], texts, None if live.all() else live_rows)
        # the wordpieces' passage counts: the old ones, plus the appended passages', minus the newly deleted ones'
        newly_dead = (np.ones(base_rows, bool) if old.live is None else old.live) & ~live[:base_rows]
        df = np.load(data / _names(m)["token_df"], allow_pickle=False) + token_df(token_block.ids, token_block.lengths, vocab_size)
        df -= old.tokens.df(np.flatnonzero(newly_dead), vocab_size)
        written.append(data / names["token_df"])
        np.save(data / names["token_df"], df)
        for name in (names["faiss"], names["token_df"]):
            _fsync_path(data / name)
            files[name] = _file_entry(data / name)
        for p in sorted((data / names["bm25"]).rglob("*")):
            if p.is_file():
                _fsync_path(p)
                files[p.relative_to(data).as_posix()] = _file_entry(p)
        replaced = set(_names(m).values())
        files = {k: v for k, v in files.items() if k not in replaced and k.split("/")[0] not in replaced}
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        entries = {d: dict(m["articles"][d], content_sha256=article_hashes.get(d)) for d in kept}
        for a in added:
            entries[a.doc_id] = _article_entry(a, number[a.doc_id], article_hashes.get(a.doc_id), counts.get(a.doc_id, 0))
        manifest = {
            **m,
            "cleaner_version": cleaner_version,
            "keyword": bm25.settings(),  # BM25 is written whole above, so an index keyed the old way is now keyed anew
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "index": index_info,
            "names": names,
            "columns": columns,
            "records": base_records + len(added),
            "rows": rows,
            "passages": int(live.sum()),
            "articles": entries,
            "files": files,
        }
        _swap_manifest(index_dir, manifest, tag)
    except BaseException:
        for p in written:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        for fname, size in appended.items():  # best effort: a later update cuts them anyway
            try:
                os.truncate(data / fname, size)
            except OSError:
                pass
        raise
    collect_garbage(index_dir, manifest)
    return manifest


def collect_garbage(index_dir: Path, manifest: dict[str, Any]) -> None:
    """Remove generations, temporary files, and files of the current generation that its manifest does not name
    (an update's replaced dense index, BM25 and wordpiece counts)."""
    keep = manifest["data_dir"]
    for p in index_dir.iterdir():
        if p.name == keep or not _OUR_GENERATION.fullmatch(p.name):
            continue
        _remove(p)
    data = index_dir / keep
    named = set(manifest["files"])
    for p in sorted(data.rglob("*"), reverse=True):
        rel = p.relative_to(data).as_posix()
        if p.is_file() and rel not in named:
            _remove(p)
        elif p.is_dir() and not any(p.iterdir()):
            _remove(p)


def _remove(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p, ignore_errors=True)
        return
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
    build = f"build one with `qa build --seeds YOUR_ARTICLES --index {index_dir}`"  # not "rebuild": there was none
    if not index_dir.is_dir():
        raise IndexNotFoundError(f"No index folder at {index_dir}: check the path, or {build}.")
    if not path.is_file():
        raise IndexNotFoundError(
            f"No index at {index_dir} (manifest.json is missing): pass the folder `qa build` wrote, or {build}.")
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
            f"(export {str(got.get('export_sha256'))[:12]}…, "
            f"passages {str(got.get('passage_export_sha256'))[:12]}…); "
            f"this installation encodes questions with {ours['runtime']} {ours['runtime_version']} "
            f"(export {str(ours['export_sha256'])[:12]}…) and passages with int8 model "
            f"{str(ours['passage_export_sha256'])[:12]}…. Re-encode it with `qa build --force`."
        )
    if manifest.get("token_store") != token_store.settings():
        raise IndexMismatchError(
            f"The index at {index_dir} stores token vectors in another layout or codebook "
            f"({manifest.get('token_store')!r}). Re-encode it with `qa build --force`."
        )


def _verify_files(index_dir: Path, data: Path, files: dict[str, Any], growable: set[str]) -> None:
    """Every named file is there at its committed size (column files may be longer: bytes a crashed update
    appended); while the index is small, its bytes match the manifest's sha256 (per appended part)."""
    total = sum(int(f.get("size", 0)) for f in files.values())
    for name, info in files.items():
        p = data / name
        if not p.is_file():
            raise IndexCorruptError(f"Index file {p} is missing. {REBUILD_HINT}")
        size = p.stat().st_size
        if size < info["size"] or (size != info["size"] and name not in growable):
            raise IndexCorruptError(
                f"Index file {p} has {size} bytes, the manifest says {info['size']} (truncated or replaced). {REBUILD_HINT}"
            )
        if total > _HASH_ON_LOAD_LIMIT:
            continue
        parts = info.get("parts") or [[info["size"], info["sha256"]]]
        start, ok = 0, True
        for part_size, digest in parts:
            ok = ok and _range_sha256(p, start, part_size) == digest
            start += part_size
        if not ok or (info.get("parts") and _file_entry(p, parts)["sha256"] != info["sha256"]):
            raise IndexCorruptError(f"Index file {p} does not match its checksum in the manifest. {REBUILD_HINT}")


def _load_verified(index_dir: Path) -> LoadedIndex:
    import faiss

    manifest = read_manifest(index_dir)
    check_encoder(index_dir, manifest)
    data = index_dir / str(manifest["data_dir"])
    files: dict[str, Any] = manifest["files"]
    columns = manifest.get("columns")
    names = _names(manifest)
    appendable = {*COLUMN_FILES.values(), PASSAGES, ARTICLES}
    if not isinstance(columns, dict) or set(columns) != set(COLUMN_FILES) or not all(
        isinstance(c, dict) and isinstance(c.get("dtype"), str) and isinstance(c.get("shape"), list) for c in columns.values()
    ):
        raise IndexCorruptError(f"The index manifest at {index_dir} does not describe its columns. {REBUILD_HINT}")
    for required in (*appendable, names["faiss"], names["token_df"]):
        if required not in files:
            raise IndexCorruptError(f"The manifest does not list {required}. {REBUILD_HINT}")
    _verify_files(index_dir, data, files, appendable)
    index_info = manifest.get("index") if isinstance(manifest.get("index"), dict) else {}
    faiss_path = data / names["faiss"]
    try:
        # MMAP_IFC maps the stored vectors of flat and HNSW indexes instead of copying them into memory.
        findex = faiss.read_index(str(faiss_path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except Exception:  # faiss raises RuntimeError with C++ text; retry without mmap for index types that refuse it
        try:
            findex = faiss.read_index(str(faiss_path))
        except Exception as exc:
            raise IndexCorruptError(f"The FAISS index {faiss_path} cannot be read ({exc}). {REBUILD_HINT}") from exc
    _read_ahead(faiss_path)
    if index_info.get("type") == "hnsw":
        ef = index_info.get("efSearch")
        if not isinstance(findex, faiss.IndexHNSW) or type(ef) is not int or ef < 1:
            raise IndexCorruptError(
                f"The FAISS index {faiss_path} is not the HNSW index (efSearch {ef!r}) its manifest describes. {REBUILD_HINT}"
            )
        findex.hnsw.efSearch = ef
    n, records = manifest.get("rows"), manifest.get("records")
    if type(n) is not int or type(records) is not int:
        raise IndexCorruptError(f"The index manifest at {index_dir} does not count its rows. {REBUILD_HINT}")
    try:
        cols = {c: _read_array(data / f, columns[c], c not in _IN_MEMORY) for c, f in COLUMN_FILES.items()}
        vectors, sentences, sentence_vectors = cols["vectors"], cols["sentences"], cols["sentence_vectors"]
        rows = [json.loads(line) for line in _read_lines(data / PASSAGES, files[PASSAGES]["size"])]
        chunk_docs = np.fromiter((r.pop("n") for r in rows), dtype=np.int64, count=len(rows))
        chunks = [Chunk(**r) for r in rows]
        all_articles = [article_from_json(json.loads(line)) for line in _read_lines(data / ARTICLES, files[ARTICLES]["size"])]
        df = np.load(data / names["token_df"], allow_pickle=False)
        tokens = TokenStore(*(cols[c] for c in token_store.COLUMNS), idf_from_df(df, manifest["passages"]))
        keyword = bm25.Keyword(data / names["bm25"], n)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorruptError(f"The index at {index_dir} has an unreadable data file ({exc}). {REBUILD_HINT}") from exc
    if findex.d != config.MODEL_DIM or vectors.shape != (n, config.MODEL_DIM):
        raise IndexMismatchError(
            f"The index at {index_dir} holds vectors of dimension {findex.d}, expected {config.MODEL_DIM}. {REBUILD_HINT}"
        )
    if findex.ntotal != n or len(chunks) != n or len(all_articles) != records:
        raise IndexCorruptError(
            f"The index at {index_dir} is inconsistent: {findex.ntotal} vectors, {len(chunks)} passages, manifest says {n}. {REBUILD_HINT}"
        )
    doc_live = np.zeros(records, bool)
    for doc_id, info in manifest["articles"].items():
        k = info.get("number") if isinstance(info, dict) else None
        if type(k) is not int or not 0 <= k < records or all_articles[k].doc_id != doc_id:
            raise IndexCorruptError(f"The manifest's entry for article {doc_id!r} does not match the stored articles. {REBUILD_HINT}")
        doc_live[k] = True
    if len(chunk_docs) and (chunk_docs.min() < 0 or chunk_docs.max() >= records or np.any(np.diff(chunk_docs) < 0)):
        raise IndexCorruptError(f"The passages at {index_dir} do not follow their articles. {REBUILD_HINT}")
    for c, k in zip(chunks, chunk_docs.tolist()):
        a = all_articles[k]
        if a.doc_id != c.doc_id or a.text[c.start : c.end] != c.text:
            raise IndexCorruptError(f"Passage {c.chunk_id} does not match its article text. {REBUILD_HINT}")
    live = doc_live[chunk_docs]
    if int(live.sum()) != manifest["passages"]:
        raise IndexCorruptError(f"The index at {index_dir} has {int(live.sum())} live passages, the manifest says {manifest['passages']}. {REBUILD_HINT}")
    # the live articles in a full build's order (by file name), whatever order updates appended them in
    live_numbers = sorted(np.flatnonzero(doc_live).tolist(), key=lambda k: (all_articles[k].source, all_articles[k].doc_id))
    articles = {all_articles[k].doc_id: all_articles[k] for k in live_numbers}
    order = [a.doc_id for a in all_articles]
    if sentences.ndim != 2 or sentences.shape[1] != 3 or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"The sentence store at {index_dir} is inconsistent. {REBUILD_HINT}")
    if not tokens.consistent(n):
        raise IndexCorruptError(f"The token store at {index_dir} is inconsistent. {REBUILD_HINT}")
    # Sentences are stored in article order then by offset, so each passage's sentences are one contiguous range.
    doc_num = {d: k for d, k in zip(articles, live_numbers)}
    key = sentences[:, 0] * (1 << 32) + sentences[:, 1]
    ends = sentences[:, 0] * (1 << 32) + sentences[:, 2]
    lo = np.searchsorted(key, chunk_docs * (1 << 32) + np.fromiter((c.start for c in chunks), np.int64, len(chunks)), side="left")
    hi = np.searchsorted(ends, chunk_docs * (1 << 32) + np.fromiter((c.end for c in chunks), np.int64, len(chunks)), side="right")
    chunk_sentences = np.stack([lo, hi], axis=1) if chunks else np.zeros((0, 2), np.int64)
    # per-article columns, so a publisher or date filter is a few array comparisons, not a loop over articles
    publisher_codes: dict[str, int] = {}
    for a in articles.values():
        if a.publisher is not None:
            publisher_codes.setdefault(a.publisher, len(publisher_codes))
    doc_publishers = np.fromiter((publisher_codes.get(a.publisher, -1) for a in all_articles), np.int32, records)
    doc_dates = np.fromiter(
        (a.published.toordinal() if a.published else -1 for a in all_articles), dtype=np.int64, count=records
    )
    return LoadedIndex(
        index_dir, manifest, findex, vectors, chunks, articles, sentences, sentence_vectors, order, keyword, tokens,
        chunk_sentences, doc_num, chunk_docs, doc_publishers, publisher_codes, doc_dates,
        live=None if live.all() else live, doc_live=None if doc_live.all() else doc_live,
        live_bits=None if live.all() else np.packbits(live, bitorder="little"),
    )
