"""Question answering over a folder of news articles: exact passages with citations, offline."""
from __future__ import annotations

from . import config as _config  # sets HF_HUB_OFFLINE before anything could reach a hub
from .errors import (
    BuildError,
    BuildLockedError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelError,
    QAError,
)
from .builder import build
from .retrieve import get_article, retrieve
from .types import Article, BuildReport, Passage, Skipped

__all__ = [
    "Article",
    "BuildError",
    "BuildLockedError",
    "BuildReport",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "ModelError",
    "Passage",
    "QAError",
    "Skipped",
    "build",
    "get_article",
    "retrieve",
]
__version__ = "0.1.0"
