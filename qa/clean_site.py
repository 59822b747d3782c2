"""The name a page calls its own site: the publisher of its citations.

A text scrape rarely states "publisher: X", but every site repeats its own name in its chrome: "Follow X",
"Subscribe to X", "About X", "X homepage", "© 2019 X", a photo credit "Jane Doe/X", a dateline "(X) -". Names are
taken from such places, and the one the page's non-article lines repeat most is the site's. Nothing here knows any
site: only the shapes of those phrases.
"""
from __future__ import annotations

import re

from .clean_lines import stopwords

# Phrases that name the site right after them ("Subscribe to The Daily Planet on YouTube").
_BEFORE = re.compile(
    r"^(?:follow|subscribe\s+to|subscribe|about|search|advertise\s+(?:on|with)|more\s+(?:from|at)|welcome\s+to|"
    r"contact|support|donate\s+to|work\s+(?:at|for|with)|careers\s+at|jobs\s+at|discover|sign\s+up\s+for|join|get|"
    r"download|inside|the\s+best\s+of|keep\s+up\s+(?:to\s+date\s+)?with|stay\s+(?:up\s+to\s+date\s+)?with|"
    r"write\s+for|contribute\s+to|log\s+in\s+to|sign\s+in\s+to|the\s+latest\s+from|go\s+to|visit)\s+(?P<rest>.+)$",
    re.I,
)
# Phrases that name the site right before them ("The Daily Planet homepage", "Daily Planet Staff").
_AFTER = re.compile(
    r"^(?P<name>.+?)\s+(?:homepage|home\s+page|main\s+menu|logo|newsletters?|staff|news\s+desk|podcasts?|shop|store|"
    r"app|archives?|sponsors|site\s+map)\b",
    re.I,
)
# "© 2019 The Daily Planet", "Copyright (c) 2005-2019 Daily Planet, Inc.", and a name before it ("Planet © 2019 ...").
_COPYRIGHT = re.compile(
    r"(?:©|ⓒ|\(c\)|copyright\b)\s*(?:©\s*)?(?:copyright\s+)?"
    r"(?:(?:19|20)\d\d(?:\s*[-–]\s*(?:(?:19|20)\d\d)?)?,?\s*)?(?P<name>[^\W\d_][^|©]{0,60})",
    re.I,
)
_BEFORE_COPYRIGHT = re.compile(r"^(?P<name>[^©|]{2,40}?)\s*(?:©|ⓒ|\(c\)|copyright\b)", re.I)
# A photo credit's outlet ("Jane Doe/The Daily Planet", "Image: Jane Doe / Planet", "Photo: Jane Doe for Planet").
_CREDIT = re.compile(r"(?:\S/\s?|\s/\s|\s(?:for|para|pour|für|per)\s)(?P<name>[^/]{2,40})$")
# "for" credits an outlet only in a credit ("Photo: Jane Doe for Planet"): "Center for Counseling" names no site
_CREDIT_CUE = re.compile(r"\b(?:photo|image|picture|foto|credit|illustration|video|graphic|getty)", re.I)
# A dateline's source: "METROPOLIS (Planet) - ...", "(Planet)The mayor said".
_DATELINE = re.compile(r"^(?:[A-Z][A-Z.,' -]{1,40}\s)?\((?P<name>[^()]{2,30})\)")
# Where a name stops: a lower-case function word, a separator, the end of a sentence.
_STOP = re.compile(r"\s+(?:on|in|at|and|for|via|to|delivered|online|today|now|is|was|has|are|with|by|·|•)\s.*$|"
                   r"\s*(?:[|:!?•·—–]|\s-\s|,\s|\.\s).*$|[.,;:!?]+$|\s+-$")
