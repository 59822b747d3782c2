"""Gradio chat over the article index: formats what the qa API returns, nothing more."""
import argparse
import html
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Sequence

import qa

log = logging.getLogger("qa.app")

EXAMPLES = [
    "Who is Samat Abish?",
    "Who became acting prime minister of Kazakhstan?",
    "Did Kazakhstan recognise Luhansk and Donetsk?",
]
ALL_PUBLISHERS = "All publishers"
DEFAULT_K = 5
MAX_K = 20
MAX_HISTORY = 10  # earlier questions kept per session for follow-ups
MAX_SHOWN_QUESTION = 500  # a pasted essay is echoed shortened; qa itself rejects > 2000 characters
SOURCES_LABEL = "Sources of the last answer — pick one to read the article"
RELATED_LABEL = "Related passages (not an answer) — pick one to read the article"
VIEWER_PLACEHOLDER = '<div class="qa-viewer-empty">Ask a question, then pick one of its sources to read the whole article here.</div>'

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
# After the user picks a source, also bring the highlighted passage into the window (the viewer may sit below the fold).
PICK_SCROLL_JS = """
() => {
  const go = () => document.querySelector('#qa-viewer .qa-cited')?.scrollIntoView({block: 'center'});
  setTimeout(go, 80);
  setTimeout(go, 350);
}
"""

# Runs in the browser after the viewer re-renders: scroll the article box (not the page) to the cited passage,
# so a new answer's source is in place without yanking the window away from the chat.
VIEWER_JS = """
watch('value', () => {
  const box = element.querySelector('.qa-article-body');
  const mark = element.querySelector('.qa-cited');
  if (!box || !mark) return;
  const offset = mark.getBoundingClientRect().top - box.getBoundingClientRect().top;
  box.scrollTop += offset - box.clientHeight / 4;
});
"""

CSS = """
.qa-reply { display: flex; flex-direction: column; gap: 10px; }
.qa-answer { font-size: 1.05em; line-height: 1.5; padding: 10px 12px; border-left: 4px solid #2f7d32;
  background: rgba(47,125,50,.08); border-radius: 6px; }
.qa-answer-label { font-size: .8em; text-transform: uppercase; letter-spacing: .04em; opacity: .75; margin-bottom: 2px; }
.qa-ref { font-size: .8em; font-weight: 600; opacity: .8; margin-left: 4px; white-space: nowrap; }
.qa-searched { font-size: .85em; opacity: .8; font-style: italic; }
.qa-notfound { padding: 10px 12px; border-left: 4px solid #b26a00; background: rgba(178,106,0,.09); border-radius: 6px; }
.qa-error { padding: 10px 12px; border-left: 4px solid #b3261e; background: rgba(179,38,30,.08); border-radius: 6px; }
.qa-section { font-size: .8em; text-transform: uppercase; letter-spacing: .05em; opacity: .75; margin-top: 4px; }
.qa-related { border: 2px dashed rgba(128,128,128,.55); border-radius: 8px; padding: 8px; display: flex;
  flex-direction: column; gap: 8px; opacity: .85; }
.qa-card { border: 1px solid rgba(128,128,128,.35); border-radius: 8px; padding: 8px 10px; }
.qa-card-head { display: flex; gap: 8px; align-items: baseline; }
.qa-num { font-weight: 700; border-radius: 4px; padding: 0 6px; background: rgba(128,128,128,.2); white-space: nowrap; }
.qa-title { font-weight: 600; font-size: 1em; }
.qa-meta { font-size: .85em; opacity: .8; margin: 2px 0 4px; }
.qa-rel { display: flex; align-items: center; gap: 8px; font-size: .8em; margin-bottom: 4px; }
.qa-bar { display: inline-block; width: 90px; height: 7px; border-radius: 4px; background: rgba(128,128,128,.25); overflow: hidden; }
.qa-bar-fill { display: block; height: 100%; border-radius: 4px; }
.qa-strong .qa-bar-fill { background: #2f7d32; } .qa-good .qa-bar-fill { background: #5c9d31; }
.qa-partial .qa-bar-fill { background: #c49000; } .qa-weak .qa-bar-fill { background: #9e9e9e; }
.qa-passage { font-size: .93em; line-height: 1.5; }
.qa-passage p, .qa-article-body p { margin: 0 0 .6em 0; }
mark.qa-sentence, mark.qa-cited.qa-sentence { background: #ffe066; color: #1a1a1a; padding: 0 1px; border-radius: 2px; }
mark.qa-cited { background: rgba(255, 224, 102, .35); color: inherit; }
.qa-hint { font-size: .8em; opacity: .7; }
.qa-banner { padding: 10px 12px; border-left: 4px solid #b3261e; background: rgba(179,38,30,.08); border-radius: 6px; }
.qa-status { font-size: .9em; opacity: .8; }
.qa-article h3 { margin: 0 0 4px 0; }
.qa-article-body { max-height: 62vh; overflow-y: auto; padding-right: 8px; margin-top: 8px; line-height: 1.55; }
.qa-viewer-empty { opacity: .7; font-style: italic; padding: 12px 0; }
.qa-corpus table { border-collapse: collapse; width: 100%; font-size: .9em; }
.qa-corpus th, .qa-corpus td { border-bottom: 1px solid rgba(128,128,128,.3); padding: 4px 6px; text-align: left; vertical-align: top; }
"""


