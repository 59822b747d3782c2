"""The chat's formatting and session logic without a browser: escaping, outcomes, citations, filters, memory."""
from __future__ import annotations

import dataclasses
import html
import os
import re
import subprocess
import sys
from datetime import date

import pytest

import app
import qa

from .conftest import ROOT, TINY_ARTICLE, bench_module

PUTIN_TITLE = "Putin holds 'private' talks with Kazakhstan's ex-president"
EVIL = '<script>window.__xss=1</script> and <img src=x onerror="window.__xss=1">'


def visible_text(fragment: str) -> str:
    """What a browser shows for an HTML fragment (tags and hidden spans dropped, entities decoded)."""
    fragment = re.sub(r"<span class=\"qa-(plain|spoken)\" hidden>.*?</span>", "", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def make_passage(text: str, start: int, *, doc_id="doc", title="A title", score=0.8, **kw) -> qa.Passage:
    return qa.Passage(
        chunk_id=f"{doc_id}:0000", doc_id=doc_id, text=text, start=start, end=start + len(text), score=score, title=title, **kw
    )


def make_answer(outcome=qa.ANSWERED, confidence=0.9, reason=None, filters=qa.Filters(), url=None, n=4) -> qa.Answer:
    text = "First sentence here. The harbour reopened in May. Last one."
    passages = tuple(
        make_passage(text, 100 * i, doc_id=f"d{i}", title=f"Title {i}", publisher="Example News", published=date(2023, 3, i + 1), url=url)
        for i in range(n)
    )
    if outcome == qa.NOT_FOUND:
        return qa.Answer("q?", "q?", outcome, 0.0, passages, reason=reason, filters=filters)
    s = text.index("The harbour")
    return qa.Answer(
        "When did the harbour reopen?", "When did the harbour reopen?", outcome, confidence, passages,
        sentence="The harbour reopened in May.", sentence_start=200 + s, sentence_end=200 + s + 28, passage=passages[2],
        reason=reason, filters=filters,
    )


@pytest.fixture(scope="module")
def samat():
    return qa.ask("Who is Samat Abish?")


# --- escaping (autoescaping templates) --------------------------------------------------------------------------


def test_markup_in_passages_answers_and_articles_is_shown_as_text():
    text = f"First paragraph.\n\nThe note read {EVIL} verbatim."
    s = text.index("The note")
    p = make_passage(text, 0, title=f"Title {EVIL}", publisher="<b>Pub</b>", authors=("<i>Ann</i>",))
    ans = qa.Answer("q", "q", qa.ANSWERED, 0.9, (p,), sentence=text[s:], sentence_start=s, sentence_end=len(text), passage=p)
    reply = app.format_reply(ans)
    assert "<script" not in reply and "<img" not in reply and "<b>" not in reply and "<i>" not in reply
    assert f"The note read {EVIL} verbatim." in visible_text(reply) and f"Title {EVIL}" in visible_text(reply)
    article = qa.Article(doc_id="d", title=EVIL, publisher=None, published=None, authors=(), text=text)
    view = app.format_article(article, 0, len(text), (s, len(text)))
    assert "<script" not in view and EVIL in visible_text(view)
    assert "<script" not in app.format_question(EVIL) and EVIL in visible_text(app.format_question(EVIL))


def test_highlight_marks_exact_offsets_across_paragraphs():
    paras = app.mark_paragraphs("One two.\n\nThree four.\nFive.", [(4, 15, "qa-cited"), (10, 17, "qa-sentence")])
    assert paras == [
        [("One ", ""), ("two.", "qa-cited")],
        [("Three", "qa-cited qa-sentence"), (" f", "qa-sentence"), ("our.\nFive.", "")],
    ]
    assert app.mark_paragraphs("Alpha beta.", [(0, 5, "x")], base=100) == [[("Alpha beta.", "")]]


# --- outcomes ---------------------------------------------------------------------------------------------------


def test_answered_unsure_and_not_found_look_different_and_say_how_sure():
    answered = app.format_reply(make_answer(qa.ANSWERED, 0.91))
    assert 'class="qa-answer"' in answered and "High confidence · 91%" in visible_text(answered)
    assert "The harbour reopened in May. [3]" in visible_text(answered)
    unsure = app.format_reply(make_answer(qa.UNSURE, 0.31, reason=qa.LOW_CONFIDENCE))
    assert 'class="qa-unsure"' in unsure and 'class="qa-answer"' not in unsure
    assert "Closest passage — may not answer this" in visible_text(unsure) and "Low confidence · 31%" in visible_text(unsure)
    missing = app.format_reply(make_answer(qa.NOT_FOUND, reason=qa.NO_MATCH))
    assert visible_text(missing).startswith("Not in the articles. The indexed articles don't answer this question.")
    assert "Related passages" in visible_text(missing) and 'class="qa-answer' not in missing


def test_related_passages_are_capped_and_answers_cite_k():
    missing = app.reply_context(make_answer(qa.NOT_FOUND, reason=qa.NO_MATCH, n=8), 0, 10)
    assert len(missing["cards"]) == app.MAX_RELATED
    answered = make_answer(n=8)
    assert len(app.reply_context(answered, 0, 1)["cards"]) == 1
    # the passage holding the sentence is always shown, even beyond k
    assert app.reply_context(answered, 0, 1)["cards"][0]["holds"]
    assert [c["n"] for c in app.reply_context(answered, 0, 5)["cards"]] == [1, 2, 3, 4, 5]


def test_filters_are_named_on_the_answer_and_empty_filters_have_their_own_message():
    f = qa.Filters(since=date(2022, 1, 1), until=date(2022, 12, 31), publisher="Merkur.de")
    answered = visible_text(app.format_reply(make_answer(filters=f)))
    assert "Searched only articles from Merkur.de published between 2022-01-01 and 2022-12-31" in answered
    empty = visible_text(app.format_reply(make_answer(qa.NOT_FOUND, reason=qa.FILTERED_OUT, filters=f, n=0)))
    assert empty.startswith("No articles match these filters.") and "Not in the articles" not in empty
    scoped = visible_text(app.format_reply(make_answer(qa.NOT_FOUND, reason=qa.NO_MATCH, filters=f)))
    assert scoped.startswith("Not in the articles from Merkur.de published between 2022-01-01 and 2022-12-31.")


def test_missing_kind_of_answer_is_the_reason_shown():
    ans = dataclasses.replace(make_answer(qa.NOT_FOUND, reason=qa.MISSING_TYPE), answer_type="year")
    assert "No passage gives a year for this question." in visible_text(app.format_reply(ans))


def test_real_answer_opens_its_source_and_cites_it(samat):
    session = app.Session()
    result = app.ask(session, "Who is Samat Abish?", ())
    assert samat.outcome == qa.ANSWERED
    assert "Samat Abish" in visible_text(result.messages[1]["content"])
    assert PUTIN_TITLE in visible_text(result.viewer) and 'qa-sentence"' in result.viewer
    assert 'href="#qa-cite-0-1"' in result.messages[1]["content"]


# --- citations ----------------------------------------------------------------------------------------------------


def test_citation_links_card_titles_and_original_url():
    reply = app.format_reply(make_answer(url="https://example.com/a?b=1&c=2"), turn=4)
    assert reply.count('href="#qa-cite-4-3"') == 2  # the [3] after the sentence and card 3's title
    assert 'href="https://example.com/a?b=1&amp;c=2"' in reply
    bad = app.format_reply(make_answer(url="javascript:alert(1)"))
    assert "javascript:" not in bad


def test_source_labels_are_unique_even_for_passages_of_one_article():
    text = "Alpha beta gamma delta epsilon zeta eta theta iota kappa."
    passages = [make_passage(text, 0, doc_id="same"), make_passage(text, 0, doc_id="same")]
    labels = app.source_labels(passages)
    assert len(set(labels)) == 2 and labels[0].startswith("[1] ") and "“Alpha beta gamma" in labels[0]


def test_copy_text_is_the_answer_then_numbered_citations():
    text = app.plain_text(make_answer(url="https://example.com/x"), k=3)
    lines = text.splitlines()
    assert lines[0] == "The harbour reopened in May. [3]"
    assert "Sources:" in lines
    assert lines[-1] == "[3] Title 2 — Example News, 2023-03-03 https://example.com/x"
    assert "<" not in text


def test_earlier_answers_sources_still_open_and_out_of_range_is_harmless():
    s = app.ask(app.Session(), "Who is Samat Abish?", ()).session
    s = app.ask(s, "What is the recipe for beef stroganoff?", s.memory).session
    listed, view, s2 = app.view_source(s, 0, 1)
    assert PUTIN_TITLE in visible_text(view) and s2.shown == 0 and listed is not None
    listed, view, _ = app.view_source(s2, 0, 1)
    assert listed is None  # already listed: the radio group stays as it is
    _, view, same = app.view_source(s, 9, 1)
    assert "no longer available" in view and same == s
    assert "no longer in the index" in app.open_cite(app.Cite("no-such-doc", 0, 5, None))


# --- filters, memory and errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["last year", "2022/04/01", "2022-4-1"])
def test_a_date_that_is_not_a_date_is_refused_and_nothing_is_asked(since):
    s = app.Session()
    with pytest.raises(app.InputError, match="is not a date"):
        app.ask(s, "Who is Samat Abish?", (), since=since)
    assert "Nothing was searched" in app.error_message(app.InputError("x: “last year” is not a date. Nothing was searched."))


def test_filters_apply_and_filters_that_exclude_everything_say_so():
    r = app.ask(app.Session(), "Who is Samat Abish?", (), publisher="Merkur.de")
    reply = visible_text(r.messages[1]["content"])
    assert "Searched only articles from Merkur.de" in reply and "The Kyiv Independent" not in reply
    r = app.ask(app.Session(), "Who is Samat Abish?", (), since="1990-01-01", until="1990-12-31")
    assert visible_text(r.messages[1]["content"]).startswith("No articles match these filters.")


def test_follow_up_memory_is_kept_per_topic_and_reask_does_not_grow_it():
    s = app.ask(app.Session(), "Who is Samat Abish?", ()).session
    s = app.ask(s, "Why is he being investigated?", s.memory).session
    assert [a.question for a in s.memory] == ["Who is Samat Abish?", "Why is he being investigated?"]
    assert [a.question for a in s.turns[1].history] == ["Who is Samat Abish?"]
    assert "Abish" in s.memory[1].query  # "he" was resolved from the earlier answer
    again = app.ask(s, s.turns[1].question, s.turns[1].history, publisher="Merkur.de", reask=True)
    assert again.session.memory == s.memory and len(again.session.turns) == 3
    assert "asked again, only articles from Merkur.de" in visible_text(again.messages[0]["content"])
    fresh = app.new_topic(s)
    assert fresh.memory == () and fresh.last is None and fresh.turns == s.turns  # old citations still open


@pytest.mark.parametrize("question, expected", [("x" * 2001, "2000"), ("   ", "empty")])
def test_bad_questions_raise_value_errors_with_the_fix(question, expected):
    with pytest.raises(ValueError) as err:
        app.ask(app.Session(), question, ())
    assert expected in str(err.value)
    assert app.error_message(err.value).endswith("Your question is still in the box.")


def test_unexpected_errors_and_index_problems_never_show_paths():
    out = app.error_message(RuntimeError("secret /etc/path Traceback"))
    assert "secret" not in out and "/etc" not in out and "try again" in out
    problem = app.index_problem(qa.IndexNotFoundError("no index at /srv/secret/embeddings"))
    assert "/srv" not in problem and "`qa build`" in problem
    assert "<code>qa build</code>" in app.format_banner(qa.IndexNotFoundError("/srv/x"))


@pytest.mark.parametrize("filters, phrase", [
    (qa.Filters(publisher="Merkur.de"), "from Merkur.de"),
    (qa.Filters(since=date(2022, 1, 1)), "published on or after 2022-01-01"),
    (qa.Filters(until=date(2022, 1, 1)), "published on or before 2022-01-01"),
    (qa.Filters(since=date(2022, 1, 1), until=date(2022, 1, 1)), "published on 2022-01-01"),
    (qa.Filters(since=date(2022, 1, 1), until=date(2022, 3, 1), publisher="X"),
     "from X published between 2022-01-01 and 2022-03-01"),
])
def test_filters_read_as_a_phrase_after_articles(filters, phrase):
    assert filters.description == phrase
    reply = visible_text(app.format_reply(make_answer(qa.NOT_FOUND, reason=qa.NO_MATCH, filters=filters)))
    assert reply.startswith(f"Not in the articles {phrase}.") and "→" not in reply


def test_error_messages_end_their_sentence_before_the_reassurance():
    with pytest.raises(ValueError) as err:
        app.ask(app.Session(), "???", ())
    out = app.error_message(err.value)
    assert re.search(r"[a-z]\. Your question is still in the box\.$", out), out
    assert app.error_message(ValueError("Too long!")) == "Too long! Your question is still in the box."


def test_a_rebuild_while_the_page_is_open_updates_its_counts(tiny_seeds, tiny_index, tmp_path, monkeypatch):
    import shutil

    index = shutil.copytree(tiny_index, tmp_path / "idx")
    monkeypatch.setenv("QA_INDEX_DIR", str(index))
    session, status, corpus, form = app.index_news(app.Session())  # the page has shown nothing yet
    assert "3 articles" in visible_text(status) and corpus and form
    assert app.index_news(session) == (session, None, None, None)  # nothing rebuilt: nothing to redraw
    seeds = shutil.copytree(tiny_seeds, tmp_path / "seeds")
    (seeds / "more.txt").write_text(
        "Pond reopens after winter repairs\n\nBy Sam Writer May 5, 2023\n\n" + "The town's old pond reopened to "
        "swimmers on Saturday after three months of repairs to its stone walls and drains, the council said. " * 3
        + "\n\n© 2023 Town Crier", encoding="utf-8")
    qa.build(seeds, index)
    # the visitor had typed a date and chosen a publisher the rebuilt index no longer has
    later, status, corpus, form = app.index_news(session, "2020-01-01", "", "Gone <Press>")
    assert "4 articles" in visible_text(status) and later.index_view != session.index_view
    assert "Pond" in visible_text(corpus)
    assert '<option value="Town Crier">' in form  # the new article's publisher can be chosen
    assert '<option value="Gone &lt;Press&gt;" selected>' in form and 'value="2020-01-01"' in form
    assert 'name="until" value=""' in form


def test_missing_index_is_explained_with_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "no-index"))
    status, corpus, _, info = app.corpus_state()
    assert info is None and "No usable article index" in visible_text(status) and str(tmp_path) not in status
    with pytest.raises(qa.QAError):
        app.ask(app.Session(), "Who is Samat Abish?", ())


