"""How the index scales: synthetic corpora of 10k, 100k and 1M passages, built and searched with the project's code.

Run: .venv/bin/python bench/scale.py [--sizes 10k,100k,1m] [--queries 200] [--workdir /tmp] [--keep]

Each size is built by qa.index.write_index (FAISS, BM25, sentence store, manifest) into a temporary folder, in
its own process, then loaded by qa.index.load_index in a fresh process that measures resident memory, dense and
hybrid search latency (qa.retrieve's search() with precomputed query vectors, so the encoder is excluded) and
dense recall@10 against exact search. Prints markdown tables.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import config  # noqa: E402
from qa.settings import Settings  # noqa: E402

SEED = 1234
VOCAB_WORDS = 60_000  # distinct content words, plus English stopwords at the top of the frequency ranks
ZIPF_S = 1.0
BETA, GAMMA = 1.0, 0.4  # within-cluster spread along the real MiniLM covariance, and an isotropic floor
PUBLISHERS = 20
TARGET_WORDS = 70  # passages of whole sentences, one sentence of overlap, like qa.chunk
DATA_NOTE = f"""Synthetic data (seed {SEED}):
- text: sentences of 8-30 words drawn from a Zipfian vocabulary (s={ZIPF_S}) of bm25s' English stopwords followed by
  {VOCAB_WORDS:,} generated words; articles of 3-16 passages of >= {TARGET_WORDS} words with one sentence of overlap;
  {PUBLISHERS} publishers with Zipfian shares, dates 2020-2024. Queries: 5 words of a random passage.
- vectors: a mixture of Gaussian clusters (N/250, 200..4000) whose centres and spread follow the mean and
  covariance of the project's real MiniLM passage and sentence vectors (embeddings/), plus a small isotropic part,
  L2-normalised; an article's passages share a cluster, sentences are perturbed passages. Query vectors are fresh
  draws from the same mixture (typical cosine to the nearest passage ~0.7, as for real questions)."""


# ---------------------------------------------------------------------------
# Synthetic data


class Vectors:
    """Clustered unit vectors shaped like real MiniLM vectors."""

    def __init__(self, mu: np.ndarray, std: np.ndarray, basis: np.ndarray, centres: np.ndarray):
        self.mu, self.std, self.basis, self.centres = mu, std, basis, centres

    @classmethod
    def fit(cls, real: np.ndarray, clusters: int, rng: np.random.Generator) -> "Vectors":
        mu = real.mean(0)
        _, s, vt = np.linalg.svd(real - mu, full_matrices=False)
        std = (s / np.sqrt(len(real) - 1)).astype(np.float32)
        v = cls(mu.astype(np.float32), std, vt.astype(np.float32), np.zeros((0, real.shape[1]), np.float32))
        v.centres = mu + v._gauss(clusters, 1.0, rng)
        return v

    def _gauss(self, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
        return (rng.standard_normal((n, len(self.std)), dtype=np.float32) * (self.std * scale)) @ self.basis

    def around(self, points: np.ndarray, beta: float, rng: np.random.Generator) -> np.ndarray:
        n, d = points.shape
        x = points + self._gauss(n, beta, rng) + GAMMA * rng.standard_normal((n, d), dtype=np.float32) / np.sqrt(d)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def draw(self, labels: np.ndarray, rng: np.random.Generator, beta: float = BETA) -> np.ndarray:
        out = np.empty((len(labels), self.centres.shape[1]), np.float32)
        for s in range(0, len(labels), 100_000):
            out[s : s + 100_000] = self.around(self.centres[labels[s : s + 100_000]], beta, rng)
        return out


def vocabulary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Words by frequency rank, the cumulative Zipf distribution over them, and how many are stopwords."""
    from bm25s.stopwords import STOPWORDS_EN

    stop = list(dict.fromkeys(w for w in STOPWORDS_EN if w.isalpha()))
    cons, vows = list("bcdfghjklmnprstvwz"), list("aeiou")
    words: set[str] = set(stop)
    out = list(stop)
    while len(out) < len(stop) + VOCAB_WORDS:
        n = int(rng.integers(2, 4))
        w = "".join(cons[int(rng.integers(len(cons)))] + vows[int(rng.integers(len(vows)))] for _ in range(n))
        if rng.random() < 0.4:
            w += cons[int(rng.integers(len(cons)))]
        if w not in words:
            words.add(w)
            out.append(w)
    p = 1.0 / np.arange(1, len(out) + 1) ** ZIPF_S
    return np.array(out, dtype=object), np.cumsum(p / p.sum()), len(stop)


