"""The package's exceptions."""
from __future__ import annotations

REBUILD_HINT = "Rebuild it with `qa build` (or `python -m qa build`)."


class QAError(Exception):
    """Base class for errors raised by qa."""


class IndexError_(QAError):
    """The index is missing, corrupt, or was built differently from what this code expects."""


# A public, readable name; the trailing underscore above only avoids shadowing the builtin internally.
IndexNotFoundError = type("IndexNotFoundError", (IndexError_,), {"__doc__": "No index exists at the given folder."})
IndexCorruptError = type("IndexCorruptError", (IndexError_,), {"__doc__": "Index files are missing, truncated or unreadable."})
IndexMismatchError = type("IndexMismatchError", (IndexError_,), {"__doc__": "The index was built with another model, dimension or format."})


class ModelError(QAError):
    """The embedding model is missing or its weights fail verification."""


class BuildError(QAError):
    """A build could not produce an index (e.g. no usable article)."""


class BuildLockedError(BuildError):
    """Another build holds the index lock."""
