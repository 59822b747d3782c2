"""Example questions for an index, derived from its own articles (names in titles and bodies) and checked by asking."""
from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import zip_longest

from .answer_type import _MONTH
from .bm25 import stopwords
from .types import ANSWERED, UNSURE, Article

log = logging.getLogger(__name__)

MAX_ARTICLES = 2000  # names are counted in at most this many articles (spread over the corpus)
MAX_TRIES = 12  # questions asked to find answerable ones

_WORD = r"[A-Z][\w'’-]*\w|[A-Z]"
# A run of one to four capitalised words on one line: "Jane Example", "Lisbon", "Jane Q Example".
_RUN = re.compile(rf"(?<![\w'’-])(?:{_WORD})(?:[ \t]+(?:{_WORD}))*(?![\w'’-])")
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\"“”'‘’(\[|•·—–-])\s*$")
# What news writes next to a person: a speech verb after the name, a role or honorific before it, or an apposition.
_SPEECH = r"(?:said|says|told|added|wrote|stated|noted|announced|explained|argued|insisted|replied|claimed|warned)"
_ROLES = frozenset(
    "president premier minister chancellor leader chairman chairwoman spokesman spokeswoman spokesperson ambassador "
    "governor mayor senator director secretary judge general king queen ceo founder editor professor mr mrs ms dr "
    "prime acting former deputy foreign".split()
)
_MONTH_RE = re.compile(rf"^{_MONTH}$", re.I)


@dataclass(frozen=True)
class _Name:
    text: str
    articles: int  # how many articles mention it
    mentions: int  # with a person's surname mentioned alone
    in_titles: int  # how many titles mention it
    person: bool


def _spread(articles: list[Article], limit: int) -> list[Article]:
    """At most `limit` articles, evenly spread over the list (a large corpus is sampled, not cut at one end)."""
    if len(articles) <= limit:
        return articles
    step = len(articles) / limit
    return [articles[int(i * step)] for i in range(limit)]


def _mentions(text: str, stop: frozenset[str], common: set[str]):
    """(name, a role word stood before it, the word after it) for each capitalised run of the text.

    Leading words that the corpus also writes in lower case are dropped ("The", "When", "President", "Analyst");
    a single word that opens a sentence is skipped, since any word is capitalised there."""
    for m in _RUN.finditer(text):
        words = m.group().split()
        at_start = bool(_SENTENCE_END.search(text[max(0, m.start() - 3) : m.start()])) or m.start() == 0
        role = False
        while words and (words[0].lower().rstrip(".") in stop or words[0].lower().rstrip(".") in common):
            role = role or words[0].lower().rstrip(".") in _ROLES
            words.pop(0)
            at_start = False
        while words and words[-1].lower() in stop:
            words.pop()
        if not words or len(words) > 3 or (at_start and len(words) == 1):
            continue
        if any(_MONTH_RE.match(w) or len(w) < 2 for w in words) or all(w.isupper() and len(w) > 5 for w in words):
            continue
        after = re.match(r"[ \t]+([a-z]+)", text[m.end() :])
        yield " ".join(words), role, after.group(1) if after else ""