# ---------------------------------------------------------------------------
# Formatting: pure functions from qa objects to escaped HTML (tested without a browser)


def esc(value: object) -> str:
    """Anything from an article or its metadata, as inert HTML text."""
    return html.escape("" if value is None else str(value), quote=True)


def escape_md(text: str) -> str:
    """Text for a Markdown context: neutralise Markdown and LaTeX syntax, then escape HTML.

    Backslashes go in first so the entities html.escape makes (`&lt;`) are not broken by them.
    """
    out = re.sub(r"([\\`*_{}\[\]()#+\-.!|~$])", r"\\\1", text)  # < > & are left to html.escape
    return html.escape(out, quote=False)


def _code_spans(escaped: str) -> str:
    """Show `qa build` in an already-escaped message as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def relevance(score: float) -> tuple[str, str, int]:
    """A score as a person reads it: (label, css class, bar width in percent)."""
    s = min(max(float(score), 0.0), 1.0)
    if s >= 0.75:
        label, cls = "Strong match", "qa-strong"
    elif s >= 0.5:
        label, cls = "Good match", "qa-good"
    elif s >= 0.3:
        label, cls = "Partial match", "qa-partial"
    else:
        label, cls = "Weak match", "qa-weak"
    return label, cls, max(4, round(s * 100))


def highlight(text: str, marks: Sequence[tuple[int, int, str]] = (), base: int = 0) -> str:
    """text as escaped HTML paragraphs, with `<mark>` around each (start, end, css class) span.

    Offsets are in the article's coordinates; `base` is where `text` starts in the article. Spans may overlap
    (a sentence inside a passage) and cross paragraph breaks; each run of characters gets the classes of every
    span covering it.
    """
    spans = [(max(s - base, 0), min(e - base, len(text)), c) for s, e, c in marks if e - base > 0 and s - base < len(text) and e > s]
    out = []
    for para in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text):
        ps, pe = para.start(), para.end()
        cuts = sorted({ps, pe, *(x for s, e, _ in spans for x in (s, e) if ps < x < pe)})
        pieces = []
        for a, b in zip(cuts, cuts[1:]):
            piece = esc(text[a:b]).replace("\n", "<br>")
            classes = [c for s, e, c in spans if s <= a and b <= e]
            pieces.append(f'<mark class="{" ".join(dict.fromkeys(classes))}">{piece}</mark>' if classes else piece)
        out.append(f"<p>{''.join(pieces)}</p>")
    return "".join(out)


def _sentence_mark(answer, passage) -> list[tuple[int, int, str]]:
    """The answer sentence's span, if it falls inside this passage."""
    span = answer.sentence_in(passage) if answer.found else None
    return [(*span, "qa-sentence")] if span else []


def meta_line(publisher, published, authors) -> str:
    """`Publisher · 2024-02-05 · by A, B`, leaving out what the article does not state."""
    parts = [esc(publisher) if publisher else "Unknown publisher", esc(published.isoformat()) if published else "Undated"]
    if authors:
        parts.append("by " + ", ".join(esc(a) for a in authors))
    return " · ".join(parts)


def card(num: int, passage, answer=None) -> str:
    """One numbered citation card: title, metadata, relevance bar, passage text with the answer sentence marked."""
    label, cls, width = relevance(passage.score)
    marks = _sentence_mark(answer, passage) if answer is not None else []
    return (
        f'<div class="qa-card" data-num="{num}">'
        f'<div class="qa-card-head"><span class="qa-num">[{num}]</span><span class="qa-title">{esc(passage.title or passage.doc_id)}</span></div>'
        f'<div class="qa-meta">{meta_line(passage.publisher, passage.published, passage.authors)}</div>'
        f'<div class="qa-rel {cls}" title="{label}"><span class="qa-bar"><span class="qa-bar-fill" style="width:{width}%"></span></span>'
        f"<span>{label}</span></div>"
        f'<div class="qa-passage">{highlight(passage.text, marks, base=passage.start)}</div>'
        "</div>"
    )


