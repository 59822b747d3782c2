"""What kind of answer a question asks for, and whether a sentence holds one.

A question that asks "when", "how many", "how old" or "how long" is answered only by a sentence holding a date, a
number, an age or a duration. This is the expected-answer-type check of classic extractive QA (the TREC QA
systems); without a reading model it is what keeps "In what year did X happen?" from being "answered" by a
sentence that mentions X but no year. The cues are English question words and news writing conventions, not
anything of a particular article.
"""
from __future__ import annotations

import re

_NUMBER_WORD = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|half|third|quarter"
    r"|twice|double|triple)"
)
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|tonight)"
_YEAR = r"\b(?:1[5-9]\d\d|20\d\d)s?\b"

# (question cue, answer pattern), most specific first: the first cue that matches decides the type.
_TYPES: list[tuple[str, re.Pattern, re.Pattern]] = [
    (
        "year",
        re.compile(r"\b(?:what|which) years?\b|\byear (?:did|was|were|when|in which)\b|\bin which year\b", re.I),
        re.compile(_YEAR),
    ),
    (
        "duration",
        re.compile(
            r"\bhow long\b|\b(?:prison|jail) (?:sentence|term)\b|\bsentenced to\b|\bfor how many (?:years|months|days)\b"
            r"|\bwhat sentence\b|\bsentence (?:did|was|has|for)\b",
            re.I,
        ),
        re.compile(
            rf"\b{_NUMBER_WORD}[- ](?:\w+ )?(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|centuries)\b"
            r"|\blife (?:sentence|imprisonment|in prison)\b|\bsince (?:1[5-9]\d\d|20\d\d)\b"
            # a span of years: "between 1991 and 2019", "from 1991 to 2019", "1991-2019"
            r"|\b(?:between|from) (?:1[5-9]\d\d|20\d\d) (?:and|to|until|till) (?:1[5-9]\d\d|20\d\d)\b"
            r"|\b(?:1[5-9]\d\d|20\d\d) ?[-–] ?(?:1[5-9]\d\d|20\d\d)\b",
            re.I,
        ),
    ),
    (
        "place",
        re.compile(
            r"^\W*where\b|\bwhere (?:did|was|is|were|does|do|will|has|have|had)\b"
            r"|\b(?:in|at|to|from) (?:which|what) (?:city|country|town|region|place|village|province|capital)\b"
            r"|\b(?:which|what) (?:city|country|town|region|village|province)\b",
            re.I,
        ),
        # a preposition leading, within a few words, to a name: "to Russia", "in the town of Taldykorgan"
        re.compile(
            r"\b(?:in|at|to|from|with|near|outside|inside|into|across|toward|towards|via)\s+(?:the\s+)?"
            r"(?:(?:[a-z]+\s+)?(?:town|city|capital|village|region|province|country|republic|state|port)\s+of\s+)?[A-Z]"
        ),
    ),
    (
        "distance",
        re.compile(
            r"\bhow far\b|\b(?:what|which) (?:is |was |are |were )?(?:the |its |their |a )?(?:\w+ )?(?:range|distance)\b",
            re.I,
        ),
        # a number with a unit of length: "300 miles", "4.9 metres", "12km"
        re.compile(
            rf"\b{_NUMBER_WORD}[- ]?(?:miles?|mi|km|kilomet(?:er|re)s?|met(?:er|re)s?|m|cm|mm|feet|foot|ft|inch(?:es)?|in|yards?|light[- ]years?)\b",
            re.I,
        ),
    ),
    ("age", re.compile(r"\bhow old\b|\bage\b|\bwhat age\b", re.I), None),  # see _has_age
    (
        "date",
        re.compile(
            r"^\W*when\b|\bwhen (?:did|was|were|is|does|do|will|has|have|had)\b|\b(?:what|which) (?:date|day|month)\b"
            r"|\bsince when\b|\bhow long ago\b",
            re.I,
        ),
        re.compile(
            rf"{_YEAR}|\b{_MONTH}(?=\W|$)|\b{_DAY}\b"
            r"|\b(?:last|next|this|past|previous|earlier|same|that) (?:week|month|year|decade|spring|summer|autumn|fall|winter|day|morning|evening|night)\b"
            r"|\bago\b|\b(?:days?|weeks?|months?|years?|hours?) (?:later|earlier|before|after)\b|\b\d{1,2}/\d{1,2}\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow many\b|\bhow much (?:did|does|do|is|was|are|were|will|would|has|have|had|can|could|money|cash)\b"
            r"|\b(?:number|percentage|percent|share|proportion|fraction|amount|total|population|size|cost|price) of\b"
            r"|\bpopulation\b|\bhow (?:large|big|far|high|tall|deep|wide|heavy|fast)\b|\b(?:exchange|growth|inflation|unemployment|interest) rate\b"
            r"|\bgrowth\b|\bhow much (?:\w+ )?(?:cost|pay|paid|spend|spent|earn|owe)\b|\bvolume\b"
            r"|\bper (?:day|week|month|year|capita|head|person|hour)\b",
            re.I,
        ),
        re.compile(rf"\b{_NUMBER_WORD}\b|%|\bper ?cent\b|\b(?:several|many|few|numerous) (?:hundred|thousand|million|billion)s?\b", re.I),
    ),
]


