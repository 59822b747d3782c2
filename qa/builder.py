"""seeds/ -> clean -> chunk -> embed -> index, re-embedding only articles whose text changed."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import bm25, config, tokens
from .chunk import chunk_article, split_sentences
from .clean import (CleanCache, articles_and_skipped, clean_results, cleaner_version, fork_context, list_seed_files,
                    usable_cores)
from .embed import encoder_identity
from .errors import BuildError, BuildLockedError, IndexError_
from .index import LoadedIndex, NeedsRewrite, chunker_settings, load_index, text_hash, update_index, write_index
from .tokens import TokenBlock
from .types import Article, BuildReport, Chunk, Skipped

ENCODE_SLICE = 1024  # passages encoded, then compressed, at a time

log = logging.getLogger(__name__)


def _seed_paths(seeds: Path) -> tuple[list[Path], list[Skipped]]:
    if not seeds.exists():
        raise BuildError(f"The seeds folder {seeds} does not exist. Create it and put article files (.txt, .html, "
                         ".md, .mhtml, .json, .jsonl) in it.")
    if not seeds.is_dir():
        raise BuildError(f"{seeds} is not a folder. Pass the folder holding the article files with --seeds.")
    paths, skipped = [], []
    try:
        files = list_seed_files(seeds, skipped)
        root = seeds.resolve()
    except OSError as exc:
        raise BuildError(f"Cannot read the seeds folder {seeds}: {exc.strerror or exc}.") from exc
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


def _unchanged(old_manifest: dict, articles: list[Article], hashes: dict[str, str]) -> bool:
    old = old_manifest.get("articles", {})
    return (
        old_manifest.get("cleaner_version") == cleaner_version()
        and old_manifest.get("chunker") == chunker_settings()
        and old_manifest.get("keyword") == bm25.settings()
        and set(old) == {a.doc_id for a in articles}
        and all(
            old[a.doc_id].get("content_sha256") == hashes[a.doc_id] and old[a.doc_id].get("text_sha256") == text_hash(a)
            for a in articles
        )
    )


_Item = tuple[list[str], list[str], list[int]]  # an article to encode: passage texts, sentence texts, passage offsets


@dataclass
class _Encoded:
    """One article's vectors: its passages', its sentences', and its passages' compressed token vectors."""

    vectors: np.ndarray
    sentence_vectors: np.ndarray
    tokens: TokenBlock


def _previous_index(out: Path) -> LoadedIndex | None:
    try:
        return load_index(out)
    except IndexError_ as exc:
        if (out / "manifest.json").exists():
            log.warning("previous index unusable, re-encoding everything: %s", exc)
    return None


def _reusable(old: LoadedIndex, wanted: set[str] | None = None) -> dict[str, tuple[list[str], _Encoded]]:
    """What the previous index holds for each live article (or only those whose text hash is in `wanted`), by the
    hash of its cleaned text."""
    out = {}
    for doc_id, n in old.doc_numbers.items():
        h = old.manifest["articles"][doc_id]["text_sha256"]
        if wanted is not None and h not in wanted:
            continue
        # passages and sentences are stored in article record order
        lo, hi = np.searchsorted(old.chunk_docs, [n, n + 1])
        r = list(range(int(lo), int(hi)))
        slo, shi = np.searchsorted(old.sentences[:, 0], [n, n + 1])
        out[h] = (
            [old.chunks[i].text for i in r],
            _Encoded(np.asarray(old.vectors[r]), np.asarray(old.sentence_vectors[slo:shi]), old.tokens.block(r)),
        )
    return out


def _pieces(article: Article) -> tuple[list[Chunk], list[tuple[int, int]]]:
    """An article's passages and sentence spans."""
    return chunk_article(article), split_sentences(article.text)


class _Serial:
    """Runs the build's per-item steps in this process (qa.cluster_build.RayRunner runs them on a Ray cluster)."""

    def __init__(self, progress: bool):
        self.progress = progress

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def map(self, fn, items: list) -> list:
        return [fn(x) for x in items]

    def encode(self, items: list[_Item]) -> list[_Encoded]:
        return _encode_new(items, self.progress and len(items) > config.PROGRESS_MIN_ARTICLES)


