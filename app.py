"""Gradio chat over the article index: formats what the qa API returns (HTML from web/templates), nothing more."""

import argparse
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Sequence
from urllib.parse import quote, unquote, urlsplit

import jinja2
from markupsafe import Markup, escape

import qa
from qa import config as qa_config

log = logging.getLogger("qa.app")

WEB = Path(__file__).resolve().parent / "web"
DEFAULT_K = 3  # passages cited per answer; the slider goes up to MAX_K
MAX_K = 20
MAX_RELATED = 3  # passages shown beside "not in the articles"
MAX_HISTORY = 10  # earlier questions kept per topic for follow-ups (qa.ask uses the last few)
N_EXAMPLES = 3
SNIPPET_WORDS = 8  # words of a passage that tell its sources-list label apart from the article's other passages
# The confidence shown on an answer, in words: (lowest confidence, label, css level), highest first.
CONFIDENCE_LEVELS = ((0.8, "High confidence", "high"), (0.5, "Medium confidence", "medium"), (0.0, "Low confidence", "low"))
DATE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")

VIEWER_EMPTY = "Ask a question, then open one of its sources ([1], [2]…) to read the whole article here."
SOURCES_EMPTY = "The sources of an answer are listed here."
RELATED_EMPTY = "No answer, so no source is open: the related passages are listed here."
NO_QUESTION = "Type a question in the box, then press Enter or Ask."

# After a reply, show it from its question down (Gradio's own autoscroll would jump past the answer to the last card).
CHAT_SCROLL_JS = """
() => {
  const go = () => {
    const log = document.querySelector('#qa-chat [role=log]');
    const bots = document.querySelectorAll('#qa-chat .bot-row');
    const users = document.querySelectorAll('#qa-chat .user-row');
    let row = bots[bots.length - 1];
    if (!log || !row) return;
    const asked = users[users.length - 1];
    if (asked && asked.compareDocumentPosition(row) & Node.DOCUMENT_POSITION_FOLLOWING) row = asked;
    log.scrollTop += row.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
  };
  setTimeout(go, 50);
  setTimeout(go, 300);
}
"""
# Filters are read from the form (web/filters.js) when a question is sent, so what is on screen is what is searched.
READ_FILTERS_JS = """
(...args) => {
  const f = window.qaFilters ? window.qaFilters() : {since: '', until: '', publisher: ''};
  args[%d] = f.since; args[%d] = f.until; args[%d] = f.publisher;
  return args;
}
"""


# ---------------------------------------------------------------------------
# Templates


def _nl2br(text: str) -> Markup:
    return Markup("<br>").join(escape(part) for part in str(text).split("\n"))


def _code_spans(text: str) -> Markup:
    """Escaped text with `qa build` shown as code."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(nl2br=_nl2br, code_spans=_code_spans)


def render(template: str, **context) -> str:
    return _env.get_template(template).render(**context).strip()


def web_file(name: str) -> str:
    return (WEB / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Formatting: qa objects -> what the templates show (tested without a browser)


def human_date(d: date | None) -> str:
    """`5 February 2024`."""
    return f"{d.day} {d:%B %Y}" if d else ""


def confidence(value: float) -> dict:
    """How sure an answer is, as a person reads it: label, css level and percent."""
    v = min(max(float(value), 0.0), 1.0)
    label, level = next((lab, lev) for floor, lab, lev in CONFIDENCE_LEVELS if v >= floor)
    return {"label": label, "level": level, "percent": round(v * 100)}


def meta_line(publisher, published, authors) -> str:
    """`Publisher · 5 February 2024 · by A, B`, leaving out what the article does not state."""
    parts = [publisher or "Unknown publisher", human_date(published) or "Undated"]
    if authors:
        parts.append("by " + ", ".join(authors))
    return " · ".join(parts)


def safe_url(url: str | None) -> str | None:
    """The article's address when it is an http(s) link (never a javascript: or file: one)."""
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return None
    return url