_POSSESSIVE = re.compile(r"['’]s$")
# Words that follow "About", "Follow"... without being a site, and the platforms and agencies every site credits.
_GENERIC = {
    "us", "me", "you", "our", "we", "it", "this", "that", "them", "here", "all", "more", "top", "home", "site",
    "page", "news", "today", "now", "email", "e-mail", "newsletter", "newsletters", "privacy", "terms", "policy",
    "help", "faq", "login", "log in", "sign in", "account", "menu", "search", "the", "a", "an", "our team", "the team",
    "our newsletter", "the newsletter", "all rights reserved", "rights reserved", "the author", "the authors",
    "contributors", "facebook", "twitter", "instagram", "youtube", "linkedin", "pinterest", "tiktok", "whatsapp",
    "reddit", "flipboard", "rss", "google", "apple", "amazon", "getty images", "shutterstock", "istock", "alamy",
    "ap", "afp", "reuters", "epa", "associated press", "the associated press", "file", "file photo", "handout",
}
_SUFFIX = re.compile(
    r"(?:,?\s+(?:inc|llc|ltd|limited|gmbh|co|company|corp(?:oration)?|plc|s\.?a)\.?)+$|\s+(?:19|20)\d\d$", re.I
)
MAX_NAME_WORDS = 5
MAX_LINE_WORDS = 15  # a line longer than this is prose, not chrome: it neither names nor supports a name
MIN_SUPPORT = 3  # a name offered by one kind of place needs this many chrome lines that carry it
MAX_SUPPORT = 5  # lines counted at most (a name in every menu is not more of a name)
_EDGE = ".,;:!?\"'“”‘’()[]"

# The copyright holder as the publisher stood before site_name: stricter than _COPYRIGHT (the mark near the line's
# start, the name up to its first full stop or comma), and kept as it was so that `stated` means the same.
_HOLDER_LINE = re.compile(
    r"^(?:.{0,30}?\s)?(?:©|\(c\)|copyright\b)\s*(?:©\s*)?(?:copyright\s+)?"
    r"(?:(?:19|20)\d\d(?:\s*[-–]\s*(?:(?:19|20)\d\d)?)?,?\s*)?"
    r"(?P<name>[^\W\d_][^.|,©/]{1,60}?)(?:,|\.(?:\s|$)|\s+all rights|\s+-\s|\s*\||\s+/|$)",
    re.I,
)
_YEAR_AFTER = re.compile(r"\s+(?:19|20)\d\d(?:\s*[-–]\s*(?:(?:19|20)\d\d)?)?$")
# Narrower than _SUFFIX, and kept as it was for the same reason.
_COMPANY_SUFFIX = re.compile(r"\s+(?:inc|llc|ltd|gmbh|company|corp(?:oration)?)\.?$", re.I)


def copyright_holder(lines: list[str]) -> str | None:
    """The name in the page's last copyright line ("© 2019 The Daily Planet. All rights reserved"): what stood as the
    publisher before site_name, and is weighed there as `stated`."""
    for line in reversed(lines):
        m = _HOLDER_LINE.match(line)
        if not m or len(line) > 200:
            continue
        # "© Daily Planet 2025": the year after the name is not part of it
        name = _COMPANY_SUFFIX.sub("", _YEAR_AFTER.sub("", m.group("name").strip(" -–;:&")))
        if 1 <= len(name.split()) <= 6 and not re.match(r"(?:all rights|by\b|the author)", name, re.I) and (
            len(name) >= 3 or name.isupper()  # not "St" of "© St. Example's College"
        ):
            return name
    return None


def _clean(name: str) -> str:
    name = _STOP.sub("", name.strip(" \t-–—\"'“”‘’()[]"))
    name = _POSSESSIVE.sub("", name.replace("®", "").replace("™", ""))
    name = re.sub(r"\s+(?:unless|except)\b.*$", "", name, flags=re.I)
    return _SUFFIX.sub("", name).strip(" \t-–—.,\"'“”‘’()[]")


def _acceptable(name: str, stop: set[str]) -> bool:
    words = name.split()
    if not 1 <= len(words) <= MAX_NAME_WORDS or len(name) > 40 or name.casefold() in _GENERIC:
        return False
    if not any(ch.isalpha() for ch in name) or all(w.casefold() in stop for w in words):
        return False
    if words[-1] == "&" or len(words) > 1 and words[-1].casefold() in stop:
        return False  # cut before its end: "Parts &" (of "Parts & Accessories"), "the Example Family of"
    if len(name) < 3 and not name.isupper():
        return False  # "St" (of "St. Example's"), "ed" (of "copyrighted"): a cut word, not a name
    # a name starts with anything but a lower-case letter (a capital, a digit, CJK), or is a lower-case brand in one word
    return not name[0].islower() or len(words) == 1


def _prefixes(phrase: str) -> list[str]:
    words = _clean(phrase).split()[:MAX_NAME_WORDS]
    return [_clean(" ".join(words[:n])) for n in range(1, len(words) + 1)]


