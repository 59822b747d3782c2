"""Frozen dataclasses passed between pipeline stages."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


def format_citation(title: str | None, publisher: str | None, published: date | None, fallback: str = "") -> str:
    """`Title — Publisher, 2024-02-05`, leaving out whatever is unknown."""
    tail = ", ".join(p for p in (publisher, published.isoformat() if published else None) if p)
    head = title or fallback
    if head and tail:
        return f"{head} — {tail}"
    return head or tail


@dataclass(frozen=True)
class Article:
    """One cleaned article: metadata plus the body as paragraphs separated by blank lines."""

    doc_id: str
    title: str | None
    publisher: str | None
    published: date | None
    authors: tuple[str, ...]
    text: str
    source: str = ""  # the file name it came from

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p]

    @property
    def citation(self) -> str:
        return format_citation(self.title, self.publisher, self.published, self.doc_id)


@dataclass(frozen=True)
class Chunk:
    """A passage of whole sentences: `article.text[start:end] == text`."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved passage with its score and the metadata needed to cite it."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    score: float
    title: str | None = None
    publisher: str | None = None
    published: date | None = None
    authors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def citation(self) -> str:
        return format_citation(self.title, self.publisher, self.published, self.doc_id)

    def to_dict(self) -> dict:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "title": self.title,
            "publisher": self.publisher,
            "published": self.published.isoformat() if self.published else None,
            "authors": list(self.authors),
            "citation": self.citation,
        }


@dataclass(frozen=True)
class Skipped:
    """A seed file that the build could not use, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class BuildReport:
    """What `qa build` did."""

    index_dir: str
    articles: int
    passages: int
    reused: tuple[str, ...]
    embedded: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    seconds: float
    changed: bool


@dataclass(frozen=True)
class Answer:
    """What `qa.ask` returns: the answering sentence (with offsets in its article) and the supporting passages."""

    question: str
    query: str  # the text actually searched (a follow-up carries terms of earlier questions)
    found: bool
    confidence: float
    passages: tuple[Passage, ...] = ()
    sentence: str | None = None
    sentence_start: int | None = None  # offsets of `sentence` in the article's text
    sentence_end: int | None = None
    passage: Passage | None = None
    # the kind of answer the question asks for: "date", "year", "number", "age", "duration", "place" or None
    answer_type: str | None = None

    @property
    def rewritten(self) -> bool:
        return self.query != self.question

    @property
    def missing_type(self) -> bool:
        """Not found because no passage holds the kind of answer asked for (no year for "In what year...?")."""
        return not self.found and self.answer_type is not None and self.confidence == 0.0 and bool(self.passages)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "query": self.query,
            "found": self.found,
            "confidence": self.confidence,
            "sentence": self.sentence,
            "sentence_start": self.sentence_start,
            "sentence_end": self.sentence_end,
            "passage": self.passage.to_dict() if self.passage else None,
            "passages": [p.to_dict() for p in self.passages],
            "answer_type": self.answer_type,
        }


@dataclass(frozen=True)
class IndexInfo:
    """What an index holds: for a corpus panel or a status line."""

    index_dir: str
    built_at: str
    passages: int
    articles: tuple[Article, ...]
    publishers: tuple[str, ...]
    model: str