def mark_paragraphs(text: str, marks: Sequence[tuple[int, int, str]] = (), base: int = 0) -> list[list[tuple[str, str]]]:
    """text split into paragraphs, each a list of (text, css classes) runs; a run inside marked spans gets the classes
    of every span covering it ("" when none).

    Offsets are in the article's coordinates; `base` is where `text` starts in the article. Spans may overlap (a
    sentence inside a passage) and cross paragraph breaks.
    """
    spans = [(max(s - base, 0), min(e - base, len(text)), c) for s, e, c in marks if e - base > 0 and s - base < len(text) and e > s]
    paragraphs = []
    for para in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text):
        ps, pe = para.start(), para.end()
        cuts = sorted({ps, pe, *(x for s, e, _ in spans for x in (s, e) if ps < x < pe)})
        runs = []
        for a, b in zip(cuts, cuts[1:]):
            classes = [c for s, e, c in spans if s <= a and b <= e]
            runs.append((text[a:b], " ".join(dict.fromkeys(classes))))
        paragraphs.append(runs)
    return paragraphs


def shown_passages(answer: qa.Answer, k: int) -> list[qa.Passage]:
    """The passages to show, ranked: k sources (the one holding the sentence always among them) or, when there is no
    answer sentence, at most MAX_RELATED related passages."""
    passages = list(answer.passages)
    if answer.sentence is None:
        return passages[: min(k, MAX_RELATED)]
    passages = passages[:k]
    if answer.passage is not None and not any(answer.sentence_in(p) for p in passages):
        passages = [answer.passage, *passages[: max(k - 1, 0)]]
    return passages


def source_labels(passages: Sequence[qa.Passage]) -> list[str]:
    """One line per source for the sources list, all different: `[n] citation · “first words…”`."""
    labels = []
    for n, p in enumerate(passages, 1):
        words = p.text.split()
        snippet = " ".join(words[:SNIPPET_WORDS]) + ("…" if len(words) > SNIPPET_WORDS else "")
        labels.append(f"[{n}] {p.citation} · “{snippet}”")
    return labels  # the [n] prefix alone keeps them unique


def _card(n: int, p: qa.Passage, answer: qa.Answer) -> dict:
    span = answer.sentence_in(p)
    marks = [(*span, "qa-sentence")] if span else []
    return {
        "n": n,
        "title": p.title or p.doc_id,
        "meta": meta_line(p.publisher, p.published, p.authors),
        "citation": p.citation,
        "url": safe_url(p.url),
        "holds": bool(span),
        "paragraphs": mark_paragraphs(p.text, marks, base=p.start),
    }


def _headline(answer: qa.Answer) -> str:
    if answer.reason == qa.FILTERED_OUT:
        return "No articles match these filters."
    scope = f" {answer.filters.description}" if answer.filters.active else ""
    return f"Not in the articles{scope}."  # "Not in the articles published on or after 2022-01-01."


def _explanation(answer: qa.Answer) -> str:
    """Why there is no sure answer; for filters that exclude everything the headline and filter line say it all."""
    return "" if answer.reason == qa.FILTERED_OUT else answer.explanation


def reply_context(answer: qa.Answer, turn: int, k: int) -> dict:
    """Everything the reply templates show for one answer."""
    passages = shown_passages(answer, k)
    cards = [_card(n, p, answer) for n, p in enumerate(passages, 1)]
    ref = next((c["n"] for c in cards if c["holds"]), None)
    has_sentence = answer.outcome in (qa.ANSWERED, qa.UNSURE) and answer.sentence is not None
    return {
        "outcome": answer.outcome if has_sentence else qa.NOT_FOUND,
        "turn": turn,
        "sentence": answer.sentence or "",
        "ref": ref,
        "conf": confidence(answer.confidence),
        "explanation": _explanation(answer),
        "headline": _headline(answer),
        "filtered_out": answer.reason == qa.FILTERED_OUT,
        "filters": answer.filters.description if answer.filters.active else "",
        "searched": answer.query if answer.query.strip() != answer.question.strip() else "",
        "cards": cards,
        "related": not has_sentence,
    }


def plain_text(answer: qa.Answer, k: int = DEFAULT_K) -> str:
    """The reply as plain text (for "Copy answer"): the answer sentence, then numbered citations (title, publisher,
    date, URL when known)."""
    ctx = reply_context(answer, 0, k)
    ref = f" [{ctx['ref']}]" if ctx["ref"] else ""
    if ctx["outcome"] == qa.ANSWERED:
        lines = [ctx["sentence"] + ref]
    elif ctx["outcome"] == qa.UNSURE:
        lines = [f"Closest passage (may not answer the question): {ctx['sentence']}{ref}"]
    else:
        lines = [f"{ctx['headline']} {ctx['explanation']}".strip()]
    if ctx["filters"]:
        lines.append(f"Searched only articles {ctx['filters']}")
    if ctx["cards"]:
        lines += ["", "Related passages:" if ctx["related"] else "Sources:"]
        lines += [f"[{c['n']}] {c['citation']}" + (f" {c['url']}" if c["url"] else "") for c in ctx["cards"]]
    return "\n".join(lines)


