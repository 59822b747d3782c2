"""Frozen dataclasses passed between pipeline stages."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone


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
    url: str | None = None  # the original address, when the page states one

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p]

    @property
    def citation(self) -> str:
        return format_citation(self.title, self.publisher, self.published, self.doc_id)



def article_to_json(a: Article) -> dict:
    """An article as stored in the index (and the build's cleaning cache)."""
    return {
        "doc_id": a.doc_id,
        "title": a.title,
        "publisher": a.publisher,
        "published": a.published.isoformat() if a.published else None,
        "authors": list(a.authors),
        "text": a.text,
        "source": a.source,
        "url": a.url,
    }


def article_from_json(d: dict) -> Article:
    return Article(
        doc_id=d["doc_id"],
        title=d.get("title"),
        publisher=d.get("publisher"),
        published=date.fromisoformat(d["published"]) if d.get("published") else None,
        authors=tuple(d.get("authors") or ()),
        text=d["text"],
        source=d.get("source") or "",
        url=d.get("url") or None,
    )

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
    url: str | None = None  # the article's original address, when its page states one

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
            "url": self.url,
            "citation": self.citation,
        }


@dataclass(frozen=True)
class Skipped:
    """A seed file that the build could not use, and why (`files`: how many files one entry stands for, as for a
    folder's files of other kinds)."""

    path: str
    reason: str
    files: int = 1


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
    removed: tuple[str, ...] = ()  # articles of the previous index no longer in the folder: their passages are gone
    # articles new to the previous index (embedded, or re-using the passages of one with the same text: a copy
    # that stands in for a deleted original); () for a first build
    added: tuple[str, ...] = ()


@dataclass(frozen=True)
class Filters:
    """Which articles a search may use: published in [since, until] (inclusive) and/or from one publisher."""

    since: date | None = None
    until: date | None = None
    publisher: str | None = None
    # the index's spellings of that publisher, which all match ("PolitiFact" and "Politifact" are one site);
    # empty: `publisher` exactly
    spellings: tuple[str, ...] = ()

    @property
    def publisher_names(self) -> tuple[str, ...]:
        return self.spellings or ((self.publisher,) if self.publisher else ())

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.publisher)

    @property
    def description(self) -> str:
        """The filters as a phrase that follows "articles": `from Example News published between 2022-01-01 and
        2022-12-31`, `published on or after 2022-01-01`; empty when no filter is on."""
        parts = [f"from {self.publisher}"] if self.publisher else []
        since, until = (d.isoformat() if d else None for d in (self.since, self.until))
        if since and since == until:
            parts.append(f"published on {since}")
        elif since and until:
            parts.append(f"published between {since} and {until}")
        elif since:
            parts.append(f"published on or after {since}")
        elif until:
            parts.append(f"published on or before {until}")
        return " ".join(parts)

    def to_dict(self) -> dict:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "publisher": self.publisher,
        }


ANSWERED, UNSURE, NOT_FOUND = "answered", "unsure", "not_found"
# Why an answer is not ANSWERED:
NO_MATCH = "no_match"  # nothing in the articles answers the question
MISSING_TYPE = "missing_type"  # the question asks for a kind of answer (a year, a number...) no passage holds
FILTERED_OUT = "filtered_out"  # the filters exclude every article
LOW_CONFIDENCE = "low_confidence"  # (UNSURE) the closest sentence may not answer the question

ANSWER_TYPE_NAMES = {
    "year": "a year", "duration": "a length of time", "distance": "a distance", "place": "a place", "age": "an age", "date": "a date",
    "number": "a number",
}


@dataclass(frozen=True)
class Answer:
    """What `qa.ask` returns: an outcome with its reason, the answering sentence (with offsets in its article) and
    the supporting passages.

    outcome is ANSWERED (`sentence` answers, with `confidence`), UNSURE (`sentence` is the closest one found but
    may not answer: show it as such) or NOT_FOUND (no sentence; `passages` are related ones at best), and `reason`
    says why it is not ANSWERED (NO_MATCH, MISSING_TYPE, FILTERED_OUT, LOW_CONFIDENCE).
    """

    question: str
    query: str  # the text actually searched (a follow-up carries terms of earlier questions)
    outcome: str
    confidence: float  # how likely it is that `sentence` answers the question (0 when there is none)
    passages: tuple[Passage, ...] = ()
    sentence: str | None = None
    sentence_start: int | None = None  # offsets of `sentence` in the article's text
    sentence_end: int | None = None
    passage: Passage | None = None  # the passage holding `sentence`
    # the kind of answer the question asks for: "date", "year", "number", "age", "duration", "place" or None
    answer_type: str | None = None
    reason: str | None = None
    filters: Filters = field(default_factory=Filters)

    @property
    def found(self) -> bool:
        """True when the articles answer the question (outcome ANSWERED)."""
        return self.outcome == ANSWERED

    @property
    def rewritten(self) -> bool:
        return self.query != self.question

    @property
    def missing_type(self) -> bool:
        """Not found because no passage holds the kind of answer asked for (no year for "In what year...?")."""
        return self.reason == MISSING_TYPE

    @property
    def explanation(self) -> str:
        """Why the answer is not ANSWERED, as a person reads it; empty when it is."""
        if self.outcome == ANSWERED:
            return ""
        if self.reason == FILTERED_OUT:
            scope = f" (articles {self.filters.description})" if self.filters.active else ""
            return f"No articles match these filters{scope}."
        if self.reason == MISSING_TYPE and self.answer_type in ANSWER_TYPE_NAMES:
            return f"No passage gives {ANSWER_TYPE_NAMES[self.answer_type]} for this question."
        if self.outcome == UNSURE:
            return "The closest passage may not answer this question."
        return "The indexed articles don't answer this question."

    def sentence_in(self, passage: Passage) -> tuple[int, int] | None:
        """The answer sentence's (start, end) in article offsets when it lies in this passage, else None."""
        if self.sentence is None or self.passage is None or self.sentence_start is None or self.sentence_end is None:
            return None
        if passage.doc_id != self.passage.doc_id:
            return None
        if self.sentence_end <= passage.start or self.sentence_start >= passage.end:
            return None
        return self.sentence_start, self.sentence_end

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "query": self.query,
            "outcome": self.outcome,
            "reason": self.reason,
            "explanation": self.explanation,
            "found": self.found,
            "confidence": self.confidence,
            "sentence": self.sentence,
            "sentence_start": self.sentence_start,
            "sentence_end": self.sentence_end,
            "passage": self.passage.to_dict() if self.passage else None,
            "passages": [p.to_dict() for p in self.passages],
            "answer_type": self.answer_type,
            "filters": self.filters.to_dict(),
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
    first_published: date | None = None  # the oldest article's date (undated articles are left out)
    last_published: date | None = None  # the newest article's date

    @property
    def built(self) -> datetime | None:
        """`built_at` as an aware datetime (UTC), or None when the manifest does not say."""
        try:
            stamp = datetime.fromisoformat(self.built_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
