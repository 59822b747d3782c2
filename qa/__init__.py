"""Question answering over a folder of news articles: exact passages with citations, offline."""
from __future__ import annotations

from . import config as _config  # noqa: F401  (sets HF_HUB_OFFLINE before anything could reach a hub)
from .errors import (
    BuildError,
    BuildLockedError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelError,
    QAError,
)
from .answer import ask
from .builder import build
from .cluster_build import RayBuild
from .clean import CleanedLine, CleanResult, clean_file, clean_folder, clean_records
from .examples import example_questions
from .retrieve import get_article, index_info, retrieve
from .settings import Abstention, Settings
from .types import (
    ANSWERED,
    FILTERED_OUT,
    LOW_CONFIDENCE,
    MISSING_TYPE,
    NO_MATCH,
    NOT_FOUND,
    UNSURE,
    Answer,
    Article,
    BuildReport,
    Filters,
    IndexInfo,
    Passage,
    Skipped,
)

__all__ = [
    "ANSWERED",
    "Abstention",
    "FILTERED_OUT",
    "LOW_CONFIDENCE",
    "MISSING_TYPE",
    "NO_MATCH",
    "NOT_FOUND",
    "UNSURE",
    "Answer",
    "Article",
    "BuildError",
    "BuildLockedError",
    "BuildReport",
    "CleanResult",
    "CleanedLine",
    "Filters",
    "IndexCorruptError",
    "IndexInfo",
    "IndexMismatchError",
    "IndexNotFoundError",
    "ModelError",
    "Passage",
    "QAError",
    "RayBuild",
    "Settings",
    "Skipped",
    "ask",
    "build",
    "clean_file",
    "clean_folder",
    "clean_records",
    "example_questions",
    "get_article",
    "index_info",
    "retrieve",
]
__version__ = "0.1.0"