def spoken_text(answer: qa.Answer, k: int = DEFAULT_K) -> str:
    """What a screen reader hears for the reply: its kind and confidence, then the plain text."""
    ctx = reply_context(answer, 0, k)
    if ctx["outcome"] == qa.ANSWERED:
        kind = f"Answer, {ctx['conf']['label'].lower()} ({ctx['conf']['percent']}%). "
    elif ctx["outcome"] == qa.UNSURE:
        kind = f"No sure answer, {ctx['conf']['label'].lower()} ({ctx['conf']['percent']}%). "
    else:
        kind = ""
    return " ".join((kind + plain_text(answer, k)).split())


def format_reply(answer: qa.Answer, turn: int = 0, k: int = DEFAULT_K) -> str:
    """A whole chat reply as HTML."""
    return render("reply.html", plain=plain_text(answer, k), spoken=spoken_text(answer, k), **reply_context(answer, turn, k))


def format_question(question: str, reask: str = "") -> str:
    """The user's own words as a chat bubble (Gradio renders it as sanitised HTML, Markdown off)."""
    return render("question.html", question=question.strip(), reask=reask)


def format_article(article: qa.Article, start: int | None = None, end: int | None = None,
                   sentence: tuple[int, int] | None = None, cited: str = "") -> str:
    """The whole cleaned article for the viewer, the cited passage (and answer sentence) marked."""
    marks = []
    if start is not None and end is not None:
        marks.append((start, end, "qa-cited"))
    if sentence:
        marks.append((sentence[0], sentence[1], "qa-sentence"))
    return render(
        "article.html",
        title=article.title or article.doc_id,
        meta=meta_line(article.publisher, article.published, article.authors),
        url=safe_url(article.url),
        cited=cited,
        paras=mark_paragraphs(article.text, marks),
    )


def format_viewer_message(message: str = VIEWER_EMPTY) -> str:
    return render("viewer_empty.html", message=message)


def format_sources(turn: int | None = None, question: str = "", labels: Sequence[str] = (), selected: int | None = None,
                   related: bool = False) -> str:
    """The sources of one answer as a radio group (or a hint when there is none)."""
    if turn is None or not labels:
        return render("sources.html", items=[], empty=SOURCES_EMPTY, turn=0, legend="", selected=None)
    short = question if len(question) <= 80 else question[:79] + "…"
    legend = f"{'Related passages' if related else 'Sources'} for “{short}”"
    items = [{"n": n, "label": label} for n, label in enumerate(labels, 1)]
    return render("sources.html", items=items, empty="", turn=turn, legend=legend, selected=selected)


def built_date(info: qa.IndexInfo) -> str:
    built = info.built
    return human_date(built.date()) if built else "at an unknown time"


def date_range(info: qa.IndexInfo) -> str:
    if not info.first_published:
        return ""
    if info.first_published == info.last_published:
        return human_date(info.first_published)
    return f"{human_date(info.first_published)} to {human_date(info.last_published)}"


def format_status(info: qa.IndexInfo) -> str:
    return render("status.html", articles=len(info.articles), passages=info.passages, range=date_range(info), built=built_date(info))


def format_corpus(info: qa.IndexInfo) -> str:
    """The corpus panel: counts, build date, every article with its metadata; titles open the viewer."""
    articles = [
        {
            "key": quote(a.doc_id, safe=""),
            "title": a.title or a.doc_id,
            "publisher": a.publisher or "—",
            "date": a.published.isoformat() if a.published else "—",
            "authors": ", ".join(a.authors) or "—",
        }
        for a in info.articles
    ]
    return render("corpus.html", articles=articles, passages=info.passages, built=built_date(info))