def make_corpus(n_passages: int, rng: np.random.Generator):
    """Articles, passages (exact offsets) and sentence rows, like qa.chunk produces them."""
    from qa.types import Article, Chunk

    vocab, cdf, n_stop = vocabulary(rng)
    pubs = [f"Publisher {i:02d}" for i in range(PUBLISHERS)]
    pub_p = 1.0 / np.arange(1, PUBLISHERS + 1)
    pub_p /= pub_p.sum()
    words = np.zeros(0, np.int64)
    cursor = 0

    def take(n: int) -> np.ndarray:
        nonlocal words, cursor
        if cursor + n > len(words):
            words, cursor = np.searchsorted(cdf, rng.random(4_000_000)), 0
        cursor += n
        return words[cursor - n : cursor]

    articles, chunks, sentences, article_of_chunk = [], [], [], []
    while len(chunks) < n_passages:
        doc_id = f"a{len(articles):07d}"
        want = min(int(rng.integers(3, 17)), n_passages - len(chunks))
        sent_text, sent_len = [], []
        spans = []  # passage = sentences [s0, s1)
        s0 = 0
        while len(spans) < want:
            j, n_words = s0, 0
            while n_words < TARGET_WORDS:
                if j == len(sent_text):
                    length = int(rng.integers(8, 31))
                    s = " ".join(vocab[take(length)])
                    sent_text.append(s[0].upper() + s[1:] + ".")
                    sent_len.append(length)
                n_words += sent_len[j]
                j += 1
            spans.append((s0, j))
            s0 = j - 1 if j - 1 > s0 else j
        text = " ".join(sent_text)
        starts = np.cumsum([0] + [len(s) + 1 for s in sent_text[:-1]])
        ends = starts + np.array([len(s) for s in sent_text])
        n_art = len(articles)
        sentences += [(n_art, int(a), int(b)) for a, b in zip(starts, ends)]
        for i, (a, b) in enumerate(spans):
            st, en = int(starts[a]), int(ends[b - 1])
            chunks.append(Chunk(chunk_id=f"{doc_id}:{i:04d}", doc_id=doc_id, start=st, end=en, text=text[st:en]))
            article_of_chunk.append(n_art)
        title = " ".join(vocab[n_stop + rng.integers(0, 5_000, 6)])
        articles.append(
            Article(
                doc_id=doc_id,
                title=title.capitalize(),
                publisher=pubs[int(rng.choice(PUBLISHERS, p=pub_p))],
                published=date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 1826))),
                authors=(),
                text=text,
                source=f"{doc_id}.txt",
            )
        )
    return articles, chunks, np.array(sentences, np.int64), np.array(article_of_chunk, np.int64)


def real_minilm_vectors() -> np.ndarray:
    from qa.index import load_index

    ix = load_index(config.DEFAULT_INDEX_DIR)
    return np.vstack([np.asarray(ix.vectors), np.asarray(ix.sentence_vectors)]).astype(np.float32)


# ---------------------------------------------------------------------------
# Child process 1: build


