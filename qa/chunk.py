"""Article -> passages of whole sentences with character offsets into Article.text."""
from __future__ import annotations

import re

from . import config
from .types import Article, Chunk

# Words after which a period does not end a sentence ("Feb. 5", "Mr. Smith", "U.S. troops").
_ABBREV = frozenset(
    """mr mrs ms dr prof sr jr st mt gen col lt sgt capt gov sen rep pres rev no nos vs etc al fig approx dept est
    inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_CANDIDATE = re.compile(r"[.!?…]+['\"’”»)\]]*(?=\s+|$)")
_WORD = re.compile(r"\S+")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (start, end) within text[start:end]; paragraph breaks always end a sentence."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+", text[start:end]):
        p0, p1 = start + para.start(), start + para.end()
        s = p0
        for m in _CANDIDATE.finditer(text, p0, p1):
            stop = m.end()
            before = text[s : m.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            nxt = text[stop:p1].lstrip()
            if m.group().startswith(".") and len(m.group().rstrip("'\"’”»)]")) == 1:
                if last in _ABBREV or (len(last) == 1 and last.isalpha()) or re.fullmatch(r"(?:[a-z]\.)+[a-z]", last):
                    continue  # abbreviation or initial
                if nxt[:1].islower() or nxt[:1].isdigit():
                    continue
            if nxt and not (nxt[0].isupper() or nxt[0] in "\"“‘'([«-–—" or nxt[0].isdigit()):
                continue
            spans.append((s, stop))
            s = stop
            while s < p1 and text[s].isspace():
                s += 1
        if s < p1:
            tail_end = p1
            while tail_end > s and text[tail_end - 1].isspace():
                tail_end -= 1
            if tail_end > s:
                spans.append((s, tail_end))
    return spans


def _n_words(text: str) -> int:
    return len(_WORD.findall(text))


def _split_long(text: str, s: int, e: int, max_words: int) -> list[tuple[int, int]]:
    """A sentence longer than the model window is cut at clause punctuation, else at word boundaries."""
    pieces: list[tuple[int, int]] = []
    words = list(_WORD.finditer(text, s, e))
    i = 0
    while i < len(words):
        j = min(i + max_words, len(words))
        if j < len(words):
            for k in range(j - 1, i + max_words // 2, -1):
                if words[k].group()[-1] in ",;:—–":
                    j = k + 1
                    break
        pieces.append((words[i].start(), words[j - 1].end()))
        i = j
    return pieces


def chunk_article(
    article: Article,
    target_words: int = config.CHUNK_TARGET_WORDS,
    max_words: int = config.CHUNK_MAX_WORDS,
    overlap: int = config.CHUNK_OVERLAP_SENTENCES,
) -> list[Chunk]:
    """Pack consecutive sentences into passages of about `target_words`, overlapping by `overlap` sentences.

    A passage never cuts a sentence (unless one sentence alone exceeds `max_words`) and never leaves its article.
    """
    text = article.text
    sents: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        sents.extend(_split_long(text, s, e, max_words) if _n_words(text[s:e]) > max_words else [(s, e)])
    sizes = [_n_words(text[s:e]) for s, e in sents]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sents):
        j, words = i, 0
        while j < len(sents) and (j == i or words + sizes[j] <= target_words) and words + sizes[j] <= max_words:
            words += sizes[j]
            j += 1
        start, end = sents[i][0], sents[j - 1][1]
        chunks.append(Chunk(f"{article.doc_id}:{len(chunks):04d}", article.doc_id, start, end, text[start:end]))
        if j >= len(sents):
            break
        i = max(j - overlap, i + 1) if j - i > overlap else j
    return chunks