# --- status, corpus panel, filter form ------------------------------------------------------------------------------


def test_status_and_corpus_panel_use_human_dates_and_no_paths():
    info = qa.index_info()
    status = visible_text(app.format_status(info))
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", status) and info.index_dir not in status
    assert f"{len(info.articles)} articles · {info.passages} passages" in status
    assert f"index built {app.human_date(info.built.date())}" in status
    corpus = app.format_corpus(info)
    assert info.index_dir not in corpus and corpus.count('class="qa-doc"') == len(info.articles)
    assert "<script" not in app.format_corpus(dataclasses.replace(info, articles=(dataclasses.replace(info.articles[0], title=EVIL),)))


def test_date_picker_is_bounded_by_the_corpus_dates():
    info = qa.index_info()
    form = app.format_filters(info)
    assert f'min="{info.first_published.isoformat()}"' in form and f'max="{info.last_published.isoformat()}"' in form
    assert all(f'<option value="{html.escape(p)}">' in form for p in info.publishers)
    assert info.first_published == min(a.published for a in info.articles if a.published)


# --- start-up ------------------------------------------------------------------------------------------


def test_defaults_bind_localhost_and_flags_are_opt_in(monkeypatch):
    monkeypatch.delenv("QA_HOST", raising=False)
    monkeypatch.delenv("QA_PORT", raising=False)
    args = app.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    args = app.parse_args(["--host", "0.0.0.0", "--port", "9000", "--share"])
    assert (args.host, args.port, args.share) == ("0.0.0.0", 9000, True)


