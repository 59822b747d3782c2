"""Follow-up questions: decide whether a question leans on the conversation, and resolve what it refers to."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from . import bm25

# Words that point back to something said before. "there/then" only count at the end of a question ("Who else was
# there?"); elsewhere they are usually existential ("Are there ...?").
_PERSONAL = r"he|him|his|she|her|hers|they|them|their|theirs|it|its"
_DEMONSTRATIVE = r"this|that|these|those|the same|the latter|the former"
_BACK_REFERENCE = re.compile(rf"\b(?:{_PERSONAL}|{_DEMONSTRATIVE})\b|\b(?:there|then)\W*$", re.I)
_OPENER = re.compile(r"^\W*(?:and|but|also|so|what about|how about|what of|or)\b", re.I)
_QUESTION_WORDS = frozenset(
    "who whom whose what when where why how which did does do is was are were will would can could should has have "
    "had many much long else".split()
)
# A name: capitalised words, possibly joined by a lower-case particle ("Bank of England", "Leonardo da Vinci").
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|de|da|van|von|al|bin|the|la|le|du)?\s*[A-Z][\w'’.-]*)*")


@dataclass(frozen=True)
class Turn:
    """An earlier turn of the conversation: what was searched for it, the sentence given as its answer, and the
    article that sentence is from (its id and text)."""

    query: str
    answer: str | None = None
    doc_id: str | None = None
    article: str | None = field(default=None, repr=False)  # that article's text


def _content_words(text: str) -> list[str]:
    stop = bm25.stopwords()
    words = re.findall(r"[\w'’-]+", text)
    return [w for w in words if w.lower() not in stop and w.lower() not in _QUESTION_WORDS and len(w) > 1]


def names(text: str, context: str | None = None) -> list[str]:
    """Capitalised phrases of a text, in order, except a sentence's first word when it is a common word ("The",
    "When") rather than a name. A sentence's first word alone ("Seven decades later", "According to") is capitalised
    whatever it is: given `context` (the article the text is from), it is taken for a name only when the article
    also capitalises it inside a sentence, as an article does with the names it reports."""
    found = []
    for start, end in _spans(text):
        words = text[start:end].strip(" .").split()
        at_start = start == 0 or text[:start].rstrip()[-1:] in ".?!:\"“"
        if at_start and words[0].lower() in bm25.stopwords() | _QUESTION_WORDS:
            words = words[1:]
        elif at_start and context is not None and len(words) == 1 and not _mid_sentence(words[0], context):
            continue
        if words and not (len(words) == 1 and words[0].lower() in bm25.stopwords() | _QUESTION_WORDS):
            found.append(" ".join(words))
    return list(dict.fromkeys(found))


def _spans(text: str):
    """Where the capitalised phrases of `text` are, one sentence at a time: "Jane Roe. Then Lind" is two."""
    for m in _NAME.finditer(text):
        start = m.start()
        for cut in re.finditer(r"(?<=[^\W\d_]{4}\.)\s+", m.group()):
            yield start, m.start() + cut.start()
            start = m.start() + cut.end()
        yield start, m.end()


def _mid_sentence(word: str, text: str) -> bool:
    """Whether `text` writes `word` capitalised somewhere a sentence does not start."""
    for m in re.finditer(rf"(?<![\w'’-]){re.escape(word)}(?![\w'’-])", text):
        j = m.start() - 1
        while j >= 0 and text[j].isspace():  # the character before it, without copying the text before it
            j -= 1
        if j >= 0 and text[j] not in ".?!:\"“”‘'([–—-":
            return True
    return False


def needs_context(question: str) -> bool:
    """True when the question cannot be searched on its own: it opens with "and/what about...", has no content
    word ("Why?", "How many?"), or refers back with a pronoun ("he", "it", "that") that nothing in the question
    itself names. A standalone question, however short ("sanctions"), is searched as typed."""
    if _OPENER.match(question):
        return True
    if not _content_words(question):
        return True
    ref = _BACK_REFERENCE.search(question)
    if ref is None:
        return False
    # "Did Apple raise its prices?": a name before the pronoun is what it refers to.
    return not any(m.start() < ref.start() for m in _NAME.finditer(question) if names(question[m.start() : m.end()]))


def rewrite(question: str, history: Sequence[Turn]) -> str:
    """The text to search for a question, given the earlier turns (most recent last).

    A question that needs context is searched together with the content words of the most recent earlier turn
    that has any, plus, when that turn asked "who/what...", the first names in the sentence given as its answer
    (what a later "he" or "it" most likely means). When the follow-up names something itself ("And what about
    France?"), the earlier turn's names are left out, so the new name replaces the old one instead of joining it.
    """
    if not history or not needs_context(question):
        return question
    own = {w.lower() for w in _content_words(question)}
    replaces = bool(_OPENER.match(question)) and bool(names(question))
    for turn in reversed(history):
        earlier_names = names(turn.query)
        terms = _content_words(turn.query)
        if replaces:
            dropped = {w.lower() for n in earlier_names for w in n.split()}
            terms = [w for w in terms if w.lower() not in dropped]
        elif turn.answer and re.match(r"^\W*(?:who|whom|what|which)\b", turn.query, re.I):
            terms += [w for n in names(turn.answer, turn.article)[:2] for w in n.split()
                      if w.lower() not in bm25.stopwords()]  # "CEO of Vidyard"
        terms = [t for t in dict.fromkeys(terms) if t.lower() not in own]
        if terms:
            return f"{question} {' '.join(terms)}"
    return question


def context_article(question: str, history: Sequence[Turn]) -> str | None:
    """The article a question that needs the context most likely asks about: the one the latest answer came from
    ("Who is the CEO?", then "What does he say ...?"). None for a standalone question, which may be about any
    article, and when the latest turn gave no answer."""
    if not history or not needs_context(question):
        return None
    return history[-1].doc_id