def cited_passages(answer) -> list:
    """The passages to show, ranked; the one holding the answer sentence is always among them."""
    passages = list(answer.passages)
    if answer.found and answer.passage is not None and all(p.chunk_id != answer.passage.chunk_id for p in passages):
        passages = [answer.passage, *passages[: max(len(passages) - 1, 0)]]
    return passages


def searched_for(answer) -> str:
    """The "searched for" line, shown when a follow-up was expanded with earlier terms."""
    if answer.query.strip() == answer.question.strip():
        return ""
    return f'<div class="qa-searched">searched for: “{esc(answer.query)}”</div>'


def format_reply(answer) -> str:
    """A whole chat reply as one HTML block (no blank lines, so Markdown leaves it alone)."""
    passages = cited_passages(answer)
    parts = ['<div class="qa-reply">']
    if answer.found and answer.sentence:
        ref = next((i for i, p in enumerate(passages, 1) if _sentence_mark(answer, p)), None)
        parts.append(
            '<div class="qa-answer"><div class="qa-answer-label">Answer</div>'
            f"{esc(answer.sentence)}" + (f'<span class="qa-ref">[{ref}]</span>' if ref else "") + "</div>"
        )
        parts.append(searched_for(answer))
        if passages:
            parts.append('<div class="qa-section">Sources</div>')
            parts.extend(card(i, p, answer) for i, p in enumerate(passages, 1))
            parts.append('<div class="qa-hint">Open a source in the panel on the right to read the whole article.</div>')
    else:
        parts.append(
            f'<div class="qa-notfound"><strong>Not in the articles.</strong> {esc(answer.explanation)}</div>'
        )
        parts.append(searched_for(answer))
        if passages:
            parts.append('<div class="qa-related"><div class="qa-section">Related passages (they don’t answer the question)</div>')
            parts.extend(card(i, p) for i, p in enumerate(passages, 1))
            parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def format_error(exc: BaseException) -> str:
    """A friendly, traceback-free message for anything qa.ask can raise."""
    if isinstance(exc, ValueError):
        msg = str(exc).strip() or "That question can't be answered as asked."
        body = esc(msg[:1].upper() + msg[1:])
        return f'<div class="qa-error">⚠️ {_code_spans(body)}</div>'
    if isinstance(exc, qa.QAError):
        return f'<div class="qa-error">⚠️ <strong>The article index can’t be used.</strong> {_code_spans(esc(exc))}</div>'
    return '<div class="qa-error">⚠️ Something went wrong while answering. Please try again; if it keeps happening, check the server log.</div>'


def format_question(message: str) -> str:
    """The user's own words, echoed in the chat as plain text."""
    text = message.strip()
    if len(text) > MAX_SHOWN_QUESTION:
        return escape_md(text[:MAX_SHOWN_QUESTION]) + f"… ({len(text)} characters)"
    return escape_md(text)


def source_label(num: int, passage) -> str:
    """A citation as a line in the sources list (plain text: the radio renders it as text)."""
    return f"[{num}] {passage.citation}"


def format_article(article, start: int | None = None, end: int | None = None, sentence: tuple[int, int] | None = None) -> str:
    """The whole cleaned article for the viewer, the cited passage (and answer sentence) marked."""
    marks = []
    if start is not None and end is not None:
        marks.append((start, end, "qa-cited"))
    if sentence:
        marks.append((sentence[0], sentence[1], "qa-sentence"))
    source = f' · file {esc(article.source)}' if article.source else ""
    return (
        f'<div class="qa-article" data-doc="{esc(article.doc_id)}">'
        f"<h3>{esc(article.title or article.doc_id)}</h3>"
        f'<div class="qa-meta">{meta_line(article.publisher, article.published, article.authors)}{source}</div>'
        f'<div class="qa-article-body">{highlight(article.text, marks)}</div>'
        "</div>"
    )