def corpus_names(articles: list[Article], limit: int = 20) -> list[_Name]:
    """The names most mentioned across the articles, those in titles weighted up, each marked person or not."""
    stop = stopwords()
    docs: dict[str, set[str]] = defaultdict(set)
    mentions: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    modifier: Counter[str] = Counter()  # followed by a lowercase content word: "Central Asian states" is an adjective
    texts: dict[str, list[str]] = defaultdict(list)
    sample = _spread(articles, MAX_ARTICLES)
    common = {w for a in sample for w in re.findall(r"(?<![\w'’-])[a-z][a-z'’-]*[a-z]\b", a.text)} | _ROLES
    for a in sample:
        for name, role, after in _mentions(a.text, stop, common):
            mentions[name] += 1
            roles[name] += role
            if after and after not in stop and not re.fullmatch(_SPEECH, after):
                modifier[name] += 1
            if a.doc_id not in docs[name]:
                docs[name].add(a.doc_id)
                texts[name].append(a.text)
    people = {n for n in mentions if " " in n and _is_person(n, roles[n], texts[n][:20])}
    surnames: dict[str, str] = {}
    for n in sorted(people, key=lambda n: (-mentions[n], n)):  # one person per surname: its most used spelling
        if n.split()[-1] in surnames:
            people.discard(n)
            mentions.pop(n)
        else:
            surnames[n.split()[-1]] = n
    for surname, full in surnames.items():  # "Example said" after "Jane Example" counts for Jane Example
        if surname in mentions:
            mentions[full] += mentions.pop(surname)
            docs[full] |= docs.pop(surname, set())
    keep = [
        n
        for n in mentions
        if n in people or (modifier[n] * 2 <= mentions[n] and len(docs[n]) >= (1 if " " in n else 2) and mentions[n] >= 2)
    ]
    titles = [a.title or "" for a in sample]
    in_titles = {n: sum(1 for t in titles if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", t)) for n in keep}

    def weight(n: str) -> float:  # a name in a title is what its article is about
        return (2.0 * in_titles[n] + len(docs[n])) * math.log1p(mentions[n])

    ranked = sorted(keep, key=lambda n: (-weight(n), n))[:limit]
    return [_Name(n, len(docs[n]), mentions[n], in_titles[n], n in people) for n in ranked]


def _is_person(name: str, roles: int, texts: list[str]) -> bool:
    """A name the text treats as a person somewhere: "President X", "X said", "X, 68," or the surname alone followed
    by a speech verb (news calls people by their surname after the first mention)."""
    if roles:
        return True
    full, last = re.escape(name), re.escape(name.split()[-1])
    pattern = re.compile(rf"(?:\b{full},?\s+{_SPEECH}\b|\b{full},\s+\d{{2}},|\b{last}\s+{_SPEECH}\b)")
    return any(pattern.search(t) for t in texts)


def _question(name: _Name) -> str:
    return f"Who is {name.text}?" if name.person else f"What do the articles say about {name.text}?"


def example_questions(n: int = 3, *, index_dir=None) -> tuple[str, ...]:
    """Up to n example questions the index answers (or shows its closest sentence for), made from its most-mentioned
    names.

    Names are runs of capitalised words counted over the articles, those in titles weighted up; a name the text
    treats as a person ("X said", "President X") becomes "Who is X?", any other "What do the articles say about X?".
    Each candidate is put to `qa.ask`. Answered ones come first, preferring answers from different articles; when
    fewer than n are answered, the rest are those shown with their closest sentence ("unsure"), most confident
    first, so a large folder where a name is in many sentences still gets examples. A question not found is never
    offered. Nothing is hard-coded, so a folder about anything gets questions about itself.

    Args:
        n: how many questions at most.
        index_dir: the index folder; default $QA_INDEX_DIR, else the repository's embeddings/.

    Returns:
        Between 0 and n questions: the answered ones, most mentioned first, then unsure ones (fewer when fewer
        are shown with a sentence).

    Raises:
        ValueError: n is not a positive integer.
        IndexNotFoundError, IndexCorruptError, IndexMismatchError: the index cannot be used.
    """
    from .answer import ask
    from .retrieve import index_info

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    info = index_info(index_dir=index_dir)
    names = corpus_names(list(info.articles))
    # people and other names in turn (a person first: "Who is" reads best), each kind in rank order
    people, things = [x for x in names if x.person], [x for x in names if not x.person]
    candidates = [x for pair in zip_longest(people, things) for x in pair if x is not None]
    chosen: list[tuple[str, str]] = []  # (question, doc_id of its answer)
    spare: list[str] = []  # answered, but from an article already used
    unsure: list[tuple[float, int, str]] = []  # (-confidence, order, question): shown with its closest sentence
    for name in candidates[:MAX_TRIES]:
        question = _question(name)
        answer = ask(question, index_dir=index_dir)
        if answer.outcome == UNSURE and answer.passage is not None:
            unsure.append((-answer.confidence, len(unsure), question))
        if answer.outcome != ANSWERED or answer.passage is None:
            log.debug("example %r skipped: %s", question, answer.outcome)
            continue
        if any(doc == answer.passage.doc_id for _, doc in chosen):
            spare.append(question)
            continue
        chosen.append((question, answer.passage.doc_id))
        if len(chosen) == n:
            break
    return tuple([q for q, _ in chosen] + spare + [q for *_, q in sorted(unsure)])[:n]