def format_filters(info: qa.IndexInfo | None = None, since: str = "", until: str = "", publisher: str = "") -> str:
    """The filter form; with the index known, its publishers and the articles' date range. `since`, `until` and
    `publisher` are what the form holds (a form drawn anew after a rebuild keeps them, even a publisher the index
    no longer has)."""
    first = info.first_published if info else None
    last = info.last_published if info else None
    undated = sum(1 for a in info.articles if not a.published) if info else 0
    publishers = list(info.publishers) if info else []
    if publisher and publisher not in publishers:
        publishers.append(publisher)
    return render(
        "filters.html",
        publishers=publishers,
        chosen={"since": since or "", "until": until or "", "publisher": publisher or ""},
        first=first.isoformat() if first else "",
        last=last.isoformat() if last else "",
        first_human=human_date(first),
        last_human=human_date(last),
        undated=undated if first else 0,
    )


INDEX_PROBLEMS = (
    (qa.IndexNotFoundError, "There is no article index yet."),
    (qa.IndexCorruptError, "The article index is damaged."),
    (qa.IndexMismatchError, "The article index was built by another version of qa or with another model."),
    (qa.ModelError, "The embedding model is missing or failed its integrity check."),
)


def index_problem(exc: BaseException) -> str:
    """What a visitor is told about an unusable index: the kind of problem and the fix, never a server path."""
    what = next((text for cls, text in INDEX_PROBLEMS if isinstance(exc, cls)), "The article index can’t be used.")
    return f"{what} Rebuild it with `qa build` (the server log has the details)."


def format_banner(exc: BaseException) -> str:
    return render("banner.html", message=index_problem(exc))


def format_notice(message: str = "") -> str:
    return render("notice.html", message=message)


def error_message(exc: BaseException) -> str:
    """A friendly, traceback-free sentence for anything qa.ask can raise; the question is always kept."""
    if isinstance(exc, ValueError):
        msg = str(exc).strip() or "That question can't be answered as asked."
        stop = "" if msg[-1] in ".!?…" else "."  # the library's messages may end without one
        return f"{msg[:1].upper()}{msg[1:]}{stop} Your question is still in the box."
    if isinstance(exc, qa.QAError):
        return f"The article index can’t be used. {index_problem(exc)}"
    return "Something went wrong while answering. Your question is still in the box: please try again; if it keeps happening, check the server log."


# ---------------------------------------------------------------------------
# The chat's state (plain Python; the UI wiring is in build_ui)


@dataclass(frozen=True)
class Cite:
    """What the viewer needs to open one source of a reply."""

    doc_id: str
    start: int
    end: int
    sentence: tuple[int, int] | None


@dataclass(frozen=True)
class Turn:
    """One answered question: what was asked, with which follow-up memory, and the sources shown."""

    question: str
    history: tuple[qa.Answer, ...]  # the earlier answers of its topic, most recent last
    cites: tuple[Cite, ...]
    labels: tuple[str, ...]
    related: bool  # the sources are related passages, not an answer's


@dataclass(frozen=True)
class Session:
    """One visitor's chat. `memory` holds the answers of the current topic (follow-ups are resolved against their
    questions and sentences: "he" in "Why is he ...?" from the earlier answer); "New topic" and the
    trash icon empty it. `turns` keeps every reply's sources, so a citation in an earlier reply still opens."""

    turns: tuple[Turn, ...] = ()
    memory: tuple[qa.Answer, ...] = ()
    last: int | None = None  # the current topic's last turn: asked again when a filter changes
    shown: int | None = None  # the turn whose sources are listed
    index_view: int | None = None  # index_key of the index the page's status, article list and filters show


@dataclass(frozen=True)
class Result:
    """What one question produced: the chat messages to add and how the sources and viewer change."""

    session: Session
    messages: tuple[dict, ...]
    sources: str
    viewer: str


class InputError(ValueError):
    """A filter field the visitor typed that is not a date."""


