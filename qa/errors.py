"""The package's exceptions."""
from __future__ import annotations

REBUILD_HINT = "Rebuild it with `qa build` (or `python -m qa build`)."


class QAError(Exception):
    """Base class for errors raised by qa."""


class IndexError_(QAError):
    """The index is missing, corrupt, or was built differently from what this code expects.

    (The underscore keeps it from shadowing the builtin IndexError inside the package.)"""


class IndexNotFoundError(IndexError_):
    """No index exists at the given folder."""


class IndexCorruptError(IndexError_):
    """Index files are missing, truncated or unreadable."""


class IndexMismatchError(IndexError_):
    """The index was built with another model, dimension or format."""


class ModelError(QAError):
    """The embedding model is missing or its weights fail verification."""


class BuildError(QAError):
    """A build could not produce an index (e.g. no usable article)."""


class BuildLockedError(BuildError):
    """Another build holds the index lock."""