def build(n: int, work: Path) -> dict:
    import qa.bm25
    import qa.index
    from qa.embed import encoder_identity
    from qa.index import text_hash, write_index

    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    articles, chunks, sentences, art_of_chunk = make_corpus(n, rng)
    synth = Vectors.fit(real_minilm_vectors(), int(np.clip(n // 250, 200, 4000)), rng)
    np.savez(work / "synth.npz", mu=synth.mu, std=synth.std, basis=synth.basis, centres=synth.centres)
    topic = rng.integers(0, len(synth.centres), len(articles))
    vectors = synth.draw(topic[art_of_chunk], rng)
    # sentence vectors: a perturbed copy of the first passage holding the sentence (memory-mapped: 4.6 GB at 1M)
    sent_vecs = np.lib.format.open_memmap(work / "sentence_vectors.tmp.npy", "w+", np.float32, (len(sentences), config.MODEL_DIM))
    first = np.searchsorted(art_of_chunk, np.arange(len(articles)))  # first passage of each article
    for s in range(0, len(sentences), 200_000):
        rows = first[sentences[s : s + 200_000, 0]]
        sent_vecs[s : s + 200_000] = synth.around(vectors[rows], 0.5, rng)
    # token vectors: noisy copies of the passage vector, as many as a passage's content wordpieces (~0.7 a word).
    # The codes go straight into a memory-mapped file: at 1M passages they are ~11 GB, half this RAM.
    from qa.tokens import TokenBlock, codec

    # Tokens share codes as in a real build (qa.tokens.share): SHARED_CODES codes a token, each passage's own.
    lengths = np.array([int(0.7 * len(c.text.split())) for c in chunks], np.int64)
    n_codes, refs = shared_refs(lengths, rng)
    code_off = np.concatenate([[0], np.cumsum(n_codes)])
    codes = np.lib.format.open_memmap(work / "token_codes.tmp.npy", "w+", np.uint8,
                                      (int(code_off[-1]), codec().code_size))
    for lo in range(0, len(chunks), 20_000):
        hi = min(lo + 20_000, len(chunks))
        k = int(code_off[hi] - code_off[lo])
        st = np.repeat(vectors[lo:hi], n_codes[lo:hi], axis=0)
        st += 0.8 * rng.standard_normal((k, config.MODEL_DIM), dtype=np.float32)
        st /= np.linalg.norm(st, axis=1, keepdims=True)
        codes[code_off[lo] : code_off[hi]] = codec().encode(st)
    codes.flush()
    ids = rng.integers(1000, config.MODEL_VOCAB, len(refs)).astype(np.uint16)
    token_block = TokenBlock(codes, refs, ids, np.zeros((len(refs), 2), np.uint16), lengths)
    gen_s = time.perf_counter() - t0

    timings = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timings[name] = time.perf_counter() - t
        return wrapper

    qa.index.make_faiss_index = timed("faiss", qa.index.make_faiss_index)
    qa.index.bm25.write = timed("bm25", qa.bm25.write)
    index_dir = work / "index"
    t0 = time.perf_counter()
    manifest = write_index(
        index_dir, articles, chunks, vectors, {a.doc_id: text_hash(a) for a in articles}, sentences, sent_vecs,
        token_block, encoder_identity(),
    )
    build_s = time.perf_counter() - t0
    del sent_vecs, token_block, codes
    (work / "sentence_vectors.tmp.npy").unlink()
    (work / "token_codes.tmp.npy").unlink()
    files = manifest["files"]
    return {
        "passages": n,
        "articles": len(articles),
        "sentences": len(sentences),
        "generate_s": gen_s,
        "build_s": build_s,
        "faiss_s": timings.get("faiss"),
        "bm25_s": timings.get("bm25"),
        "index": manifest["index"],
        "late_interaction": True,
        "bytes": {name: info["size"] for name, info in files.items()},
    }


# ---------------------------------------------------------------------------
# Child process 2: load and measure


def memory() -> dict:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(val.split()[0]) * 1024
    return out


def timeit(fn, items) -> np.ndarray:
    ms = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        ms.append(1000 * (time.perf_counter() - t))
    return np.array(ms)


# codes a token in the development index (173,510 codes for 298,766 tokens, README: the token store)
SHARED_CODES = 0.58


def shared_refs(lengths, rng):
    """Each passage's code count (SHARED_CODES of its tokens, at least one) and each token's code row: a passage's
    first tokens take its codes in turn, the rest repeat one of them."""
    import numpy as np

    n_codes = np.where(lengths > 0, np.maximum(1, np.ceil(SHARED_CODES * lengths)), 0).astype(np.int64)
    code_off = np.concatenate([[0], np.cumsum(n_codes)[:-1]])
    passage = np.repeat(np.arange(len(lengths)), lengths)
    k = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    own = n_codes[passage]
    refs = code_off[passage] + np.where(k < own, k, (rng.random(len(k)) * own).astype(np.int64))
    return n_codes, refs


def evict(ix) -> None:
    """Drop the memory-mapped files a query reads (vectors, sentence vectors, token refs and codes) from this process's
    mappings and from the page cache, so the next query reads them from disk, as a first query on an index larger
    than the page cache does."""
    import mmap

    tokens = () if ix.tokens is None else (ix.tokens.refs, ix.tokens.codes)
    for a in (ix.vectors, ix.sentence_vectors, *tokens):
        mm = getattr(a, "_mmap", None)
        if mm is None:
            continue
        mm.madvise(mmap.MADV_DONTNEED)
        fd = os.open(a.filename, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cold_latency(ix, search, n: int) -> tuple[np.ndarray, np.ndarray]:
    """ms of `search(i)` with the files evicted before each query: with the candidates' read-ahead
    (qa.retrieve._prefetch) and without it, alternating which goes first."""
    retrieve_mod = sys.modules["qa.retrieve"]
    real = retrieve_mod._prefetch
    out = {True: [], False: []}
    try:
        for i in range(n):
            for ahead in ((True, False) if i % 2 else (False, True)):
                retrieve_mod._prefetch = real if ahead else (lambda *a: None)
                evict(ix)
                t = time.perf_counter()
                search(i)
                out[ahead].append(1000 * (time.perf_counter() - t))
    finally:
        retrieve_mod._prefetch = real
    return np.array(out[True]), np.array(out[False])


def measure(work: Path, n_queries: int) -> dict:
    import contextlib

    import faiss

    from qa import embed
    from qa.index import load_index

    retrieve = importlib.import_module("qa.retrieve")  # the module; `qa.retrieve` is the public function
    # what retrieve() wraps search() in, when the query path limits BLAS threads
    one_thread = getattr(embed, "single_thread", contextlib.nullcontext)
    before = memory()
    t0 = time.perf_counter()
    ix = load_index(work / "index")
    load_s = time.perf_counter() - t0
    gc.collect()
    after = memory()

    rng = np.random.default_rng(SEED + 1)
    z = np.load(work / "synth.npz")
    synth = Vectors(z["mu"], z["std"], z["basis"], z["centres"])
    qvecs = synth.draw(rng.integers(0, len(synth.centres), n_queries), rng)
    texts = []
    for r in rng.integers(0, len(ix.chunks), n_queries):
        w = ix.chunks[int(r)].text.rstrip(".").split()
        texts.append("Who " + " ".join(w[i] for i in sorted(rng.choice(len(w), 5, replace=False))) + "?")
    qtoks = [None] * n_queries
    if ix.tokens is not None:
        mask_ids = np.flatnonzero(embed.content_token_mask())
        for i, q in enumerate(qvecs):
            st = q + 0.8 * rng.standard_normal((8, config.MODEL_DIM), dtype=np.float32)
            qtoks[i] = (st / np.linalg.norm(st, axis=1, keepdims=True), rng.choice(mask_ids, 8).astype(np.int64))
    pool = Settings().candidate_pool
    idx = range(n_queries)
    counts = np.unique([a.publisher for a in ix.articles.values()], return_counts=True)
    share = counts[1] / counts[1].sum()
    pub = str(counts[0][np.argmin(np.abs(share - 0.05))])  # a publisher holding ~5% of the articles
    with one_thread():
        # first touch: the candidates' token codes and vectors come from disk unless the page cache holds them
        first = timeit(lambda i: retrieve.search(ix, texts[i], qvecs[i], 5, retrieve.Filters(), qtoks[i]), idx)
        dense = timeit(lambda i: retrieve._dense_pool(ix, qvecs[i], pool, None), idx)
        bm25 = timeit(lambda i: ix.keyword.scores(texts[i]), idx)
        hybrid = timeit(lambda i: retrieve.search(ix, texts[i], qvecs[i], 5, retrieve.Filters(), qtoks[i]), idx)
        filt = retrieve.Filters(publisher=pub)
        filtered = timeit(lambda i: retrieve.search(ix, texts[i], qvecs[i], 5, filt, qtoks[i]), range(min(50, n_queries)))
        cold, cold_plain = cold_latency(
            ix, lambda i: retrieve.search(ix, texts[i], qvecs[i], 5, retrieve.Filters(), qtoks[i]), min(40, n_queries))
    _, approx10 = ix.faiss.search(qvecs, 10)
    approx_pool = [retrieve._dense_pool(ix, q, pool, None) for q in qvecs]
    exact = faiss.IndexFlatIP(config.MODEL_DIM)  # built after the memory reading: it copies every vector
    exact.add(np.ascontiguousarray(ix.vectors, dtype=np.float32))
    _, truth = exact.search(qvecs, pool)
    with one_thread():
        flat = timeit(lambda i: exact.search(qvecs[i : i + 1], pool), idx)

    def recall(found, k):
        return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))

    sweep = []  # the search-time knob of an HNSW index: recall and speed around the chosen value
    if isinstance(ix.faiss, faiss.IndexHNSW):
        chosen = ix.faiss.hnsw.efSearch
        for ef in (64, 128, 256):
            ix.faiss.hnsw.efSearch = ef
            with one_thread():
                ms = timeit(lambda i: retrieve._dense_pool(ix, qvecs[i], pool, None), idx)
            found = [retrieve._dense_pool(ix, q, pool, None) for q in qvecs]
            sweep.append([ef, float(np.percentile(ms, 50)), recall(ix.faiss.search(qvecs, 10)[1], 10), recall(found, pool)])
        ix.faiss.hnsw.efSearch = chosen

    return {
        "load_s": load_s,
        "rss_before": before["VmRSS"],
        "rss": after["VmRSS"],
        "rss_anon": after["RssAnon"],
        "rss_file": after["RssFile"],
        "dense": [float(np.percentile(dense, 50)), float(np.percentile(dense, 95))],
        "flat": [float(np.percentile(flat, 50)), float(np.percentile(flat, 95))],
        "bm25": [float(np.percentile(bm25, 50)), float(np.percentile(bm25, 95))],
        "hybrid": [float(np.percentile(hybrid, 50)), float(np.percentile(hybrid, 95))],
        "hybrid_first": [float(np.percentile(first, 50)), float(np.percentile(first, 95))],
        "hybrid_cold": [float(np.percentile(cold, 50)), float(np.percentile(cold, 95))],
        "hybrid_cold_no_readahead": [float(np.percentile(cold_plain, 50)), float(np.percentile(cold_plain, 95))],
        "filtered": [float(np.percentile(filtered, 50)), float(np.percentile(filtered, 95))],
        "filter_share": float(share[list(counts[0]).index(pub)]),
        "recall10": recall(approx10, 10),
        "recall_pool": recall(approx_pool, pool),
        "nearest_cos": float(np.median(exact.search(qvecs, 1)[0])),
        "ef_sweep": sweep,
    }


def embed_speed() -> dict:
    """Passages per second of the build's encoder, on the project's real passages, and the query encoder's time."""
    from qa import embed
    from qa.index import load_index

    ix = load_index(config.DEFAULT_INDEX_DIR)
    texts = [c.text for c in ix.chunks]
    texts = (texts * (512 // len(texts) + 1))[:512]
    embed.encode_passages(texts[:32])  # load the model first
    t = time.perf_counter()
    embed.encode_passages(texts)
    docs = len(texts) / (time.perf_counter() - t)
    from qa.evaluate import load_questions

    questions = [r["question"] for r in load_questions(ROOT / "tests" / "data" / "eval.jsonl")][:20]
    embed.encode_query_tokens(questions[0])
    q = timeit(embed.encode_query_tokens, questions)
    return {"passages_per_s": docs, "words": float(np.mean([len(t.split()) for t in texts])), "query_ms": float(np.median(q))}


# ---------------------------------------------------------------------------
# Parent: run the children and print tables


def child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s.rstrip("km")) * mult)


def human(b: float) -> str:
    for unit in ("B", "KB", "MB"):
        if b < 1000:
            return f"{b:.0f} {unit}"
        b /= 1024
    return f"{b:.1f} GB"


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    mem = int(next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))) * 1024
    import faiss

    return f"{os.cpu_count()} cores ({cpu}), {human(mem)} RAM, load average {os.getloadavg()[0]:.1f}, faiss {faiss.__version__}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10k,100k,1m", help="comma-separated passage counts (default 10k,100k,1m)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--workdir", default=tempfile.gettempdir(), help="where the temporary index folders go")
    ap.add_argument("--keep", action="store_true", help="keep the built indexes")
    ap.add_argument("--no-embed", action="store_true", help="skip measuring the encoder's passages per second")
    ap.add_argument("--_build", nargs=2, metavar=("N", "DIR"), help=argparse.SUPPRESS)
    ap.add_argument("--_measure", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--_embed", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._build:
        print(json.dumps(build(int(args._build[0]), Path(args._build[1]))))
        return
    if args._measure:
        print(json.dumps(measure(Path(args._measure), args.queries)))
        return
    if args._embed:
        print(json.dumps(embed_speed()))
        return

    print(f"Machine: {machine()}\n\n{DATA_NOTE}\n", flush=True)
    rows = []
    for n in [size(s) for s in args.sizes.split(",")]:
        work = Path(tempfile.mkdtemp(prefix=f"qa-scale-{n}-", dir=args.workdir))
        try:
            print(f"building {n:,} passages in {work} ...", file=sys.stderr, flush=True)
            b = child("--_build", str(n), str(work))
            print(f"measuring {n:,} passages ...", file=sys.stderr, flush=True)
            m = child("--_measure", str(work), "--queries", str(args.queries))
            rows.append((b, m))
            print(f"{n:,}: {json.dumps({**b, **m})}", file=sys.stderr, flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)

    print("| passages | index | build s (FAISS / BM25) | on disk (FAISS file) | load s | RSS after load (anon + file) |")
    print("|---|---|---|---|---|---|")
    for b, m in rows:
        info = b["index"]
        kind = info["type"] + "".join(f" {k}={info[k]}" for k in ("M", "efConstruction", "efSearch") if k in info)
        kind += " + token store" if b["late_interaction"] else ""
        disk = sum(b["bytes"].values())
        print(
            f"| {b['passages']:,} | {kind} | {b['build_s']:.0f} ({b['faiss_s']:.0f} / {b['bm25_s']:.0f}) "
            f"| {human(disk)} ({human(b['bytes']['index.faiss'])}) | {m['load_s']:.1f} "
            f"| {human(m['rss'])} ({human(m['rss_anon'])} + {human(m['rss_file'])}) |"
        )
    print(f"\nLatency in ms, p50 / p95 over {args.queries} queries (hybrid = qa.retrieve.search, k=5, with the token rerank, encoder excluded; first touch = "
          f"each query's first run, its candidates' pages maybe not cached; "
          f"dense = the {Settings().candidate_pool}-passage FAISS candidate pool)\n")
    print("| passages | dense | exact flat (ratio) | recall@10 | pool recall@50 | BM25 scores | hybrid + rerank | same, first touch | hybrid, publisher filter |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b, m in rows:
        d, f, h, k, fl = m["dense"], m["flat"], m["hybrid"], m["bm25"], m["filtered"]
        h1 = m.get("hybrid_first", [float("nan")] * 2)
        print(
            f"| {b['passages']:,} | {d[0]:.2f} / {d[1]:.2f} | {f[0]:.2f} ({f[0] / d[0]:.1f}x) | {m['recall10']:.3f} "
            f"| {m['recall_pool']:.3f} | {k[0]:.2f} / {k[1]:.2f} | {h[0]:.1f} / {h[1]:.1f} | {h1[0]:.1f} / {h1[1]:.1f} "
            f"| {fl[0]:.1f} ({m['filter_share']:.0%} of articles) |"
        )
    print("\nCold queries: the vectors, sentence vectors and token codes evicted from the page cache before each query "
          "(as for a first query on an index larger than the cache), hybrid + rerank, ms p50 / p95, with the "
          "candidates' read-ahead (shipped) and without it, alternating:\n")
    print("| passages | cold, read-ahead | cold, without read-ahead | read-ahead is faster by (p50) |")
    print("|---|---|---|---|")
    for b, m in rows:
        c, c0 = m["hybrid_cold"], m["hybrid_cold_no_readahead"]
        print(f"| {b['passages']:,} | {c[0]:.1f} / {c[1]:.1f} | {c0[0]:.1f} / {c0[1]:.1f} | {c0[0] / c[0]:.1f}x |")
    for b, m in rows:
        if m["ef_sweep"]:
            print(f"\nefSearch at {b['passages']:,} passages: " + "; ".join(
                f"{ef}: dense p50 {ms:.2f} ms, recall@10 {r10:.3f}, pool recall@50 {rp:.3f}" for ef, ms, r10, rp in m["ef_sweep"]))
    b, m = rows[-1]
    n = b["passages"]
    per = {
        "vectors.f32": b["bytes"]["vectors.f32"],
        "index.faiss": b["bytes"]["index.faiss"],
        "sentence vectors": b["bytes"]["sentence_vectors.f32"] + b["bytes"]["sentences.i64"],
        "BM25": sum(v for k, v in b["bytes"].items() if k.startswith("bm25/")),
        "passage + article text": b["bytes"]["passages.jsonl"] + b["bytes"]["articles.jsonl"],
        "token store": sum(v for k, v in b["bytes"].items() if k.startswith("token_")),
    }
    print(f"\nBytes per passage on disk at {n:,} passages: " + ", ".join(f"{k} {v / n:,.0f}" for k, v in per.items() if v))
    print(f"Median cosine of a query to its nearest passage at {n:,}: {m['nearest_cos']:.2f}")
    if not args.no_embed:
        e = child("--_embed")
        print(
            f"Encoder: ONNX Runtime encode_passages (vector + token vectors) {e['passages_per_s']:.0f} passages/s "
            f"(real passages, {e['words']:.0f} words); query encoder (numpy) {e['query_ms']:.1f} ms a question"
        )
    print(f"Load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