def _ui_date(value, label: str) -> str | None:
    """A date field's text, or None when empty; anything but YYYY-MM-DD is refused (never guessed at)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    if not DATE_FORMAT.fullmatch(text):
        raise InputError(f"{label}: “{text}” is not a date. Type it as YYYY-MM-DD (e.g. 2022-04-01) or pick it on the calendar. Nothing was searched.")
    return text


def _k(value) -> int:
    try:
        return min(max(int(value), 1), MAX_K)
    except (TypeError, ValueError):
        return DEFAULT_K


def ask(session: Session, question: str, history: Sequence[qa.Answer], k=DEFAULT_K, since=None, until=None, publisher=None,
        reask: bool = False) -> Result:
    """Ask qa and turn its answer into a chat turn. Raises ValueError / qa.QAError, leaving the session unchanged."""
    k = _k(k)
    answer = qa.ask(
        question,
        history=list(history),
        k=k,
        since=_ui_date(since, "Published since"),
        until=_ui_date(until, "Published until"),
        publisher=publisher or None,
    )
    turn_no = len(session.turns)
    passages = shown_passages(answer, k)
    cites = tuple(Cite(p.doc_id, p.start, p.end, answer.sentence_in(p)) for p in passages)
    related = answer.sentence is None
    turn = Turn(answer.question, tuple(history), cites, tuple(source_labels(passages)), related)
    memory = session.memory if reask else (*session.memory, answer)[-MAX_HISTORY:]
    session = replace(session, turns=(*session.turns, turn), memory=memory, last=turn_no, shown=turn_no)
    opened = next((n for n, c in enumerate(cites, 1) if c.sentence), None)
    if opened is None:  # no answer sentence: list the related passages, but open none as if it were the source
        sources = format_sources(turn_no, answer.question, turn.labels, None, related)
        viewer = format_viewer_message(RELATED_EMPTY if cites else VIEWER_EMPTY)
    else:  # open the source holding the answer sentence at once
        sources = format_sources(turn_no, answer.question, turn.labels, opened, related)
        viewer = open_cite(cites[opened - 1], opened)
    note = ""
    if reask:  # asked again because a filter changed: say so in the question's bubble
        active = answer.filters.active
        note = f"asked again, only articles {answer.filters.description}" if active else "asked again without filters"
    messages = (
        {"role": "user", "content": format_question(answer.question, note)},
        {"role": "assistant", "content": format_reply(answer, turn_no, k)},
    )
    return Result(session, messages, sources, viewer)


def open_cite(cite: Cite, n: int | None = None) -> str:
    """The viewer's HTML for one source."""
    try:
        article = qa.get_article(cite.doc_id)
    except KeyError:
        return format_viewer_message("That article is no longer in the index (it was rebuilt). Ask again to refresh the sources.")
    except Exception as exc:
        log.exception("opening %s failed", cite.doc_id)
        return format_viewer_message(error_message(exc))
    what = "the passage is shaded, the answer sentence in yellow" if cite.sentence else "the cited passage is shaded"
    cited = f"Source [{n}]: {what}." if n else ""
    return format_article(article, cite.start, cite.end, cite.sentence, cited)


def open_document(doc_id: str) -> str:
    try:
        return format_article(qa.get_article(doc_id))
    except KeyError:
        return format_viewer_message("That article is no longer in the index (it was rebuilt). Reload the page.")


def view_source(session: Session, turn=None, n=None, doc=None) -> tuple[str | None, str, Session]:
    """Open source n of reply `turn` (or a whole article by id): (new sources list or None to keep it, viewer,
    session). Anything out of range leaves the page as it is."""
    if isinstance(doc, str) and doc:
        return None, open_document(unquote(doc)), session
    if not isinstance(turn, int) or not isinstance(n, int) or not 0 <= turn < len(session.turns):
        return None, format_viewer_message("That answer’s sources are no longer available: ask again."), session
    t = session.turns[turn]
    if not 1 <= n <= len(t.cites):
        return None, format_viewer_message(VIEWER_EMPTY), session
    sources = None if session.shown == turn else format_sources(turn, t.question, t.labels, n, t.related)
    return sources, open_cite(t.cites[n - 1], n), replace(session, shown=turn)


def new_topic(session: Session) -> Session:
    """Forget the follow-up memory and what the side panel shows; earlier replies' citations still open."""
    return replace(session, memory=(), last=None, shown=None)


# ---------------------------------------------------------------------------
# Corpus-derived things, loaded once per index build (in the background at start-up)

_corpus_lock = threading.Lock()
_corpus_cache: dict[str, tuple[str, ...]] = {}


def examples(info: qa.IndexInfo) -> tuple[str, ...]:
    """Example questions for this index (qa.example_questions), cached per build."""
    key = f"{info.index_dir}@{info.built_at}"
    with _corpus_lock:
        if key not in _corpus_cache:
            try:
                _corpus_cache[key] = qa.example_questions(N_EXAMPLES, index_dir=info.index_dir)
            except Exception:  # no examples is better than no page
                log.exception("choosing example questions failed")
                _corpus_cache[key] = ()
        return _corpus_cache[key]


