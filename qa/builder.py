"""seeds/ -> clean -> chunk -> embed -> index, re-embedding only articles whose text changed."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from . import config
from .chunk import chunk_article, split_sentences
from .clean import clean_collection, cleaner_version, list_seed_files, read_seed
from .errors import BuildError, BuildLockedError, IndexError_
from .index import chunker_settings, load_index, text_hash, write_index
from .types import Article, BuildReport, Chunk, Skipped

log = logging.getLogger(__name__)


def _seed_paths(seeds: Path) -> tuple[list[Path], list[Skipped]]:
    if not seeds.exists():
        raise BuildError(f"The seeds folder {seeds} does not exist. Create it and put article files (.txt, .html) in it.")
    if not seeds.is_dir():
        raise BuildError(f"{seeds} is not a folder. Pass the folder holding the article files with --seeds.")
    try:
        files = list_seed_files(seeds)
        root = seeds.resolve()
    except OSError as exc:
        raise BuildError(f"Cannot read the seeds folder {seeds}: {exc.strerror or exc}.") from exc
    paths, skipped = [], []
    for p in files:
        if p.is_symlink():
            try:
                target = p.resolve(strict=True)
            except (OSError, RuntimeError):  # dangling, or a loop (RuntimeError before Python 3.13)
                skipped.append(Skipped(str(p), "broken symlink"))
                continue
            if not target.is_relative_to(root):
                skipped.append(Skipped(str(p), f"symlink to {target}, outside the seeds folder"))
                continue
        if not p.is_file():
            skipped.append(Skipped(str(p), "not a regular file"))
            continue
        paths.append(p)
    return paths, skipped


def _unique_ids(articles: list[Article], seeds: Path) -> tuple[list[Article], list[Skipped]]:
    """Keep the first article per id: `a.txt` and `a.html` would both be article `a`, and one would silently
    replace the other's text under the first one's passages."""
    kept: dict[str, Article] = {}
    clashes = []
    for a in articles:
        first = kept.setdefault(a.doc_id, a)
        if first is not a:
            clashes.append(
                Skipped(str(seeds / a.source), f"same article id {a.doc_id!r} as {first.source}; rename one of them")
            )
    return list(kept.values()), clashes


def _unchanged(old_manifest: dict, articles: list[Article], hashes: dict[str, str]) -> bool:
    old = old_manifest.get("articles", {})
    return (
        old_manifest.get("cleaner_version") == cleaner_version()
        and old_manifest.get("chunker") == chunker_settings()
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
    articles, clashes = _unique_ids(articles, seeds)
    skipped += clashes
    if not articles:
        reasons = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped) or "no .txt or .html files"
        raise BuildError(f"No usable article in {seeds} ({reasons}).")
    sources = {a.source for a in articles}
    by_name = {}
    for p in paths:
        if p.name in sources:
            r = read_seed(p)
            if not isinstance(r, Skipped):
                by_name[p.name] = r.sha256
    hashes = {a.doc_id: by_name.get(a.source) for a in articles}

    if out.exists() and not out.is_dir():
        raise BuildError(f"The index path {out} is a file, not a folder. Choose another with --index.")
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
        reusable: dict[str, tuple] = {}
        if old is not None and not force and old.manifest.get("chunker") == chunker_settings():
            rows: dict[str, list[int]] = {}
            for i, c in enumerate(old.chunks):
                rows.setdefault(c.doc_id, []).append(i)
            for n, doc_id in enumerate(old.order):
                srows = np.flatnonzero(old.sentences[:, 0] == n)
                if doc_id in rows:
                    texts = [old.chunks[i].text for i in rows[doc_id]]
                    toks = None
                    if old.tokens is not None:
                        toks = [(np.asarray(old.tokens.passage(i)), np.asarray(old.tokens.ids[old.tokens.offsets[i] : old.tokens.offsets[i + 1]])) for i in rows[doc_id]]
                    reusable[text_hash(old.articles[doc_id])] = (
                        texts, np.asarray(old.vectors[rows[doc_id]]), np.asarray(old.sentence_vectors[srows]), toks
                    )

        all_chunks: list[Chunk] = []
        sentences: list[tuple[int, int, int]] = []
        plan: list[tuple[list[Chunk], list[tuple[int, int]], tuple | None]] = []
        texts_to_embed: list[str] = []
        reused, embedded = [], []
        for n, a in enumerate(articles):
            chunks = chunk_article(a)
            spans = split_sentences(a.text)
            prev = reusable.get(text_hash(a))
            if prev is not None and prev[0] == [c.text for c in chunks] and len(prev[2]) == len(spans):
                reused.append(a.doc_id)
            else:
                prev = None
                texts_to_embed += [c.text for c in chunks] + [a.text[s:e] for s, e in spans]
                embedded.append(a.doc_id)
            plan.append((chunks, spans, prev))
            all_chunks.extend(chunks)
            sentences += [(n, s, e) for s, e in spans]
        new_vecs = np.zeros((0, config.MODEL_DIM), np.float32)
        if texts_to_embed:
            from .embed import encode_documents

            new_vecs = encode_documents(texts_to_embed, progress=progress and len(embedded) > config.PROGRESS_MIN_ARTICLES)
        chunk_blocks, sent_blocks, pos = [], [], 0
        for chunks, spans, prev in plan:
            if prev is None:
                chunk_blocks.append(new_vecs[pos : pos + len(chunks)])
                pos += len(chunks)
                sent_blocks.append(new_vecs[pos : pos + len(spans)])
                pos += len(spans)
            else:
                chunk_blocks.append(prev[1])
                sent_blocks.append(prev[2])
        token_states = None
        if len(all_chunks) <= config.LATE_INTERACTION_MAX_PASSAGES:
            from .embed import encode_passage_tokens

            token_states = []
            for chunks, _, prev in plan:
                if prev is not None and prev[3] is not None:
                    token_states += prev[3]
                else:
                    token_states += encode_passage_tokens([c.text for c in chunks])
        empty = np.zeros((0, config.MODEL_DIM), np.float32)
        vectors = np.vstack(chunk_blocks) if chunk_blocks else empty
        sentence_vectors = np.vstack(sent_blocks) if sent_blocks else empty
        try:
            write_index(
                out, articles, all_chunks, vectors, hashes, np.array(sentences, dtype=np.int64), sentence_vectors,
                token_states, vocab_size=config.MODEL_VOCAB, cleaner_version=cleaner_version(),
            )
        except OSError as exc:
            # Read-only folder or file system, disk full, quota: write_index has already removed its partial files.
            raise BuildError(f"Cannot write the index folder {out}: {exc.strerror or exc}. Choose another with --index.") from exc
        return BuildReport(str(out), len(articles), len(all_chunks), tuple(reused), tuple(embedded), tuple(skipped), time.perf_counter() - t0, True)
    finally:
        lock.release()