def _encode_articles(articles: list[Article], reusable: dict, runner):
    """Chunk every article and split it into sentences; encode those of articles not found in `reusable`.

    Returns:
        (passages, sentence rows (article number, start, end), an _Encoded per article, reused ids, encoded ids).
    """
    all_chunks: list[Chunk] = []
    sentences: list[tuple[int, int, int]] = []
    plan: list[tuple[_Item, _Encoded | None]] = []  # what to encode, or what is reused
    reused, embedded = [], []
    for n, (a, (chunks, spans)) in enumerate(zip(articles, runner.map(_pieces, articles))):
        prev = reusable.get(text_hash(a))
        if prev is not None and prev[0] == [c.text for c in chunks] and len(prev[1].sentence_vectors) == len(spans):
            reused.append(a.doc_id)
            plan.append((([], [], []), prev[1]))
        else:
            embedded.append(a.doc_id)
            plan.append((([c.text for c in chunks], [a.text[s:e] for s, e in spans], [c.start for c in chunks]), None))
        all_chunks.extend(chunks)
        sentences += [(n, s, e) for s, e in spans]
    fresh = iter(runner.encode([item for item, prev in plan if prev is None]))
    encoded = [prev if prev is not None else next(fresh) for _, prev in plan]
    return all_chunks, np.array(sentences, dtype=np.int64).reshape(-1, 3), encoded, reused, embedded


def _encode_new(items: list[_Item], progress: bool) -> list[_Encoded]:
    """Encode the passages (one forward pass each: vector and token vectors) and sentences of these articles,
    given as (passage texts, sentence texts, passage offsets in the article) per article."""
    if not items:
        return []
    from .embed import encode_passages, encode_sentences, progress_bar

    passages = [p for texts, _, _ in items for p in texts]
    sentences = [s for _, sents, _ in items for s in sents]
    # each passage's offset in its article and its article, for the codes passages share (qa.tokens.share)
    sizes = [len(texts) for texts, _, _ in items]
    starts = np.asarray([x for _, _, st in items for x in st], dtype=np.int64)
    article = np.repeat(np.arange(len(items)), sizes)
    # A sentence that is a whole passage has that passage's vector (the same text in the same pass), and a sentence
    # the folder repeats is encoded once: about a tenth of the sentences of the development folder.
    as_passage = {t: i for i, t in enumerate(passages)}
    todo = list(dict.fromkeys(t for t in sentences if t not in as_passage))
    bar = progress_bar(len(passages) + len(todo), "encoding", progress)
    try:
        workers = _encode_workers(len(passages) + len(todo))
        if workers > 1:
            vectors, blocks, encoded = _encode_on_processes(passages, todo, sizes, starts, article, workers, bar)
        else:
            vectors, blocks = [], []
            for lo, hi in _article_slices(sizes, ENCODE_SLICE):  # compress as we go: float32 tokens are 4x their codes
                pt = encode_passages(passages[lo:hi], bar=bar)
                vectors.append(pt.vectors)
                blocks.append(tokens.compress(pt.states, pt.ids, pt.spans, pt.lengths, starts[lo:hi], article[lo:hi]))
            encoded = encode_sentences(todo, bar=bar)
    finally:
        if bar is not None:
            bar.close()
    passage_vectors = np.vstack(vectors) if vectors else np.zeros((0, config.MODEL_DIM), np.float32)
    row = {t: i for i, t in enumerate(todo)}
    sentence_vectors = np.zeros((len(sentences), config.MODEL_DIM), np.float32)
    for i, t in enumerate(sentences):
        sentence_vectors[i] = passage_vectors[as_passage[t]] if t in as_passage else encoded[row[t]]
    block = TokenBlock.concat(blocks)
    out, p, s = [], 0, 0
    for texts, sents, _ in items:
        out.append(_Encoded(passage_vectors[p : p + len(texts)], sentence_vectors[s : s + len(sents)],
                            block.passages(p, p + len(texts))))
        p += len(texts)
        s += len(sents)
    return out