def corpus_state():
    """(status line, corpus panel, filter form, info) — or the missing-index banner when the index can't be loaded."""
    try:
        info = qa.index_info()
    except Exception as exc:  # the page must still come up without an index
        log.warning("the article index can't be used: %s", exc)
        if not isinstance(exc, qa.QAError):
            log.exception("reading the index failed")
        return format_banner(exc), format_banner(exc), format_filters(None), None
    return format_status(info), format_corpus(info), format_filters(info), info


def index_key(info: qa.IndexInfo | None) -> int | None:
    """What the status line, the article list and the filter form show of an index, as one number (None: no
    index)."""
    return None if info is None else hash((info.built_at, info.passages, info.articles))


def index_news(
    session: Session, since: str = "", until: str = "", publisher: str = ""
) -> tuple[Session, str | None, str | None, str | None]:
    """After a question: the status line, the article list and the filter form (its publishers and date range,
    holding `since`, `until` and `publisher` as the visitor left them) anew, when the index differs from the one the
    page shows (a `qa build` while it was open; an update in place can finish within the second its manifest's time
    names, so its articles are compared too); (session, None, None, None) when it does not. Nothing is rendered
    then."""
    try:
        info = qa.index_info()
    except Exception:  # the question was answered; a problem with the index shows with the next one
        return session, None, None, None
    key = index_key(info)
    if key == session.index_view:
        return session, None, None, None
    form = format_filters(info, since, until, publisher)
    return replace(session, index_view=key), format_status(info), format_corpus(info), form


# ---------------------------------------------------------------------------
# The page


