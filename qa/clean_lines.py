"""Lines of a text scrape and the per-line features the cleaner's model reads (numpy only)."""
from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache

import numpy as np

_BULLET = re.compile(r"^(?:[•·▪●◦‣∙►▸–—+→-]|\*(?=\s))\s+")
_WORD = re.compile(r"[^\W_](?:[\w'’.-]*[^\W_])?")
_TERMINAL = re.compile(r"[.!?…。！？][\"'’”»)\]」』]*$")
_SENTENCE_BREAK = re.compile(r"[.!?。！？][\"'’”»)\]]*\s+\S|[。！？]\S")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_URL = re.compile(r"https?://|www\.|\b[\w-]+\.(?:com|org|net|co|io|uk|de|fr|ru|br)\b", re.I)
_EMAIL_HANDLE = re.compile(r"\S@\S|(?:^|\s)@\w")
_DIGIT = re.compile(r"\d")
_MONTH_WORD = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|\b\d{1,2}\.?\s+"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b",
    re.I,
)
_NUMERIC_DATE = re.compile(r"\b(?:19|20)\d\d[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)?\d\d\b")
_TIME = re.compile(r"\b\d{1,2}:\d\d\b|\b\d{1,2}\s*[ap]\.?m\.?\b|\b(?:ago|yesterday|today)\b", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_SEPARATORS = re.compile(r"\s[|·•/»›]\s|\|")
# Words of site chrome in any language the corpora hold: sign-up, sharing, navigation, ads and legal lines.
_CHROME = re.compile(
    r"\b(?:subscrib\w*|newsletters?|sign(?:ing)?\s?(?:up|in)|log\s?(?:in|out)|register|donat\w+|membership|"
    r"cookies?|privacy|terms\s(?:of|and)|copyright|all rights reserved|advertis\w+|sponsored|share|shares|"
    r"tweet|facebook|twitter|instagram|linkedin|whatsapp|pinterest|youtube|reddit|email|e-mail|print|"
    r"click|menu|search|skip|home|download|app|follow|more|related|trending|popular|recommended|"
    r"latest|read\s(?:more|next|also)|watch|video|videos|photos?|gallery|image|credit|getty|reuters|"
    r"comments?|reply|replies|report|posted|loading|close|open|next|previous|prev|back to top|top|"
    r"contact|about us|careers|feedback|help|faq|sitemap|rss|tags?|categor(?:y|ies)|archive|"
    r"newsletter|inbox|alerts?|notifications?|cancel|submit|save|edit|view|show|hide|ad|ads)\b",
    re.I,
)
_COMMENT = re.compile(
    r"\b(?:reply|replies|repl(?:y|ied) to|likes?|upvotes?|points?|permalink|flag|report|commented|"
    r"ago|log in to|sign in to|comments?|join the discussion)\b|\b(?:says|said|wrote|writes)\s*:",
    re.I,
)
# The header of a reader comment: "joetoronto says:", "Alex on September 17, 2018 at 6:34 am said:", "3 hours ago".
_COMMENT_HEADER = re.compile(
    r"^.{0,80}\b(?:says|said|wrote|writes|commented)\s*:?\s*$|^.{0,60}\b(?:on|at)\b.{0,30}\d.{0,25}\b(?:said|says|wrote)\b"
    r"|^\d+\s+(?:minutes?|hours?|days?|weeks?|months?|years?)\s+ago$|^(?:reply|report|like|flag|permalink)$",
    re.I,
)
# A short heading that opens what follows an article: related stories, reader comments, tags, the author's box.
_END_CUE = re.compile(
    r"\b(?:related|recommended|more (?:from|on|in|stories|articles|news)|also read|read (?:more|next|also)|"
    r"you (?:may|might) (?:also )?(?:like|enjoy)|most (?:popular|read|viewed|shared)|trending|popular|latest|"
    r"comments?|responses?|leave a (?:reply|comment)|discussion|share this|tags?|filed under|topics?|"
    r"about the author|newsletter|sponsored|advertisement|promoted|what to read next|don'?t miss|top stories|"
    r"leia também|lesen sie auch|voir aussi|à lire aussi|lee también|читайте также|관련|関連)\b",
    re.I,
)
_GLUED = re.compile(r"[a-z\u00e0-\u00ff][A-Z](?=[a-z ])")
_BYLINE_START = re.compile(r"^(?:by|from|author|authors|written by|posted by|reporting by|por|von|par|di)\b\s*:?\s", re.I)
_CREDIT_START = re.compile(r"^(?:©|\(c\)|photo|picture|image|credit|source|caption|getty|ap photo|reuters)\b", re.I)


# Every match of _COMMENT_HEADER holds one of these (matched with the same case rule): a quick test that rules most
# lines out before the slower pattern runs.
_COMMENT_HEADER_HINT = re.compile(r"sa(?:ys|id)|wr(?:ote|ites)|commented|ago|reply|report|like|flag|permalink", re.I)


def is_comment_header(line: str, n_words: int | None = None) -> bool:
    """A reader comment's header ("Alex on September 17, 2018 at 6:34 am said:", "3 hours ago"). `n_words`: the
    line's word count, when the caller has it."""
    if not _COMMENT_HEADER_HINT.search(line):
        return False
    return (len(words(line)) if n_words is None else n_words) <= 12 and bool(_COMMENT_HEADER.search(line))


def norm_line(line: str) -> str:
    """NFC, no-break spaces as spaces, whitespace collapsed, a leading bullet dropped."""
    line = unicodedata.normalize("NFC", line).replace("\u00a0", " ").replace("\u200b", "")
    line = " ".join(line.split())
    return _BULLET.sub("", line)


def reads_as_trail(prefix: str) -> bool:
    """Whether text glued before a headline on one line is a breadcrumb trail or section label: it ends in a trail
    separator ("News > 2015 >", "Africa|"), runs into the headline without a space ("HomeLatest News"), or starts
    with a navigation word ("Home News Business")."""
    text = prefix.rstrip()
    return bool(text) and (text[-1] in "|>»›·/→" or prefix[-1].isalnum() or bool(_CHROME.match(text)))


_NOT_KEY = re.compile(r"[\W_]+")


def line_key(line: str) -> str:
    """Comparison key: letters and digits only, lower case."""
    return _NOT_KEY.sub("", line.lower())


def words(line: str) -> list[str]:
    return _WORD.findall(line)


def is_terminal(line: str) -> bool:
    return bool(_TERMINAL.search(line))


def _continues(prev: str, line: str) -> bool:
    """`line` carries on a sentence that an inline link cut ("...the portal" / "NEXTA" / "reported on...")."""
    if not prev or is_terminal(prev) or prev.endswith(":"):
        return False
    first = line[0]
    return first.islower() or (first in ",;.):" and len(line) > 1)


def split_lines(raw: str, rejoin: bool = True) -> list[str]:
    """The scrape's non-empty lines, normalised, with sentences that inline links broke over lines re-joined (unless
    `rejoin` is False: a text whose lines are its blocks already, as qa.clean_markdown gives)."""
    out: list[str] = []
    for line in raw.splitlines():
        line = norm_line(line)
        if not line:
            continue
        if rejoin and out and _continues(out[-1], line) and not _BYLINE_START.match(line):
            prev = out.pop()
            # "...the portal" / "NEXTA spread" / "this Tuesday ...": pull the short link text in too.
            if out and len(words(prev)) <= 3 and not is_terminal(out[-1]) and out[-1][-1:].isalpha():
                prev = f"{out.pop()} {prev}"
            sep = "" if line[0] in ",;.):" else " "
            out.append(f"{prev}{sep}{line}")
        else:
            out.append(line)
    return out


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Function words of the languages bm25s ships lists for: prose has them, menus and teasers have few."""
    from bm25s import stopwords as sw

    names = ("EN", "FRENCH", "GERMAN", "SPANISH", "PORTUGUESE", "ITALIAN", "DUTCH", "RUSSIAN", "TURKISH",
             "DANISH", "SWEDISH", "NORWEGIAN")
    out: set[str] = set()
    for name in names:
        out.update(w.lower() for w in getattr(sw, f"STOPWORDS_{name}", ()))
    return frozenset(out)


# ---------------------------------------------------------------------------
# Features

BASE_FEATURES = (
    "log_chars", "log_words", "stop_ratio", "log_stops", "page_common_ratio", "terminal", "ends_colon",
    "sentence_breaks", "comma_rate", "upper_initial_ratio", "all_caps", "digit_ratio", "has_date", "has_time",
    "has_year", "chrome_hits", "chrome_ratio", "comment_hits", "bulleted", "numbered", "separators", "url",
    "email_handle", "cjk_ratio", "nonlatin_ratio", "quote_start", "byline_start", "credit_start",
    "starts_lower", "ends_ellipsis", "pos", "chars_before", "log_collection_repeats", "collection_repeated",
    "page_repeats", "len_vs_page_max", "len_vs_page_median", "dup_longer", "comment_header", "end_cue", "glued",
    "count_suffix", "comment_headers_above", "end_cues_above", "end_cue_recent", "bylines_above",
    "before_first_prose", "same_first_word",
)
# Features of neighbouring lines, and averages over windows around the line.
NEIGHBOUR_FEATURES = ("log_words", "terminal", "stop_ratio", "log_collection_repeats", "chrome_ratio", "has_date",
                      "byline_start", "comment_header", "end_cue")
NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)
WINDOW_FEATURES = ("log_words", "terminal", "log_collection_repeats", "chrome_ratio", "glued", "stop_ratio")
WINDOWS = (3, 8)


def feature_names() -> list[str]:
    names = list(BASE_FEATURES)
    names += [f"{f}@{o:+d}" for o in NEIGHBOUR_OFFSETS for f in NEIGHBOUR_FEATURES]
    names += [f"{f}~{w}" for w in WINDOWS for f in WINDOW_FEATURES]
    return names


# The same patterns for text already in lower case: matching without re.I is 2-3x faster, and these four were half
# of the line features' time (the feature matrices of all 1,264 corpus pages are byte-identical either way).
_CHROME_LC, _COMMENT_LC, _END_CUE_LC, _MONTH_WORD_LC = (
    re.compile(rx.pattern) for rx in (_CHROME, _COMMENT, _END_CUE, _MONTH_WORD)
)


# Quick tests that rule a pattern out (see _base_row): the characters or words every match of it holds.
_ASCII_LETTERS_GONE = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SENTENCE_ENDS = re.compile(r"[.!?。！？]")
_SEPARATOR_MARKS = re.compile(r"[|·•/»›]")
_NUMBERED = re.compile(r"^\(?\d{1,2}[.)]\s")
_COUNT_SUFFIX = re.compile(r"\(\d+\)$")
_TIME_WORD = re.compile(r"\b(?:ago|yesterday|today)\b", re.I)  # _TIME's alternative without a digit
_COMMENT_HINT_LC = re.compile(
    r"repl|like|upvote|point|permalink|flag|report|comment|ago|log in|sign in|join|sa(?:ys|id)|wr(?:ote|ites)"
)


def _base_row(line: str, ws: list[str], stop: frozenset[str], common: frozenset[str]) -> list[float]:
    # Patterns that cannot match a line are not run: each skip below tests for a character or word that every match
    # of the pattern holds (a digit for the date patterns, "@" for a handle), and ASCII lines hold no CJK or non-Latin
    # letters. The feature values are the same either way.
    n = len(ws)
    chars = len(line)
    lower = [w.lower() for w in ws]
    n_stop = sum(w in stop for w in lower)
    alpha = [w for w in ws if w[0].isalpha()]
    if line.isascii():
        n_alpha = len(line) - len(line.translate(_ASCII_LETTERS_GONE))
        caps = n_alpha >= 3 and line.upper() == line  # every ASCII letter has a case
        cjk = nonlatin = 0
    else:
        letters = [c for c in line if c.isalpha()]
        n_alpha = len(letters)
        caps = n_alpha >= 3 and all(c.isupper() for c in letters if c.lower() != c.upper())
        cjk = len(CJK.findall(line))
        nonlatin = sum(1 for c in letters if ord(c) > 0x24F)
    n_letters = max(n_alpha, 1)
    low = line.lower()
    chrome = len(_CHROME_LC.findall(low))
    n_digits = len(_DIGIT.findall(line))
    return [
        math.log1p(chars),
        math.log1p(n),
        n_stop / n if n else 0.0,
        math.log1p(n_stop),
        sum(w in common for w in lower) / n if n else 0.0,
        float(is_terminal(line)),
        float(line.endswith(":")),
        min(len(_SENTENCE_BREAK.findall(line)), 10) / 10 if _SENTENCE_ENDS.search(line) else 0.0,
        line.count(",") / max(n, 1),
        sum(w[0].isupper() for w in alpha) / len(alpha) if alpha else 0.0,
        float(caps),
        n_digits / max(chars, 1),
        float(bool(n_digits and (_MONTH_WORD_LC.search(low) or _NUMERIC_DATE.search(line)))),
        float(bool(_TIME.search(line) if n_digits else _TIME_WORD.search(line))),
        float(bool(n_digits and _YEAR.search(line))),
        min(chrome, 5) / 5,
        chrome / max(n, 1),
        min(len(_COMMENT_LC.findall(low)), 3) / 3 if _COMMENT_HINT_LC.search(low) else 0.0,
        0.0,  # bulleted: filled in by the caller, which sees the raw line
        float(bool(n_digits and _NUMBERED.match(line))),
        min(len(_SEPARATORS.findall(line)), 5) / 5 if _SEPARATOR_MARKS.search(line) else 0.0,
        float(("." in line or "://" in line) and bool(_URL.search(line))),
        float("@" in line and bool(_EMAIL_HANDLE.search(line))),
        cjk / max(chars, 1),
        nonlatin / n_letters,
        float(line[:1] in "\"“„«'‘"),
        float(bool(_BYLINE_START.match(line))),
        float(bool(_CREDIT_START.match(line))),
        float(line[:1].islower()),
        float(line.endswith(("…", "...")) and not line.endswith("...\"")),
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,  # page-level ones, filled below
        float(is_comment_header(line, n)),
        float(n <= 8 and bool(_END_CUE_LC.search(low))),
        min(len(_GLUED.findall(line)), 3) / 3,
        float(bool(n_digits and _COUNT_SUFFIX.search(line))),
    ]


def _in_longer(keys: list[str], long_keys: list[str]) -> list[float]:
    """For each key of 25+ characters, whether a key more than 10 characters longer holds it. The long keys are
    searched as one string, longest first, up to the last one long enough: one find per key instead of a loop."""
    ordered = sorted(set(long_keys), key=len, reverse=True)
    joined = "\0".join(ordered)
    ends, at = [], -1
    for o in ordered:
        at += len(o) + 1
        ends.append(at)  # joined[:ends[m]] holds the m+1 longest keys
    neg_lengths = [-len(o) for o in ordered]
    out = []
    for k in keys:
        m = bisect.bisect_left(neg_lengths, -(len(k) + 10))  # how many are longer than len(k) + 10
        out.append(float(len(k) >= 25 and m > 0 and joined.find(k, 0, ends[m - 1]) != -1))
    return out


def line_features(lines: list[str], repeats: list[int], bulleted: list[bool] | None = None) -> np.ndarray:
    """A (lines, features) float32 matrix, columns as `feature_names()`.

    Args:
        lines: the page's lines, from `split_lines`.
        repeats: for each line, how many other documents of the collection hold the same line.
        bulleted: which lines began with a bullet in the scrape.
    """
    n = len(lines)
    names = feature_names()
    if n == 0:
        return np.zeros((0, len(names)), np.float32)
    stop = stopwords()
    toks = [words(line) for line in lines]
    counts = Counter(w.lower() for ws in toks for w in ws)
    common = frozenset(w for w, _ in counts.most_common(40))
    base = np.zeros((n, len(BASE_FEATURES)))
    rows = [_base_row(line, ws, stop, common) for line, ws in zip(lines, toks)]
    base[:, : len(rows[0])] = rows
    col = {name: i for i, name in enumerate(BASE_FEATURES)}
    if bulleted is not None:
        base[:, col["bulleted"]] = np.asarray(bulleted, dtype=np.float64)
    keys = [line_key(line) for line in lines]
    key_counts = Counter(keys)
    long_keys = [k for k in keys if len(k) >= 40]
    chars = np.array([len(line) for line in lines], dtype=np.float64)
    total = chars.sum()
    base[:, col["pos"]] = np.arange(n) / max(n - 1, 1)
    base[:, col["chars_before"]] = (np.cumsum(chars) - chars) / max(total, 1.0)
    rep = np.asarray(repeats, dtype=np.float64)
    base[:, col["log_collection_repeats"]] = np.log1p(rep)
    base[:, col["collection_repeated"]] = rep > 0
    base[:, col["page_repeats"]] = [min(key_counts[k] - 1, 3) / 3 if k else 0.0 for k in keys]
    log_chars = base[:, col["log_chars"]]
    base[:, col["len_vs_page_max"]] = log_chars - log_chars.max()
    base[:, col["len_vs_page_median"]] = log_chars - np.median(log_chars)
    # A line whose text is part of a longer line of the page (a teaser repeating the lede, a pull quote).
    base[:, col["dup_longer"]] = _in_longer(keys, long_keys)
    # What came above the line: reader comments and "Related" headings end an article; a byline starts one.
    def above(flags: np.ndarray) -> np.ndarray:
        return np.cumsum(flags) - flags

    base[:, col["comment_headers_above"]] = np.log1p(above(base[:, col["comment_header"]]))
    base[:, col["end_cues_above"]] = np.log1p(above(base[:, col["end_cue"]]))
    cues = np.flatnonzero(base[:, col["end_cue"]])
    idx = np.arange(n)
    last_cue = np.full(n, -100)
    for c in cues:
        last_cue[c + 1 :] = c
    base[:, col["end_cue_recent"]] = (idx - last_cue) <= 5
    byline = (base[:, col["byline_start"]] > 0) & (base[:, col["log_words"]] < math.log1p(15))
    base[:, col["bylines_above"]] = np.minimum(above(byline.astype(float)), 3) / 3
    prose = np.flatnonzero((base[:, col["log_words"]] >= math.log1p(15)) & (base[:, col["terminal"]] > 0))
    base[:, col["before_first_prose"]] = idx < (prose[0] if len(prose) else n)
    first = [ws[0].lower() if ws else "" for ws in toks]
    base[:, col["same_first_word"]] = [
        float(bool(f) and ((i > 0 and first[i - 1] == f) or (i + 1 < n and first[i + 1] == f))) for i, f in enumerate(first)
    ]
    parts = [base]
    for o in NEIGHBOUR_OFFSETS:
        j = idx + o
        inside = (j >= 0) & (j < n)
        block = np.full((n, len(NEIGHBOUR_FEATURES)), -1.0)
        cols = [col[f] for f in NEIGHBOUR_FEATURES]
        block[inside] = base[j[inside]][:, cols]
        parts.append(block)
    cols = [col[f] for f in WINDOW_FEATURES]
    for w in WINDOWS:
        parts.append(window_mean(base[:, cols], w))
    return np.hstack(parts).astype(np.float32)


def window_mean(values: np.ndarray, w: int) -> np.ndarray:
    """The mean of each row's values over the rows from w before it to w after it (fewer at the page's ends)."""
    n = len(values)
    cum = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    idx = np.arange(n)
    lo, hi = np.clip(idx - w, 0, n), np.clip(idx + w + 1, 0, n)
    count = (hi - lo).reshape((n,) + (1,) * (values.ndim - 1))
    return (cum[hi] - cum[lo]) / count


def page_lines(raw: str, rejoin: bool = True) -> tuple[list[str], list[bool]]:
    """`split_lines` plus, for each line, whether the scrape showed it as a bullet point."""
    lines = split_lines(raw, rejoin)
    bullets = set()
    for line in raw.splitlines():
        s = unicodedata.normalize("NFC", line).replace("\u00a0", " ").strip()
        if _BULLET.match(s):
            bullets.add(norm_line(s))
    return lines, [line in bullets for line in lines]


def _long_prose(line: str) -> bool:
    return len(line) >= 80 and is_terminal(line)


def collection_repeats(pages: list[list[str]]) -> list[list[int]]:
    """For each line of each page, how many other pages of the collection hold the same line.

    Near-copies of a page (the same article saved twice with different chrome) do not count: their shared text is
    the article, not site chrome. Two pages are near-copies when the long prose lines they share make
    up at least half of the long prose text (in characters) of either.
    """
    keysets = [{line_key(x) for x in lines} - {""} for lines in pages]
    prose = [{line_key(x) for x in lines if _long_prose(x)} for lines in pages]
    prose_chars = [sum(len(k) for k in keys) for keys in prose]
    holders: dict[str, list[int]] = {}
    for i, keys in enumerate(keysets):
        for k in keys:
            holders.setdefault(k, []).append(i)
    out = []
    for i, lines in enumerate(pages):
        shared: Counter[int] = Counter()
        for k in prose[i]:
            for j in holders.get(k, ()):
                if j != i:
                    shared[j] += len(k)
        near = [j for j, c in shared.items() if c * 2 >= min(prose_chars[i], prose_chars[j])]
        row = []
        for x in lines:
            k = line_key(x)
            if not k:
                row.append(0)
                continue
            c = len(holders.get(k, ())) - 1
            c -= sum(1 for j in near if k in keysets[j])
            row.append(max(c, 0))
        out.append(row)
    return out
