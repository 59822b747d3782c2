"""The Milvus backend: stage 1 (dense + BM25 candidates, with publisher/date filters) served by a Milvus collection.

An index URI names the collection:

- ``milvus://HOST:PORT/COLLECTION``: a Milvus server or cluster (its proxy's gRPC port, 19530 by default);
- ``milvus:///ABSOLUTE/PATH/FILE.db/COLLECTION``: Milvus Lite, an embedded Milvus in a local file (no server).

The collection holds one row per passage: its title and text (qa.bm25.document, read by Milvus's built-in BM25
function), article id, offsets, publisher and date as scalar fields, and its dense vector. Its properties hold the
manifest (model and export digests, cleaner and chunker versions, token store layout, BM25 fields, the build generation
and the article hashes).

The rerank and the answer step run on the candidates as for the embedded index, from a *sidecar* folder beside the
collection: the passages' token codes, the sentences and their vectors, and the articles (an embedded index
generation written by the same `write_index`). Token codes are ~5.5 KB a passage; kept beside the collection they
are memory-mapped, where in the collection they would exceed a VARCHAR field (64 KB) for long passages once
encoded and would cost a network round trip per query (README "Past one machine").

pymilvus is imported only here, and only for milvus:// URIs.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from . import bm25, config
from .errors import BuildError, IndexMismatchError, IndexNotFoundError
from .types import Filters

log = logging.getLogger(__name__)

SCHEME = "milvus://"
MANIFEST_PROPERTY = "qa.manifest"
INSERT_BATCH = 512
MAX_TEXT = 65_535  # Milvus VARCHAR limit, in bytes
# An article's id is its file's path in the folder (sub-folders included), so ids are paths: room for the longest
# path Linux allows. Collections made before (ids of at most 256 bytes) are rebuilt once (COLLECTION_SCHEMA).
MAX_ID = 4_096
COLLECTION_SCHEMA = 2
# The manifest fields the collection and its sidecar must agree on (the sidecar's manifest holds the rest).
SHARED_KEYS = ("format", "model", "encoder", "cleaner_version", "chunker_version", "chunker", "token_store", "keyword",
               "data_dir")


def is_uri(target: object) -> bool:
    return isinstance(target, str) and target.startswith(SCHEME)


@dataclass(frozen=True)
class MilvusTarget:
    """A parsed milvus:// URI."""

    uri: str  # as the user wrote it
    client_uri: str  # what pymilvus.MilvusClient takes: http://host:port or a local .db file
    collection: str
    sidecar: Path  # the local folder with the rerank's data

    @property
    def lite(self) -> bool:
        return not self.client_uri.startswith("http")


def parse(uri: str) -> MilvusTarget:
    """Parse a milvus:// index URI.

    Raises:
        ValueError: the URI is malformed; the message shows both accepted forms.
    """
    forms = "milvus://HOST:PORT/COLLECTION (a server) or milvus:///ABSOLUTE/PATH/FILE.db/COLLECTION (Milvus Lite)"
    if not is_uri(uri):
        raise ValueError(f"{uri!r} is not a Milvus index URI; use {forms}")
    parts = urlsplit(uri)
    path = parts.path.rstrip("/")
    head, _, collection = path.rpartition("/")
    if not collection or not collection.replace("_", "a").isalnum() or collection[0].isdigit():
        raise ValueError(
            f"Index URI {uri!r}: the collection name must be letters, digits and underscores, not starting with a "
            f"digit; use {forms}"
        )
    if parts.netloc:
        if head:
            raise ValueError(f"Index URI {uri!r}: after HOST:PORT give only the collection name; use {forms}")
        host, _, port = parts.netloc.rpartition(":")
        if not host or not port.isdigit():
            host, port = parts.netloc, "19530"
        client_uri = f"http://{host}:{port}"
        from .onnx_runtime import cache_dir

        sidecar = Path(os.environ.get("QA_MILVUS_SIDECAR") or cache_dir() / "milvus" / f"{host}-{port}-{collection}")
        return MilvusTarget(uri, client_uri, collection, sidecar)
    if not head.endswith(".db") or not head.startswith("/"):
        raise ValueError(f"Index URI {uri!r}: a Milvus Lite file must be an absolute path ending in .db; use {forms}")
    db = Path(head)
    sidecar = Path(os.environ.get("QA_MILVUS_SIDECAR") or db.with_name(f"{db.name}.qa-{collection}"))
    return MilvusTarget(uri, str(db), collection, sidecar)