def import_gradio():
    """Import Gradio without its import-time stub writer.

    Every `import gradio` re-parses each component's source file with `ast` to regenerate typing stubs (.pyi) beside
    it (`gradio.component_meta.create_or_modify_pyi`): a development aid that is about half of Gradio's import time
    here (bench/startup.py). The app has no use for the stubs, so that one function is made a no-op as its module
    loads. If a Gradio release renames it, nothing is patched and the import is merely slower.
    """
    import importlib.abc
    import importlib.machinery
    import sys

    if "gradio" in sys.modules:
        return sys.modules["gradio"]

    class SkipStubs(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "gradio.component_meta":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            load = spec.loader.exec_module

            def exec_module(module):
                load(module)
                if callable(getattr(module, "create_or_modify_pyi", None)):
                    module.create_or_modify_pyi = lambda *args, **kwargs: None

            spec.loader.exec_module = exec_module
            return spec

    finder = SkipStubs()
    sys.meta_path.insert(0, finder)
    try:
        import gradio
    finally:
        sys.meta_path.remove(finder)
    return gradio


def build_ui(gr=None):
    """The Blocks page. It does not touch the index: status, filters and examples arrive with the page's load event."""
    gr = gr or import_gradio()

    with gr.Blocks(title="Ask the articles") as demo:
        session = gr.State(Session())
        gr.HTML(
            "<h1>Ask the articles</h1><p>Answers quote the indexed news articles; every [n] opens its source.</p>",
            elem_id="qa-header",
        )
        status = gr.HTML('<div class="qa-status">Loading the article index…</div>', elem_id="qa-status")

        with gr.Row(equal_height=False, elem_id="qa-layout"):
            with gr.Column(scale=3, min_width=420, elem_id="qa-main"):
                chatbot = gr.Chatbot(
                    elem_id="qa-chat",
                    show_label=False,
                    height="60vh",
                    min_height=300,
                    autoscroll=False,
                    latex_delimiters=[],
                    render_markdown=False,
                    feedback_options=None,
                    placeholder="<strong>Ask a question about the articles</strong>",
                    buttons=[],
                )
                with gr.Row(elem_id="qa-inputbar"):
                    msg = gr.Textbox(
                        elem_id="qa-input",
                        label="Your question",
                        show_label=False,
                        placeholder="Ask about the articles… (Enter to send)",
                        scale=6,
                        container=False,
                        lines=1,
                        max_lines=4,
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="qa-send")
                    topic = gr.Button("New topic", variant="secondary", scale=1, min_width=110, elem_id="qa-new-topic")
                    sheet = gr.Button("Sources", variant="secondary", scale=1, min_width=90, elem_id="qa-open-side")
                notice = gr.HTML("", elem_id="qa-notice")
                with gr.Accordion("Search options", open=True, elem_id="qa-options"):
                    k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Passages to cite", elem_id="qa-k")
                    filters = gr.HTML(format_filters(None), elem_id="qa-filters", js_on_load=web_file("filters.js"))
                    # What the form holds is copied here when a question is sent (READ_FILTERS_JS); API callers set them.
                    since = gr.Textbox(visible="hidden", label="since", elem_id="qa-since-value")
                    until = gr.Textbox(visible="hidden", label="until", elem_id="qa-until-value")
                    publisher = gr.Textbox(visible="hidden", label="publisher", elem_id="qa-publisher-value")
            with gr.Column(scale=2, min_width=320, elem_id="qa-side"):
                sources = gr.HTML(format_sources(), elem_id="qa-sources", js_on_load=web_file("page.js"))
                viewer = gr.HTML(format_viewer_message(), elem_id="qa-viewer", js_on_load=web_file("viewer.js"),
                                 container=True, padding=True)

        with gr.Accordion("Indexed articles", open=False, elem_id="qa-corpus-panel"):
            corpus = gr.HTML("", elem_id="qa-corpus")

        def respond(message, chat, k_value, since_value, until_value, publisher_value, state):
            text = message if isinstance(message, str) else ""
            unchanged = (gr.skip(),) * 5
            if not text.strip():  # nothing is asked; say what to do (spaces typed stay in the box)
                return *unchanged, format_notice(NO_QUESTION), gr.skip(), gr.skip(), gr.skip()
            try:
                result = ask(state, text, state.memory, k_value, since_value, until_value, publisher_value)
            except (ValueError, qa.QAError) as exc:
                return *unchanged, format_notice(error_message(exc)), gr.skip(), gr.skip(), gr.skip()
            except Exception as exc:  # a bug must not reach the page as a traceback, nor lose the question
                log.exception("answering %r failed", text[:200])
                return *unchanged, format_notice(error_message(exc)), gr.skip(), gr.skip(), gr.skip()
            chat = [*(chat or []), *result.messages]
            # a rebuild since the page loaded
            state, *news = index_news(result.session, since_value, until_value, publisher_value)
            fresh = [gr.skip() if html is None else html for html in news]
            return "", chat, state, result.sources, result.viewer, format_notice(), *fresh

        def reask(chat, k_value, since_value, until_value, publisher_value, state):
            if state.last is None:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), format_notice()
            t = state.turns[state.last]
            try:
                result = ask(state, t.question, t.history, k_value, since_value, until_value, publisher_value, reask=True)
            except (ValueError, qa.QAError) as exc:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), format_notice(error_message(exc).replace(" Your question is still in the box.", ""))
            return [*(chat or []), *result.messages], result.session, result.sources, result.viewer, format_notice()

        def pick(state, evt: gr.EventData):
            new_sources, view, state = view_source(state, getattr(evt, "turn", None), getattr(evt, "n", None), getattr(evt, "doc", None))
            return (gr.skip() if new_sources is None else new_sources), view, state

        def start_new_topic(chat, state):
            chat = list(chat or [])
            if chat:
                chat.append({"role": "assistant", "content": render("topic.html")})
            return chat, new_topic(state), format_sources(), format_viewer_message(), format_notice()

        def cleared():  # Gradio's trash icon has emptied the chat: forget everything else too
            return Session(), format_sources(), format_viewer_message(), format_notice()

        def from_example(evt: gr.SelectData):
            value = evt.value
            return value.get("text", "") if isinstance(value, dict) else str(value)

        def refresh(state):
            status_html, corpus_html, filters_html, info = corpus_state()
            return status_html, corpus_html, filters_html, replace(state, index_view=index_key(info))

        def load_examples():
            _, _, _, info = corpus_state()
            shown = examples(info) if info else ()
            return gr.Chatbot(examples=[{"text": q} for q in shown] or None)

        ask_inputs = [msg, chatbot, k, since, until, publisher, session]
        ask_outputs = [msg, chatbot, session, sources, viewer, notice, status, corpus, filters]
        read_ask = READ_FILTERS_JS % (3, 4, 5)
        msg.submit(respond, ask_inputs, ask_outputs, js=read_ask, api_name="ask").then(None, js=CHAT_SCROLL_JS)
        send.click(respond, ask_inputs, ask_outputs, js=read_ask, api_visibility="private").then(None, js=CHAT_SCROLL_JS)
        chatbot.example_select(from_example, None, msg, api_visibility="private").then(
            respond, ask_inputs, ask_outputs, js=read_ask, api_visibility="private"
        ).then(None, js=CHAT_SCROLL_JS)
        filters.submit(
            reask, [chatbot, k, since, until, publisher, session], [chatbot, session, sources, viewer, notice],
            js=READ_FILTERS_JS % (2, 3, 4), api_visibility="private",
        ).then(None, js=CHAT_SCROLL_JS)
        sources.click(pick, [session], [sources, viewer, session], api_visibility="private")
        topic.click(start_new_topic, [chatbot, session], [chatbot, session, sources, viewer, notice], api_visibility="private")
        chatbot.clear(cleared, None, [session, sources, viewer, notice], api_visibility="private")
        sheet.click(None, js="() => window.qaOpenSheet && window.qaOpenSheet(true)")
        demo.load(refresh, [session], [status, corpus, filters, session], api_visibility="private")
        demo.load(load_examples, None, chatbot, api_visibility="private")
    return demo