def _article_slices(sizes: list[int], at_least: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges of passages holding whole articles, each of at least `at_least` passages but the last: the
    codes of a group of tokens (qa.tokens.share) never span two slices."""
    out, lo, hi = [], 0, 0
    for n in sizes:
        hi += n
        if hi - lo >= at_least:
            out.append((lo, hi))
            lo = hi
    if hi > lo:
        out.append((lo, hi))
    return out


def _encode_workers(texts: int) -> int:
    """Encoder processes for this many texts: one a core ($QA_ENCODE_PROCESSES overrides), each on one thread, from
    config.PARALLEL_ENCODE_MIN_TEXTS texts. Two single-threaded processes encode 1.4x faster than one process on two
    threads (README, building); the int8 model's constant scales make the vectors the same either way."""
    if texts < config.PARALLEL_ENCODE_MIN_TEXTS:
        return 1
    env = os.environ.get("QA_ENCODE_PROCESSES")
    return max(1, min(int(env), config.CLEAN_MAX_WORKERS)) if env else usable_cores()


def _encode_slice(job: tuple[str, list[str]]):
    """In an encoder process: a slice of passages -> their PassageTokens, or of sentences -> vectors. The token
    vectors are compressed in the parent: faiss runs on OpenMP, whose thread pool hangs a forked child once the
    parent has used it."""
    from .embed import encode_passages, encode_sentences

    kind, texts = job
    return encode_sentences(texts) if kind == "sentences" else encode_passages(texts)


def _single_threaded_encoder() -> None:
    """Initialise an encoder process: one encoder thread. It makes its own ONNX Runtime session (qa.onnx_runtime
    keys its sessions by process), and a lock another thread of the parent held at the fork is replaced."""
    import threading

    from . import embed

    os.environ["QA_ENCODE_THREADS"] = "1"
    embed._lock = threading.Lock()


def _encode_on_processes(passages: list[str], sentences: list[str], sizes: list[int], starts: np.ndarray,
                         article: np.ndarray, workers: int, bar):
    """Encode passages (vectors and compressed tokens) and sentences in slices on `workers` processes; returns what
    the single-process loop returns, in the same order. `sizes` are the articles' passage counts, `starts` and
    `article` each passage's offset in its article and its article's number."""
    from concurrent.futures import ProcessPoolExecutor

    step = max(1, ENCODE_SLICE // 8)  # small slices keep both processes busy to the end
    slices = _article_slices(sizes, step)
    jobs = [("passages", passages[lo:hi]) for lo, hi in slices]
    jobs += [("sentences", sentences[lo : lo + 4 * step]) for lo in range(0, len(sentences), 4 * step)]
    vectors, blocks, sentence_vectors, at = [], [], [], iter(slices)
    with ProcessPoolExecutor(workers, mp_context=fork_context(), initializer=_single_threaded_encoder) as pool:
        for (kind, texts), out in zip(jobs, pool.map(_encode_slice, jobs)):
            if kind == "sentences":
                sentence_vectors.append(out)
            else:
                lo, hi = next(at)
                vectors.append(out.vectors)
                blocks.append(tokens.compress(out.states, out.ids, out.spans, out.lengths, starts[lo:hi],
                                              article[lo:hi]))
            if bar is not None:
                bar.update(len(texts))
    encoded = np.vstack(sentence_vectors) if sentence_vectors else np.zeros((0, config.MODEL_DIM), np.float32)
    return vectors, blocks, encoded


def _keep_the_sample_index(seeds_dir, index_dir, target) -> None:
    """Refuse to build another folder into the repository's sample index (embeddings/, of seeds/) when no index was
    named: `qa build --seeds ~/articles` would replace it without a word."""
    if index_dir is not None or not isinstance(target, Path):
        return
    seeds = config.seeds_dir(seeds_dir)
    try:
        sample = target.resolve() == config.DEFAULT_INDEX_DIR.resolve()
        other = seeds.resolve() != config.DEFAULT_SEEDS_DIR.resolve()
    except (OSError, RuntimeError):
        return
    if sample and other:
        raise BuildError(
            f"No index folder was given, and the default {config.DEFAULT_INDEX_DIR} holds the sample index of "
            f"{config.DEFAULT_SEEDS_DIR}: building {seeds} there would replace it. Give this folder's index a "
            "place of its own with --index DIR (index_dir= in Python), or set QA_INDEX_DIR."
        )


def build(seeds_dir=None, index_dir=None, *, force: bool = False, progress: bool = False, ray=None) -> BuildReport:
    """Build or update the index from a folder of articles.

    Args:
        seeds_dir: folder of .txt/.html/.md/.mhtml/.json/.jsonl articles (default: the repository's seeds/).
        index_dir: where to write the index (default: the repository's embeddings/).
        force: re-embed every article even when its text is unchanged.
        progress: show progress bars (with an ETA) while cleaning and embedding many articles.
        ray: a qa.RayBuild to read, clean, chunk and encode on a Ray cluster (the index is written here, as
            without it); None builds in this process.

    Returns:
        A BuildReport: counts of articles and passages, which were re-used or embedded, what was skipped and why.

    Raises:
        BuildError: the seeds folder is missing or holds no usable article, or the index folder is not writable;
            with `ray`, the Ray extra is missing, the cluster is unreachable, or a worker failed for good.
        BuildLockedError: another build is writing the same index.
    """
    t0 = time.perf_counter()
    target = config.index_target(index_dir)
    _keep_the_sample_index(seeds_dir, index_dir, target)
    if isinstance(target, str):
        return _build_milvus(target, seeds_dir, force, progress, t0, ray)
    return _build_folder(seeds_dir, target, force, progress, ray, t0, append=True)


def _build_folder(seeds_dir, out: Path, force: bool, progress: bool, ray, t0: float, append: bool) -> BuildReport:
    """`build` into a folder. `append`: an update may append to the previous index instead of re-writing it."""
    seeds = config.seeds_dir(seeds_dir)
    paths, skipped = _seed_paths(seeds)
    if ray is None:
        runner = _Serial(progress)
    else:
        from .cluster_build import RayRunner  # imports ray only now

        runner = RayRunner(ray, progress)
    with runner:
        return _build(seeds, out, paths, skipped, runner, force, progress, t0, append)


def _build(seeds: Path, out: Path, paths: list[Path], skipped: list[Skipped], runner, force: bool, progress: bool,
           t0: float, append: bool = True) -> BuildReport:
    from filelock import FileLock, Timeout

    # in this process a big folder is cleaned on every core (qa.clean); on Ray, page by page across the cluster
    # pages whose cleaning depends on nothing that changed since the last build are taken from its cache
    cache = CleanCache(out, ignore=force)
    results = clean_results(paths, None if isinstance(runner, _Serial) else runner.map, progress, cache, seeds)
    articles, bad = articles_and_skipped(results)
    skipped += bad
    if not articles:
        reasons = ("; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped)
                   or "no .txt, .html, .md, .mhtml, .json or .jsonl files")
        raise BuildError(f"No usable article in {seeds} ({reasons}).")
    # the digest of what each article was read from (its file, or its record of a JSON file), taken when it was read
    by_source = {r.article.source: r.sha256 for r in results if r.article is not None}
    hashes = {a.doc_id: by_source.get(a.source) for a in articles}

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
        report = _write(out, articles, hashes, runner, skipped, force, append, t0)
        cache.save()  # only once the index is written: a failed build leaves the folder as it was
        return report
    finally:
        lock.release()


def _write(out: Path, articles: list[Article], hashes: dict[str, str], runner, skipped: list[Skipped], force: bool,
           append: bool, t0: float) -> BuildReport:
    """Bring the index in `out` in line with the cleaned articles: nothing to do, an update, or a whole write."""
    old = _previous_index(out)
    # articles of the previous index no longer in the folder: their passages go with this build
    gone = () if old is None else tuple(sorted(set(old.manifest.get("articles", {})) - {a.doc_id for a in articles}))
    new = () if old is None else tuple(sorted({a.doc_id for a in articles} - set(old.manifest.get("articles", {}))))
    if old is not None and not force and _unchanged(old.manifest, articles, hashes):
        return BuildReport(str(out), len(articles), old.manifest["passages"], tuple(a.doc_id for a in articles), (), tuple(skipped), time.perf_counter() - t0, False)
    compatible = old is not None and not force and old.manifest.get("chunker") == chunker_settings()
    if compatible and append:
        report = _update(out, old, articles, hashes, runner, skipped, t0)
        if report is not None:
            return replace(report, removed=gone, added=new)
    reusable = _reusable(old) if compatible else {}
    del old  # its memory maps; the full write below replaces its files
    chunks, sentences, encoded, reused, embedded = _encode_articles(articles, reusable, runner)
    try:
        write_index(
            out, articles, chunks, np.vstack([e.vectors for e in encoded]), hashes, sentences,
            np.vstack([e.sentence_vectors for e in encoded]), TokenBlock.concat([e.tokens for e in encoded]),
            encoder_identity(), cleaner_version=cleaner_version(),
        )
    except OSError as exc:
        # Read-only folder or file system, disk full, quota: write_index has already removed its partial files.
        raise BuildError(f"Cannot write the index folder {out}: {exc.strerror or exc}. Choose another with --index.") from exc
    return BuildReport(str(out), len(articles), len(chunks), tuple(reused), tuple(embedded), tuple(skipped),
                       time.perf_counter() - t0, True, gone, new)


def _update(out: Path, old: LoadedIndex, articles: list[Article], hashes: dict[str, str], runner,
            skipped: list[Skipped], t0: float) -> BuildReport | None:
    """Update the previous index in place (qa.index.update_index): articles whose cleaned form is unchanged keep
    their passages, the others' are marked deleted and the new or changed ones appended. None when a whole
    re-write is due instead: the deleted passages would pass config.COMPACT_DEAD_SHARE of the index (the re-write
    reclaims their space), or the update cannot be appended."""
    kept = [a.doc_id for a in articles if old.articles.get(a.doc_id) == a]
    kept_set = set(kept)
    added = [a for a in articles if a.doc_id not in kept_set]
    m = old.manifest
    dead = m["rows"] - m["passages"] + sum(m["articles"][d]["passages"] for d in old.articles if d not in kept_set)
    if dead > config.COMPACT_DEAD_SHARE * max(m["rows"], 1):
        return None
    reusable = _reusable(old, {text_hash(a) for a in added})
    chunks, sentences, encoded, reused, embedded = _encode_articles(added, reusable, runner)
    none = np.zeros((0, config.MODEL_DIM), np.float32)
    try:
        manifest = update_index(
            out, old, kept, added, chunks, np.vstack([none, *(e.vectors for e in encoded)]), hashes, sentences,
            np.vstack([none, *(e.sentence_vectors for e in encoded)]), TokenBlock.concat([e.tokens for e in encoded]),
            cleaner_version=cleaner_version(),
        )
    except NeedsRewrite as exc:
        log.info("re-writing the index whole: %s", exc)
        return None
    except OSError as exc:
        raise BuildError(f"Cannot write the index folder {out}: {exc.strerror or exc}. Choose another with --index.") from exc
    return BuildReport(str(out), len(articles), manifest["passages"], tuple(kept + reused), tuple(embedded), tuple(skipped),
                       time.perf_counter() - t0, True)


def _build_milvus(uri: str, seeds_dir, force: bool, progress: bool, t0: float, ray=None) -> BuildReport:
    """Build the sidecar folder as an embedded index (re-using unchanged articles), then bring the collection in
    line with it: upsert the passages of new and changed articles, delete those of changed and removed ones."""
    from . import milvus_index

    try:
        milvus = milvus_index.parse(uri)
    except ValueError as exc:
        raise BuildError(str(exc)) from exc
    # the sidecar is written whole, never appended to: the collection's rows mirror its passages one to one
    report = _build_folder(seeds_dir, milvus.sidecar, force, progress, ray, t0, append=False)
    counts = milvus_index.sync(milvus, load_index(milvus.sidecar), force=force)
    changed = report.changed or counts["upserted"] > 0 or counts["deleted"] > 0
    return replace(report, index_dir=uri, changed=changed, seconds=time.perf_counter() - t0)