def _client(target: MilvusTarget):
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise BuildError(
            f"{target.uri} needs the optional cluster extra (pymilvus, milvus-lite): run `make install-cluster` "
            "or `pip install .[cluster]`."
        ) from exc
    if target.lite:
        Path(target.client_uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=target.client_uri)
    except Exception as exc:  # pymilvus raises MilvusException and grpc errors with the server's text
        if target.lite:
            raise IndexNotFoundError(
                f"Cannot open the Milvus Lite file {target.client_uri} ({exc}). Milvus Lite lets one process at a time "
                "open a file: stop the other process using it (a build, the app, a script), or serve from a Milvus "
                "server (milvus://HOST:PORT/COLLECTION) to share it."
            ) from exc
        raise IndexNotFoundError(f"Cannot connect to Milvus at {target.client_uri} for {target.uri}: {exc}") from exc


def release(target: MilvusTarget) -> None:
    """Close this process's connection; for Milvus Lite also stop its in-process server, so that another process
    (the app after a build in a notebook, say) can open the file."""
    if target.lite:
        try:
            from milvus_lite.server_manager import server_manager_instance
        except ImportError:
            return
        server_manager_instance.release_server(target.client_uri)


def _schema(client):
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False)
    s.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID + 16)
    s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_ID)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True)
    s.add_field("publisher", DataType.VARCHAR, max_length=512)
    s.add_field("published", DataType.INT64)  # proleptic ordinal of the article's date, -1 when undated
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=config.MODEL_DIM)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]))
    ip = client.prepare_index_params()
    # FLAT (exact) is what Milvus Lite offers; on a cluster choose HNSW or IVF here (README "Past one machine").
    ip.add_index("dense", index_type=os.environ.get("QA_MILVUS_DENSE_INDEX", "FLAT"), metric_type="IP")
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    return s, ip


def _stored_manifest(client, collection: str) -> dict[str, Any] | None:
    props = client.describe_collection(collection).get("properties") or {}
    raw = props.get(MANIFEST_PROPERTY)
    if not raw:
        return None
    try:
        m = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return m if isinstance(m, dict) else None


def _collection_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    m = {k: manifest.get(k) for k in SHARED_KEYS}
    m["schema"] = COLLECTION_SCHEMA
    m["articles"] = {d: {"text_sha256": v.get("text_sha256"), "passages": v.get("passages")} for d, v in manifest["articles"].items()}
    m["passages"] = manifest["passages"]
    return m


def _rows(loaded, doc_ids: set[str]) -> list[dict[str, Any]]:
    rows = []
    for i, c in enumerate(loaded.chunks):
        if c.doc_id not in doc_ids:
            continue
        a = loaded.articles[c.doc_id]
        rows.append({
            "chunk_id": c.chunk_id,
            "doc_id": c.doc_id,
            "start": c.start,
            "end": c.end,
            "text": bm25.document(a.title, c.text),  # what BM25 reads (the rerank reads the sidecar's passages)
            "publisher": a.publisher or "",
            "published": a.published.toordinal() if a.published else -1,
            "dense": np.asarray(loaded.vectors[i], dtype=np.float32).tolist(),
        })
    return rows


def sync(target: MilvusTarget, loaded, force: bool = False) -> dict[str, int]:
    """Make the collection hold the passages of the sidecar index `loaded`: passages of new or changed articles are
    upserted, those of changed or removed articles deleted. A collection built with another model, encoder,
    cleaner or chunker (or `force`) is rebuilt from scratch.

    Returns:
        counts: articles upserted, articles deleted, passages written.
    """
    client = _client(target)
    new = _collection_manifest(loaded.manifest)
    exists = client.has_collection(target.collection)
    old = _stored_manifest(client, target.collection) if exists else None
    if exists and old is None and not force:
        raise BuildError(
            f"The collection {target.collection!r} at {target.client_uri} exists but holds no qa manifest: another "
            "program's collection, or a first qa build that was interrupted. Choose another collection name, or "
            f"replace it with `qa build --force --index {target.uri}`."
        )
    same_kind = old is not None and all(old.get(k) == new.get(k) for k in SHARED_KEYS + ("schema",) if k != "data_dir")
    if client.has_collection(target.collection) and (force or not same_kind):
        client.drop_collection(target.collection)
        old = None
    if not client.has_collection(target.collection):
        schema, index_params = _schema(client)
        client.create_collection(target.collection, schema=schema, index_params=index_params)
    before = (old or {}).get("articles", {})
    after = new["articles"]
    changed = {d for d, v in after.items() if before.get(d, {}).get("text_sha256") != v["text_sha256"]}
    removed = set(before) - set(after)
    stale = sorted((changed & set(before)) | removed)
    for lo in range(0, len(stale), 256):  # delete by article; a changed article's passages are replaced
        ids = json.dumps(stale[lo : lo + 256])
        client.delete(target.collection, filter=f"doc_id in {ids}")
    rows = _rows(loaded, changed)
    for lo in range(0, len(rows), INSERT_BATCH):
        client.upsert(target.collection, rows[lo : lo + INSERT_BATCH])
    client.flush(target.collection)
    client.alter_collection_properties(target.collection, properties={MANIFEST_PROPERTY: json.dumps(new, ensure_ascii=False)})
    client.load_collection(target.collection)
    client.close()
    release(target)
    return {"upserted": len(changed), "deleted": len(removed), "passages": len(rows)}