def test_the_chat_builds_and_serves_a_folder_given_on_its_command_line(tmp_path):
    """`make run ARGS="--seeds FOLDER"`: the folder (sub-folders, Markdown) is built, then served and asked."""
    from gradio_client import Client

    from qa.index import load_index

    from .test_markdown import PAGE

    folder, index = tmp_path / "articles", tmp_path / "index"
    (folder / "2023").mkdir(parents=True)
    (folder / "tiny.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    (folder / "2023" / "lake.md").write_text(PAGE, encoding="utf-8")
    load = bench_module("load")
    server = load.Server(tmp_path / "app.log", args=("--seeds", str(folder), "--index", str(index)))
    try:
        server.wait_ready()
        assert f"Building the index of {folder} in {index}" in server.log_tail()
        assert "2 articles" in server.log_tail()
        client = Client(server.url, verbose=False)
        api_name, params = load.chat_endpoint(client)
        reply = str(client.predict(**load.ask_args("Why can farmers no longer reach the lake water?", params),
                                   api_name=api_name))
        assert "Lake level falls to a record low after a dry winter" in reply
    finally:
        server.stop()
    assert sorted(load_index(index).articles) == ["2023/lake", "tiny"]


def test_a_folder_that_cannot_be_built_stops_the_chat_with_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    with pytest.raises(SystemExit, match="error: The seeds folder .*missing does not exist"):
        app.use_index(app.parse_args(["--seeds", str(tmp_path / "missing"), "--index", str(tmp_path / "i")]))
    assert "QA_INDEX_DIR" not in os.environ  # nothing is served from a build that failed


def test_a_folder_without_an_index_gets_one_of_its_own_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    a, b = tmp_path / "one" / "news", tmp_path / "two" / "news"
    assert qa.config.folder_index_dir(a).parent == tmp_path / "cache" / "indexes"
    assert qa.config.folder_index_dir(a).name.startswith("news-")
    assert qa.config.folder_index_dir(a) != qa.config.folder_index_dir(b)  # same name, other folder
    assert qa.config.folder_index_dir(a) == qa.config.folder_index_dir(tmp_path / "one" / "." / "news")


def test_importing_app_does_not_import_gradio():
    code = "import sys, app; print('gradio' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False False"
