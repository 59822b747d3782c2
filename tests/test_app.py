"""The chat's formatting functions: escaping, highlighting, not-found replies, follow-ups and friendly errors."""
from __future__ import annotations

import dataclasses
import html
import re
import subprocess
import sys
from datetime import date

import pytest

import app
import qa

from .conftest import ROOT

PUTIN_TITLE = "Putin holds 'private' talks with Kazakhstan's ex-president"
EVIL = '<script>window.__xss=1</script> and <img src=x onerror="window.__xss=1">'


def visible_text(fragment: str) -> str:
    """What a browser shows for an HTML fragment (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def make_passage(text: str, start: int, *, doc_id="doc", title="A title", score=0.8, **kw) -> qa.Passage:
    return qa.Passage(
        chunk_id=f"{doc_id}:0000", doc_id=doc_id, text=text, start=start, end=start + len(text), score=score, title=title, **kw
    )


@pytest.fixture(scope="module")
def samat():
    return qa.ask("Who is Samat Abish?")


@pytest.fixture(scope="module")
def stroganoff():
    return qa.ask("What is the recipe for beef stroganoff?")


# --- escaping -------------------------------------------------------------------------------------------------


def test_markup_in_passages_and_titles_is_escaped_in_cards():
    p = make_passage(f"Officials said {EVIL} today.", 0, title=f"Title {EVIL}", publisher="<b>Pub</b>", authors=("<i>Ann</i>",))
    out = app.card(1, p)
    assert "<script" not in out and "<img" not in out and "<b>" not in out and "<i>" not in out
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in out
    assert f"Title {EVIL}" in visible_text(out)
    assert "<b>Pub</b>" in visible_text(out) and "by <i>Ann</i>" in visible_text(out)


def test_markup_in_the_answer_sentence_and_article_viewer_is_escaped():
    text = f"First paragraph.\n\nThe note read {EVIL} verbatim."
    s = text.index("The note")
    p = make_passage(text, 0, title=EVIL)
    ans = qa.Answer(question="q", query="q", outcome=qa.ANSWERED, confidence=0.9, passages=(p,), sentence=text[s:], sentence_start=s, sentence_end=len(text), passage=p)
    reply = app.format_reply(ans)
    assert "<script" not in reply and "<img" not in reply
    assert f"The note read {EVIL} verbatim." in visible_text(reply)
    article = qa.Article(doc_id="doc", title=EVIL, publisher=None, published=None, authors=(), text=text, source="evil.txt")
    view = app.format_article(article, 0, len(text), (s, len(text)))
    assert "<script" not in view and "<img" not in view
    assert EVIL in visible_text(view)


def test_markdown_context_escapes_markdown_and_html():
    out = app.escape_md("*bold* _it_ [link](http://x) `code` $x$ <script>alert(1)</script> & a > b")
    assert "<script" not in out
    assert r"\*bold\*" in out and r"\[link\]\(http://x\)" in out and r"\$x\$" in out and r"\`code\`" in out
    assert "&lt;script&gt;" in out and "&amp;" in out and "a &gt; b" in out


def test_corpus_panel_escapes_metadata_and_lists_every_article():
    info = qa.index_info()
    out = app.format_corpus(info)
    assert f"<strong>{len(info.articles)}</strong> articles" in out and f"<strong>{info.passages}</strong> passages" in out
    for a in info.articles:
        assert html.escape(a.title) in out
    evil = qa.IndexInfo("/x", "2024-01-01T00:00:00Z", 1, (qa.Article("d", EVIL, EVIL, date(2024, 1, 2), (EVIL,), "t"),), (EVIL,), "m")
    evil_out = app.format_corpus(evil)
    assert "<script" not in evil_out and "<img" not in evil_out and "2024-01-02" in evil_out


# --- highlighting -----------------------------------------------------------------------------------------------


def test_highlight_marks_exact_offsets_with_a_base():
    text = "Alpha beta. Gamma delta. Omega."
    # The passage starts at offset 100 of its article; the sentence "Gamma delta." is at 112..124 there.
    out = app.highlight(text, [(112, 124, "qa-sentence")], base=100)
    assert out == '<p>Alpha beta. <mark class="qa-sentence">Gamma delta.</mark> Omega.</p>'


def test_highlight_nested_spans_and_paragraph_breaks():
    text = "One two.\n\nThree four.\nFive."
    out = app.highlight(text, [(4, 17, "qa-cited"), (10, 15, "qa-sentence")])
    assert out == (
        '<p>One <mark class="qa-cited">two.</mark></p>'
        '<p><mark class="qa-cited qa-sentence">Three</mark><mark class="qa-cited"> f</mark>our.<br>Five.</p>'
    )
    # Spans outside the text, empty spans and no spans leave the text unmarked.
    assert app.highlight(text, [(50, 60, "x"), (3, 3, "y")]) == "<p>One two.</p><p>Three four.<br>Five.</p>"


def test_card_highlights_the_answer_sentence_only_in_passages_that_hold_it(samat):
    assert samat.found and samat.sentence
    holder = samat.passage
    card = app.card(1, holder, samat)
    assert marked(card, "qa-sentence") == samat.sentence
    other = make_passage(holder.text, holder.start, doc_id="another-article")
    assert "qa-sentence" not in app.card(2, other, samat)


def marked(fragment: str, css: str) -> str:
    """The text inside every `<mark>` whose classes include css, joined (line breaks kept as newlines)."""
    parts = re.findall(r'<mark class="([^"]*)">(.*?)</mark>', fragment)
    return "".join(visible_text(body.replace("<br>", "\n")) for classes, body in parts if css in classes.split())


def test_article_viewer_marks_the_cited_passage_at_its_offsets(samat):
    p = samat.passage
    article = qa.get_article(p.doc_id)
    view = app.format_article(article, p.start, p.end, (samat.sentence_start, samat.sentence_end))
    # Paragraph breaks become <p> boundaries, so the marks hold the passage's text without its blank lines.
    assert marked(view, "qa-cited") == "".join(re.findall(r"[^\n]+(?:\n[^\n]+)*", article.text[p.start : p.end]))
    assert marked(view, "qa-sentence") == samat.sentence
    assert visible_text(view).startswith(article.title)
    assert html.escape(article.publisher) in view and article.published.isoformat() in view
    assert html.escape(article.authors[0]) in view


# --- replies ----------------------------------------------------------------------------------------------------


def test_found_reply_starts_with_the_answer_then_numbered_cards(samat):
    reply = app.format_reply(samat)
    assert "\n\n" not in reply  # one HTML block: Markdown must not re-parse article text
    text = visible_text(reply)
    assert text.startswith("Answer" + samat.sentence)
    assert "[1]" in text and PUTIN_TITLE in text
    assert reply.count('class="qa-card"') == len(app.cited_passages(samat))
    assert "Not in the articles" not in text and "qa-related" not in reply


def test_scores_are_shown_as_labels_and_bars_not_raw_floats(samat):
    reply = app.format_reply(samat)
    for p in samat.passages:
        assert f"{p.score:.2f}" not in visible_text(reply) and str(p.score) not in reply
    assert re.search(r"(Strong|Good|Partial|Weak) match", visible_text(reply))
    assert [app.relevance(s)[0] for s in (0.95, 0.6, 0.35, 0.1)] == ["Strong match", "Good match", "Partial match", "Weak match"]
    assert app.relevance(1.7)[2] == 100 and app.relevance(-1)[2] == 4


def test_not_found_reply_says_so_and_sets_related_passages_apart(stroganoff):
    assert not stroganoff.found
    reply = app.format_reply(stroganoff)
    text = visible_text(reply)
    assert text.startswith("Not in the articles.")
    assert "qa-answer" not in reply and 'qa-section">Sources<' not in reply
    related = reply[reply.index('class="qa-related"') :]
    assert "Related passages (they don’t answer the question)" in visible_text(related)
    assert related.count('class="qa-card"') == len(stroganoff.passages) >= 1
    assert "qa-sentence" not in reply


def test_answer_passage_is_always_among_the_cards(samat):
    p = samat.passage
    weak = [make_passage("Unrelated text.", 0, doc_id=f"d{i}", score=0.1) for i in range(3)]
    ans = dataclasses.replace(samat, passages=tuple(weak))
    shown = app.cited_passages(ans)
    assert shown[0] == p and len(shown) == 3


def test_follow_up_shows_what_was_searched():
    a = qa.ask("Why is he being investigated?", history=["Who is Samat Abish?"])
    assert a.query != a.question and "Abish" in a.query
    line = app.searched_for(a)
    assert visible_text(line) == f"searched for: “{a.query}”"
    assert visible_text(line) in visible_text(app.format_reply(a))
    plain = qa.ask("Who is Samat Abish?")
    assert app.searched_for(plain) == "" and "searched for" not in app.format_reply(plain)


def test_answer_turn_returns_cites_for_the_viewer_and_passes_history():
    user, reply, accepted, cites = app.answer_turn("Why is he being investigated?", ["Who is Samat Abish?"], 3)
    assert user == "Why is he being investigated?" and accepted == "Why is he being investigated?"
    assert "searched for" in reply
    assert 1 <= len(cites) <= 3
    labels = [label for label, _ in cites]
    assert labels[0].startswith("[1] ") and all(label.startswith(f"[{i}] ") for i, label in enumerate(labels, 1))
    opened = [c for _, c in cites if c.sentence]
    assert opened, "the passage holding the answer sentence is marked for the viewer"
    assert "qa-sentence" in app.open_cite(opened[0])


def test_publisher_filter_returns_only_that_publishers_citations():
    _, reply, _, cites = app.answer_turn("Who is Samat Abish?", [], 5, publisher="Merkur.de")
    assert cites and all("— Merkur.de" in label for label, _ in cites)
    assert "The Kyiv Independent" not in visible_text(reply)


# --- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, expected",
    [("", "Question is empty"), ("   ", "Question is empty"), ("x" * 2001, "the limit is 2000")],
)
def test_bad_questions_get_a_friendly_message(question, expected):
    user, reply, accepted, cites = app.answer_turn(question, [])
    assert expected in visible_text(reply) and "Traceback" not in reply
    assert accepted is None and cites == []
    if question.strip():
        assert user.endswith("(2001 characters)") and len(user) < 600
    else:
        assert user is None


def test_bad_filters_get_a_friendly_message():
    _, reply, _, _ = app.answer_turn("Who is Samat Abish?", [], 5, since="2024-05-01", until="2023-01-01")
    assert "swap them" in visible_text(reply)
    _, reply, _, _ = app.answer_turn("Who is Samat Abish?", [], 5, since="last week")
    assert "ISO date" in visible_text(reply)


def test_missing_index_is_explained_with_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "no-index"))
    _, reply, accepted, cites = app.answer_turn("Who is Samat Abish?", [])
    assert "<code>qa build</code>" in reply and "Traceback" not in reply and accepted is None and cites == []
    status, corpus, publishers = app.corpus_state()
    assert "No usable article index" in visible_text(status) and "qa build" in visible_text(status)
    assert corpus == status and publishers == []


def test_unexpected_errors_do_not_leak_details():
    out = app.format_error(RuntimeError("secret /etc/path Traceback"))
    assert "secret" not in out and "Traceback" not in out and "try again" in out


def test_unknown_article_in_viewer_is_friendly():
    out = app.open_cite(app.Cite("no-such-doc", 0, 5, None))
    assert "no longer in the index" in out


# --- start-up ---------------------------------------------------------------------------------------------------


def test_defaults_bind_localhost_and_flags_are_opt_in(monkeypatch):
    monkeypatch.delenv("QA_HOST", raising=False)
    monkeypatch.delenv("QA_PORT", raising=False)
    args = app.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    args = app.parse_args(["--host", "0.0.0.0", "--port", "9000", "--share"])
    assert (args.host, args.port, args.share) == ("0.0.0.0", 9000, True)
    monkeypatch.setenv("QA_HOST", "10.0.0.1")
    monkeypatch.setenv("QA_PORT", "8123")
    assert (app.parse_args([]).host, app.parse_args([]).port) == ("10.0.0.1", 8123)


def test_importing_app_does_not_import_gradio():
    code = "import sys, app; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