_WHY = re.compile(r"\bwhy\b", re.I)
# "Where does it say ...?", "where is it written that ...": asks for the passage that says it, not for a place.
_LOOKUP = re.compile(
    r"\bwhere (?:does|do|did|is|was) (?:it|this|that|the (?:article|articles|story|text|report|piece|passage|page))"
    r" (?:say|said|mention|mentioned|state|stated|write|written|report|reported|claim|claimed)\b",
    re.I,
)


def expected_type(question: str) -> str | None:
    """The kind of answer the question asks for: 'year', 'duration', 'distance', 'place', 'age', 'date', 'number',
    or None (any). A question asking why wants a reason, whatever it names ("Why did the number of ... fall?"), and
    one asking where the articles say something wants that passage ("Where does it say ...?"), not a place."""
    if _WHY.search(question) or _LOOKUP.search(question):
        return None
    for name, cue, _ in _TYPES:
        if cue.search(question):
            return name
    return None


def _names(text: str) -> set[str]:
    """Capitalised words of a text, lower-cased (names of people, places); the first word of a sentence too."""
    return {w.lower() for w in re.findall(r"\b[A-Z][\w'’-]+", text)}


# News style gives an age as "Name, 68," / "68-year-old Name" / "Name (68)" / "aged 68".
_AGE_APPOSITION = re.compile(r"\b([A-Z][\w'’-]+),? \(?(\d{1,3})\)?(?=[,)])")
_AGE_ADJECTIVE = re.compile(r"\b(\d{1,3})-year-old (?:[\w'’-]+ ){0,3}?([A-Z][\w'’-]+)")
# "The 23-year-old flew to London": a definite "the N-year-old" with no name after it stands for someone the passage
# named before (the question's person, when the passage answers it)
_AGE_ANAPHOR = re.compile(r"\b[Tt]he (\d{1,3})-year-old(?: [a-z]+)?\b(?! [A-Z])")
_AGE_PLAIN = re.compile(r"\baged \d{1,3}\b|\bage (?:of )?\d{1,3}\b|\b\d{1,3} years old\b", re.I)


def _has_age(sentence: str, question: str) -> bool:
    """An age, of someone the question names when the sentence says whose it is."""
    wanted = _names(question)
    for m in _AGE_APPOSITION.finditer(sentence):
        if 0 < int(m.group(2)) < 125 and (not wanted or m.group(1).lower().rstrip("'’s") in wanted or m.group(1).lower() in wanted):
            return True
    for m in _AGE_ADJECTIVE.finditer(sentence):
        if not wanted or m.group(2).lower() in wanted:
            return True
    return bool(_AGE_PLAIN.search(sentence) or _AGE_ANAPHOR.search(sentence))


# Numbers that are dates, not counts: "in 2022", "Dec. 19", "April 5", "5 February".
_DATE_NUMBERS = re.compile(rf"{_YEAR}|\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?=\W|$)", re.I)


def has_answer_type(sentence: str, kind: str | None, question: str = "") -> bool:
    """Whether the sentence holds an answer of this kind (always True for None)."""
    if kind is None:
        return True
    if kind == "age":
        return _has_age(sentence, question)
    if kind == "number":  # a count or amount: a year or a day of the month is not one
        sentence = _DATE_NUMBERS.sub(" ", sentence)
    pattern = next(p for name, _, p in _TYPES if name == kind)
    return bool(pattern.search(sentence))


_WHO_IS = re.compile(r"^\W*(?i:who)\s+(?:is|was)\s+((?:[A-Z][\w'’.-]*\s*){1,4})\W*$")


def definition_subject(question: str) -> str | None:
    """The name in a "Who is Arman Shuraev?" question. News introduces a person at their first mention ("Russian
    opposition journalist Igor Yakovenko"), so that is where the answer to such a question is."""
    m = _WHO_IS.match(question.strip())
    return m.group(1).strip() if m else None


def first_mention(text: str, name: str) -> int | None:
    """Offset of the first mention of a name in an article: the full name, else its last word (the surname)."""
    for needle in (name, name.split()[-1]):
        m = re.search(rf"\b{re.escape(needle)}\b", text)
        if m:
            return m.start()
    return None
