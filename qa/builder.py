"""seeds/ -> clean -> chunk -> embed -> index, re-embedding only articles whose text changed."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from . import config
from .chunk import chunk_article
from .clean import clean_collection, list_seed_files, read_seed
from .errors import BuildError, BuildLockedError, IndexError_
from .index import load_index, text_hash, write_index
from .types import Article, BuildReport, Chunk, Skipped

log = logging.getLogger(__name__)


def _seed_paths(seeds: Path) -> tuple[list[Path], list[Skipped]]:
    if not seeds.exists():
        raise BuildError(f"The seeds folder {seeds} does not exist. Create it and put article files (.txt, .html) in it.")
    if not seeds.is_dir():
        raise BuildError(f"{seeds} is not a folder. Pass the folder holding the article files with --seeds.")
    paths, skipped = [], []
    root = seeds.resolve()
    for p in list_seed_files(seeds):
        if p.is_symlink():
            target = p.resolve()
            if not target.is_relative_to(root):
                skipped.append(Skipped(str(p), f"symlink to {target}, outside the seeds folder"))
                continue
        if not p.is_file():
            skipped.append(Skipped(str(p), "not a regular file"))
            continue
        paths.append(p)
    return paths, skipped


def _unchanged(old_manifest: dict, articles: list[Article], hashes: dict[str, str]) -> bool:
    old = old_manifest.get("articles", {})
    return (
        old_manifest.get("cleaner_version") == config.CLEANER_VERSION
        and old_manifest.get("chunker_version") == config.CHUNKER_VERSION
        and set(old) == {a.doc_id for a in articles}
        and all(
            old[a.doc_id].get("content_sha256") == hashes[a.doc_id] and old[a.doc_id].get("text_sha256") == text_hash(a)
            for a in articles
        )
    )


def build(seeds_dir=None, index_dir=None, *, force: bool = False, progress: bool = False) -> BuildReport:
    """Build or update the index from a folder of articles.

    Args:
        seeds_dir: folder of .txt/.html articles (default: the repository's seeds/).
        index_dir: where to write the index (default: the repository's embeddings/).
        force: re-embed every article even when its text is unchanged.
        progress: show a progress bar while embedding many articles.

    Returns:
        A BuildReport: counts of articles and passages, which were re-used or embedded, what was skipped and why.

    Raises:
        BuildError: the seeds folder is missing or holds no usable article, or the index folder is not writable.
        BuildLockedError: another build is writing the same index.
    """
    from filelock import FileLock, Timeout

    t0 = time.perf_counter()
    seeds = config.seeds_dir(seeds_dir)
    out = config.index_dir(index_dir)
    paths, skipped = _seed_paths(seeds)
    articles, bad = clean_collection(paths)
    skipped += bad
    if not articles:
        reasons = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped) or "no .txt or .html files"
        raise BuildError(f"No usable article in {seeds} ({reasons}).")
    hashes = {}
    for p in paths:
        r = read_seed(p)
        if not isinstance(r, Skipped):
            hashes[r.doc_id] = r.sha256

    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out / ".lock"), timeout=0)
        lock.acquire()
    except Timeout as exc:
        raise BuildLockedError(f"Another `qa build` is writing {out}; wait for it to finish and try again.") from exc
    except OSError as exc:
        raise BuildError(f"Cannot write the index folder {out}: {exc.strerror or exc}. Choose another with --index.") from exc
    try:
        old = None
        try:
            old = load_index(out)
        except IndexError_ as exc:
            if (out / "manifest.json").exists():
                log.warning("previous index unusable, rebuilding everything: %s", exc)
        if old is not None and not force and _unchanged(old.manifest, articles, hashes):
            return BuildReport(str(out), len(articles), old.manifest["passages"], tuple(a.doc_id for a in articles), (), tuple(skipped), time.perf_counter() - t0, False)

        # Reuse vectors of any article whose cleaned text was embedded before with the same chunker.
        reusable: dict[str, tuple[list[Chunk], np.ndarray]] = {}
        if old is not None and not force and old.manifest.get("chunker_version") == config.CHUNKER_VERSION:
            rows: dict[str, list[int]] = {}
            for i, c in enumerate(old.chunks):
                rows.setdefault(c.doc_id, []).append(i)
            for doc_id, a in old.articles.items():
                if doc_id in rows:
                    reusable[text_hash(a)] = ([old.chunks[i] for i in rows[doc_id]], np.asarray(old.vectors[rows[doc_id]]))

        all_chunks: list[Chunk] = []
        parts: list[np.ndarray | None] = []
        to_embed: list[Chunk] = []
        reused, embedded = [], []
        for a in articles:
            chunks = chunk_article(a)
            prev = reusable.get(text_hash(a))
            if prev is not None and [c.text for c in prev[0]] == [c.text for c in chunks]:
                parts.append(prev[1])
                reused.append(a.doc_id)
            else:
                parts.append(None)
                to_embed.extend(chunks)
                embedded.append(a.doc_id)
            all_chunks.extend(chunks)
        new_vecs = None
        if to_embed:
            from .embed import encode_documents

            new_vecs = encode_documents([c.text for c in to_embed], progress=progress and len(embedded) > config.PROGRESS_MIN_ARTICLES)
        blocks, pos = [], 0
        for a, part in zip(articles, parts):
            if part is None:
                n = sum(1 for c in all_chunks if c.doc_id == a.doc_id)
                part = new_vecs[pos : pos + n]
                pos += n
            blocks.append(part)
        vectors = np.vstack(blocks) if blocks else np.zeros((0, config.MODEL_DIM), np.float32)
        try:
            write_index(out, articles, all_chunks, vectors.astype(np.float32), hashes)
        except PermissionError as exc:
            raise BuildError(f"Cannot write the index folder {out}: {exc.strerror}. Choose another with --index.") from exc
        return BuildReport(str(out), len(articles), len(all_chunks), tuple(reused), tuple(embedded), tuple(skipped), time.perf_counter() - t0, True)
    finally:
        lock.release()