# Each kind of place counts once, and a name needs two (a copyright line alone often names the owner, not the site);
# what the caller found (`stated`) counts as two.
_WEIGHT = {"stated": 2, "copyright": 1, "before": 1, "after": 1, "credit": 1, "dateline": 1, "alone": 1}
# Not a name: chrome words, markup, pronouns ("Join our"), a byline, a chrome verb heading a menu ("About Jobs").
_NOT_NAME = re.compile(
    r"copyright|rights|reserved|privacy|subscri|sign\s*(?:up|in)|log\s*in|toggle|cookie|^by\s|home\s*page|[<>=/]|"
    r"\b(?:our|your|my|we|us|you)\b|^(?:join|follow|about|search|contact|support|get)\b",
    re.I,
)


def candidates(lines: list[str]) -> dict[str, set[str]]:
    """Names offered by the page's chrome phrases (every leading run of words after "Follow", before "homepage"...),
    with the kinds of place that offered each."""
    out: dict[str, set[str]] = {}

    def add(names, kind):
        for n in names:
            out.setdefault(n, set()).add(kind)

    for line in lines:
        line = line.strip()
        if not line:
            continue
        short = len(line.split()) <= MAX_LINE_WORDS
        if short and (m := _BEFORE.match(line)) and len(_clean(m.group("rest")).split()) <= MAX_NAME_WORDS:
            add(_prefixes(m.group("rest")), "before")  # longer: a menu ("About Team Jobs Contact Studio ...")
        if short and (m := _AFTER.match(line)):
            add([_clean(m.group("name"))], "after")
        if len(line) <= 200 and (m := _COPYRIGHT.search(line)):
            add(_prefixes(m.group("name")), "copyright")
            if (b := _BEFORE_COPYRIGHT.match(line)) is not None:
                add([_clean(b.group("name"))], "copyright")
        if short and (m := _CREDIT.search(line)) and ("/" in m.group() or _CREDIT_CUE.search(line)):
            add([_clean(m.group("name"))], "credit")
        if m := _DATELINE.match(line):
            add([_clean(m.group("name"))], "dateline")
    return out


def site_name(lines: list[str], body: set[int], stated: str | None = None) -> str | None:
    """The name the page's chrome offers most convincingly among `candidates`, or None.

    A name scores one for each kind of place that offers it (a line that is only the name counts as one), two if it is
    `stated` (what the byline, a "Source:" label or the copyright line gave), plus the number of short non-article
    lines that carry it (at most MAX_SUPPORT). It needs two kinds, or `stated`, or MIN_SUPPORT lines. A longer name
    that holds the winner ("The Daily Planet" over "Daily Planet") wins when at least half as many lines carry it. A
    one-word name the article's own text uses in lower case is a common word, not a name."""
    stop = stopwords()
    chrome = [ln.strip() for i, ln in enumerate(lines)
              if i not in body and ln.strip() and (len(ln.split()) <= MAX_LINE_WORDS or _COPYRIGHT.search(ln))]
    lower_words: set[str] | None = None  # the article's lower-case words, read only if a one-word name needs them
    scored = []
    alone = {ln.casefold() for ln in chrome}
    offered = candidates(chrome)
    if stated:  # the byline's organisation, a "Source:" label or the copyright holder, found by the caller
        offered[stated] = offered.get(stated, set()) | {"stated"}
    for name, kinds in offered.items():
        if name != stated and (not _acceptable(name, stop) or _NOT_NAME.search(name)):
            continue
        if name != stated and " " not in name:
            if lower_words is None:
                lower_words = {w.strip(_EDGE) for i in body for w in lines[i].split() if w.islower()}
            if name.casefold() in lower_words:
                continue
        if name.casefold() in alone:
            kinds = kinds | {"alone"}
        weight = sum(_WEIGHT[k] for k in kinds)
        if name[0].islower() and "alone" not in kinds and name != stated:
            continue  # a lower-case brand must stand on a line of its own
        rx = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        support = sum(1 for ln in chrome if rx.search(ln))
        if weight >= 2 or support >= MIN_SUPPORT or name == stated:
            scored.append(((weight + min(support, MAX_SUPPORT), len(name.split())), name, support))
    scored.sort(reverse=True)
    if not scored:
        return None
    _, best, support = scored[0]
    longer = [(s, n) for _, n, s in scored if best in n and n != best and 2 * s >= support and s >= 2]
    return max(longer, key=lambda sn: (sn[0], len(sn[1])))[1] if longer else best