def format_corpus(info) -> str:
    """The corpus panel: counts, build time, and every article with its metadata."""
    rows = "".join(
        f"<tr><td>{esc(a.title or a.doc_id)}</td><td>{esc(a.publisher or '—')}</td>"
        f"<td>{esc(a.published.isoformat() if a.published else '—')}</td><td>{esc(', '.join(a.authors) or '—')}</td>"
        f"<td><code>{esc(a.source or a.doc_id)}</code></td></tr>"
        for a in info.articles
    )
    return (
        '<div class="qa-corpus">'
        f"<p><strong>{len(info.articles)}</strong> articles, <strong>{info.passages}</strong> passages indexed · "
        f"built {esc(info.built_at)} · model {esc(info.model)} · index <code>{esc(info.index_dir)}</code></p>"
        "<table><thead><tr><th>Title</th><th>Publisher</th><th>Date</th><th>Authors</th><th>File</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def format_status(info) -> str:
    return (
        f'<div class="qa-status">{len(info.articles)} articles · {info.passages} passages · '
        f"index built {esc(info.built_at)}</div>"
    )


def format_banner(exc: BaseException) -> str:
    return (
        '<div class="qa-banner">⚠️ <strong>No usable article index.</strong> '
        f"{_code_spans(esc(exc))} Then reload this page.</div>"
    )


# ---------------------------------------------------------------------------
# Event handlers (plain Python; the UI wiring is in build_ui)


@dataclass(frozen=True)
class Cite:
    """What the viewer needs to open one citation of the last reply."""

    doc_id: str
    start: int
    end: int
    sentence: tuple[int, int] | None


def _date_arg(value):
    return value.strip() if isinstance(value, str) and value.strip() else None


def answer_turn(message, history: Sequence[str], k=DEFAULT_K, since=None, until=None, publisher=None):
    """One chat turn: returns (user bubble text or None, reply HTML, accepted question or None, citations)."""
    text = message if isinstance(message, str) else ""
    user = format_question(text) if text.strip() else None
    try:
        answer = qa.ask(
            text,
            history=list(history),
            k=int(k) if k else DEFAULT_K,
            since=_date_arg(since),
            until=_date_arg(until),
            publisher=None if publisher in (None, "", ALL_PUBLISHERS) else publisher,
        )
    except (ValueError, qa.QAError) as exc:
        return user, format_error(exc), None, []
    except Exception as exc:  # a bug must not reach the page as a traceback
        log.exception("answering %r failed", text[:200])
        return user, format_error(exc), None, []
    passages = cited_passages(answer)
    cites = [
        Cite(p.doc_id, p.start, p.end, (answer.sentence_start, answer.sentence_end) if _sentence_mark(answer, p) else None)
        for p in passages
    ]
    labels = [source_label(i, p) for i, p in enumerate(passages, 1)]
    return user, format_reply(answer), answer.question, list(zip(labels, cites))


def open_cite(cite: Cite | None) -> str:
    """The viewer's HTML for one citation."""
    if cite is None:
        return VIEWER_PLACEHOLDER
    try:
        article = qa.get_article(cite.doc_id)
    except KeyError:
        return '<div class="qa-error">⚠️ That article is no longer in the index (it was rebuilt). Ask again to refresh the sources.</div>'
    except Exception as exc:
        log.exception("opening %s failed", cite.doc_id)
        return format_error(exc)
    return format_article(article, cite.start, cite.end, cite.sentence)


def corpus_state():
    """(status line, corpus panel, publishers) — or the missing-index banner when the index can't be loaded."""
    try:
        info = qa.index_info()
    except Exception as exc:  # the page must still come up without an index
        if not isinstance(exc, qa.QAError):
            log.exception("reading the index failed")
        return format_banner(exc), format_banner(exc), []
    return format_status(info), format_corpus(info), list(info.publishers)


# ---------------------------------------------------------------------------
# The page


def build_ui():
    import gradio as gr

    status0, corpus0, publishers0 = corpus_state()

    with gr.Blocks(title="Ask the articles") as demo:
        questions = gr.State([])  # the user's accepted questions, for follow-ups
        sources = gr.State([])  # [(label, Cite)] of the last reply

        gr.HTML("<h1 style='margin:0'>Ask the articles</h1><p style='margin:2px 0 0 0'>Answers quote the indexed news articles; every claim links to its source.</p>")
        status = gr.HTML(status0, elem_id="qa-status")

        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    elem_id="qa-chat",
                    label="Chat",
                    height=620,
                    autoscroll=False,
                    latex_delimiters=[],
                    feedback_options=None,
                    placeholder="**Ask a question about the articles**, or start with one of these:",
                    examples=[{"text": q} for q in EXAMPLES],
                    buttons=["copy"],
                )
                with gr.Row():
                    msg = gr.Textbox(
                        elem_id="qa-input",
                        show_label=False,
                        placeholder="Ask about the articles… (Enter to send)",
                        scale=6,
                        container=False,
                        lines=1,
                        max_lines=4,
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="qa-send")
                    clear = gr.Button("Clear chat", variant="secondary", scale=1, min_width=140, elem_id="qa-clear")
                with gr.Accordion("Search options", open=True):
                    with gr.Row():
                        k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Passages to cite", elem_id="qa-k")
                        publisher = gr.Dropdown(
                            [ALL_PUBLISHERS, *publishers0], value=ALL_PUBLISHERS, label="Publisher", elem_id="qa-publisher"
                        )
                    with gr.Row():
                        since = gr.DateTime(label="Published since", include_time=False, type="string", elem_id="qa-since")
                        until = gr.DateTime(label="Published until", include_time=False, type="string", elem_id="qa-until")
            with gr.Column(scale=2, min_width=320):
                picker = gr.Radio([], label=SOURCES_LABEL, elem_id="qa-sources")
                viewer = gr.HTML(VIEWER_PLACEHOLDER, elem_id="qa-viewer", js_on_load=VIEWER_JS, container=True, padding=True)

        with gr.Accordion("Indexed articles", open=False, elem_id="qa-corpus-panel"):
            corpus = gr.HTML(corpus0, elem_id="qa-corpus")

        def respond(message, chat, asked, k_value, since_value, until_value, publisher_value):
            user, reply, accepted, cites = answer_turn(message, asked, k_value, since_value, until_value, publisher_value)
            chat = list(chat or [])
            if user is not None:
                chat.append({"role": "user", "content": user})
            chat.append({"role": "assistant", "content": reply})
            asked = [*asked, accepted][-MAX_HISTORY:] if accepted else asked  # qa.ask uses only the last few
            if not cites:
                return "", chat, asked, [], gr.Radio(choices=[], value=None, label=SOURCES_LABEL), VIEWER_PLACEHOLDER
            choices = [(label, i) for i, (label, _) in enumerate(cites)]
            first = next((i for i, (_, c) in enumerate(cites) if c.sentence), None)
            if first is None:  # not answered: list the related passages, but open none as if it were the source
                return "", chat, asked, cites, gr.Radio(choices=choices, value=None, label=RELATED_LABEL), VIEWER_PLACEHOLDER
            # Open the source holding the answer sentence straight away.
            return "", chat, asked, cites, gr.Radio(choices=choices, value=first, label=SOURCES_LABEL), open_cite(cites[first][1])

        def pick(index, cites):
            if index is None or not isinstance(index, int) or not 0 <= index < len(cites):
                return VIEWER_PLACEHOLDER
            return open_cite(cites[index][1])

        def from_example(evt: gr.SelectData):
            value = evt.value
            return value.get("text", "") if isinstance(value, dict) else str(value)

        def reset():
            return [], [], [], gr.Radio(choices=[], value=None, label=SOURCES_LABEL), VIEWER_PLACEHOLDER, ""

        def refresh():
            status_html, corpus_html, pubs = corpus_state()
            return status_html, corpus_html, gr.Dropdown(choices=[ALL_PUBLISHERS, *pubs])

        inputs = [msg, chatbot, questions, k, since, until, publisher]
        outputs = [msg, chatbot, questions, sources, picker, viewer]
        msg.submit(respond, inputs, outputs, api_name="ask").then(None, js=CHAT_SCROLL_JS)
        send.click(respond, inputs, outputs, api_visibility="private").then(None, js=CHAT_SCROLL_JS)
        chatbot.example_select(from_example, None, msg, api_visibility="private").then(
            respond, inputs, outputs, api_visibility="private"
        ).then(None, js=CHAT_SCROLL_JS)
        picker.input(pick, [picker, sources], viewer, api_visibility="private").then(None, js=PICK_SCROLL_JS)
        clear.click(reset, None, [chatbot, questions, sources, picker, viewer, msg], api_visibility="private")
        demo.load(refresh, None, [status, corpus, publisher], api_visibility="private")
    return demo


def _warm_up() -> None:
    """Load the index and the query model in the background so the first question is answered quickly."""
    try:
        qa.ask("warm up")
    except Exception:  # a missing index is reported in the page, not here
        pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat with the article index in your browser.")
    parser.add_argument("--host", default=os.environ.get("QA_HOST", "127.0.0.1"), help="interface to bind (default 127.0.0.1: this machine only; $QA_HOST)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("QA_PORT", "7860")), help="port (default 7860; $QA_PORT)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    threading.Thread(target=_warm_up, daemon=True).start()
    # Two answers at once: measured ~30% more throughput under 50 concurrent users (bench/load.py); more gains nothing.
    build_ui().queue(default_concurrency_limit=2).launch(server_name=args.host, server_port=args.port, share=args.share, css=CSS, show_error=False)


if __name__ == "__main__":
    main()