def _warm_up() -> None:
    """Load the index and the query model, and choose the example questions, so the first visitor waits for nothing."""
    try:
        qa.ask("warm up")
        examples(qa.index_info())
    except Exception:  # a missing index is reported in the page, not here
        pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat with the article index in your browser.")
    parser.add_argument("--host", default=os.environ.get("QA_HOST", "127.0.0.1"), help="interface to bind (default 127.0.0.1: this machine only; $QA_HOST)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("QA_PORT", "7860")), help="port (default 7860; $QA_PORT)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    parser.add_argument("--seeds", metavar="FOLDER", default=None,
                        help="a folder of .txt/.html/.md/.mhtml/.json/.jsonl articles: build its index (or bring it "
                             "up to date), then serve it")
    parser.add_argument("--index", metavar="DIR|URI", default=None,
                        help="the index to serve (default $QA_INDEX_URI, then $QA_INDEX_DIR, then embeddings/); "
                             "with --seeds, where to build it (default: a folder of its own under ~/.cache/qa/indexes)")
    return parser.parse_args(argv)


def use_index(args: argparse.Namespace) -> str | None:
    """Point the app at --index, after building --seeds into it; returns the index served (None: the default).
    A build that fails exits with its message, before anything is served."""
    index = args.index
    if args.seeds is not None:
        index = index or str(qa_config.folder_index_dir(args.seeds))
        print(f"Building the index of {args.seeds} in {index} ...", flush=True)
        try:
            report = qa.build(Path(args.seeds).expanduser(), index, progress=sys.stderr.isatty())
        except (qa.QAError, ValueError) as exc:
            raise SystemExit(f"error: {exc}") from exc
        changed = f"{len(report.embedded)} new or changed" if report.changed else "nothing changed"
        skipped = (f"; {len(report.skipped)} files skipped, `qa build --seeds {args.seeds} --index {index}` says why"
                   if report.skipped else "")
        print(f"  {report.articles} articles, {report.passages} passages ({changed}){skipped}", flush=True)
    if index is None:
        return None
    if str(index).startswith("milvus://"):
        os.environ["QA_INDEX_URI"] = str(index)
    else:
        os.environ.pop("QA_INDEX_URI", None)  # a URI in the environment would be served instead
        os.environ["QA_INDEX_DIR"] = str(Path(index).expanduser())
    return str(index)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    use_index(args)
    demo = build_ui(import_gradio())
    # Two answers at once: measured ~30% more throughput under 50 concurrent users (bench/load.py); more gains nothing.
    demo.queue(default_concurrency_limit=2).launch(
        server_name=args.host, server_port=args.port, share=args.share, css=web_file("app.css"), show_error=False,
        prevent_thread_lock=True,
    )
    # The page is served first; the index and model load meanwhile, off the start-up path.
    threading.Thread(target=_warm_up, daemon=True).start()
    demo.block_thread()


if __name__ == "__main__":
    main()
