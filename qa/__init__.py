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
from .answer import ask
from .builder import build
from .retrieve import get_article, retrieve
from .types import Answer, Article, BuildReport, Passage, Skipped

__all__ = [
    "Answer",
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
    "ask",
    "build",
    "get_article",
    "retrieve",
]
__version__ = "0.1.0"