class Stage1:
    """Candidates for a question from the collection: the dense and the BM25 requests of a hybrid search, each with
    the filters as a scalar expression, returning raw scores so the fitted fusion of qa.retrieve applies as is."""

    def __init__(self, target: MilvusTarget, client, row_of: dict[str, int]):
        self.target, self.client, self.row_of = target, client, row_of

    @property
    def display(self) -> str:
        return self.target.uri

    def candidates(self, query: str, qvec: np.ndarray, n: int, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """(rows, BM25 scores aligned with rows: 0 for passages found only by the dense request)."""
        expr = filter_expression(filters)
        dense = self.client.search(
            self.target.collection, data=[np.asarray(qvec, dtype=np.float32).tolist()], anns_field="dense", limit=n,
            filter=expr, output_fields=["chunk_id"], search_params={"metric_type": "IP"},
        )[0]
        sparse = self.client.search(
            self.target.collection, data=[query], anns_field="sparse", limit=n, filter=expr,
            output_fields=["chunk_id"], search_params={"metric_type": "BM25"},
        )[0]
        kw: dict[int, float] = {}
        for h in sparse:
            row = self.row_of.get(h["entity"]["chunk_id"])
            if row is not None:
                kw[row] = abs(float(h["distance"]))  # Milvus Lite reports BM25 scores negated
        found = (self.row_of.get(h["entity"]["chunk_id"]) for h in dense)
        rows = {r for r in found if r is not None} | set(kw)
        out = np.array(sorted(rows), dtype=np.int64)
        return out, np.array([kw.get(int(r), 0.0) for r in out], dtype=np.float64)


def filter_expression(f: Filters) -> str:
    """Milvus boolean expression for the filters ('' when none)."""
    parts = []
    if f.publisher:
        parts.append(f"publisher in {json.dumps(list(f.publisher_names), ensure_ascii=False)}")
    if f.since or f.until:
        parts.append("published >= 0")
    if f.since:
        parts.append(f"published >= {f.since.toordinal()}")
    if f.until:
        parts.append(f"published <= {f.until.toordinal()}")
    return " and ".join(parts)


def load(target: MilvusTarget):
    """The sidecar index with stage 1 served by the collection, checked against the collection's manifest.

    Raises:
        IndexNotFoundError: no collection or no sidecar, naming `qa build --index URI`.
        IndexMismatchError: the collection and the sidecar come from different builds or settings.
    """
    from .index import load_index

    hint = f"Build it with `qa build --index {target.uri}`."
    client = _client(target)
    if not client.has_collection(target.collection):
        raise IndexNotFoundError(f"No collection {target.collection!r} in Milvus at {target.client_uri}. {hint}")
    stored = _stored_manifest(client, target.collection)
    if stored is None:
        raise IndexNotFoundError(f"The collection {target.collection!r} at {target.client_uri} holds no qa manifest (not built by qa, or a build was interrupted). {hint}")
    try:
        loaded = load_index(target.sidecar)
    except IndexNotFoundError as exc:
        raise IndexNotFoundError(f"The collection {target.uri} has no local sidecar at {target.sidecar} (the rerank's token codes and sentences). {hint}") from exc
    mine = _collection_manifest(loaded.manifest)
    for k in (*SHARED_KEYS, "articles"):
        if stored.get(k) != mine.get(k):
            raise IndexMismatchError(
                f"The Milvus collection {target.uri} and its sidecar {target.sidecar} disagree on {k!r} (built by "
                f"different versions or builds of qa). Rebuild both with `qa build --force --index {target.uri}`."
            )
    client.load_collection(target.collection)
    loaded.remote = Stage1(target, client, {c.chunk_id: i for i, c in enumerate(loaded.chunks)})
    return loaded
