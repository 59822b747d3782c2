"""End to end: the real app in a subprocess, driven in headless Chromium (Debian's /usr/bin/chromium)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import qa

from .conftest import SEEDS, bench_module

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ANSWER_TIMEOUT = 60_000  # ms for one reply
PUTIN_TITLE = "Putin holds 'private' talks with Kazakhstan's ex-president"
SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'

MARKUP_ARTICLE = f"""Home | World | Sport
Subscribe to our newsletter

Harbour <b>officials</b> report record {SCRIPT} catches

By Jane Example March 3, 2023

Fishermen in the port of Aktau said on Friday that their sturgeon catches reached a record this spring, the regional fisheries office said.

A note left in the office's web form read {SCRIPT} and was published unchanged by the local paper.

Another comment contained {IMG} and the text ${{window.__xss=1}} {{{{constructor}}}} *not bold* as typed.

The fisheries office plans to publish the full catch figures for the Caspian coast in May.

Leave a comment
"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests"
        if os.environ.get("QA_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (QA_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()
        pw.stop()


def serve(tmp_path_factory, name: str, index_dir: Path | None = None):
    env = {"QA_INDEX_DIR": str(index_dir or os.environ["QA_INDEX_DIR"])}  # default: the session's seeds index
    server = bench_module("load").Server(tmp_path_factory.mktemp(name) / "app.log", env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def app_url(browser, tmp_path_factory):
    yield from (s.url for s in serve(tmp_path_factory, "app"))


@pytest.fixture(scope="module")
def markup_url(browser, tmp_path_factory):
    seeds = tmp_path_factory.mktemp("markup-seeds")
    shutil.copy(SEEDS / "002_686b9ab0d986a4d5.txt", seeds)
    (seeds / "markup.txt").write_text(MARKUP_ARTICLE, encoding="utf-8")
    index = tmp_path_factory.mktemp("markup-index")
    qa.build(seeds, index)
    yield from (s.url for s in serve(tmp_path_factory, "markup-app", index))


@pytest.fixture(scope="module")
def no_index_url(browser, tmp_path_factory):
    yield from (s.url for s in serve(tmp_path_factory, "no-index-app", tmp_path_factory.mktemp("empty") / "missing"))


@pytest.fixture
def open_page(browser):
    pages = []

    def _open(url: str):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        pages.append(page)
        page.goto(url)
        page.wait_for_selector("#qa-input textarea", timeout=30_000)
        return page

    yield _open
    for page in pages:
        page.context.close()


def replies(page):
    return page.locator("#qa-chat .qa-reply, #qa-chat .qa-error")


def ask(page, question: str):
    """Type a question, press Enter, and return the locator of the new reply."""
    before = replies(page).count()
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-reply, #qa-chat .qa-error').length > n", arg=before, timeout=ANSWER_TIMEOUT
    )
    page.wait_for_timeout(400)  # let the sources panel, viewer and chat scroll settle
    return replies(page).last


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def source_labels(page) -> list[str]:
    return [t.strip() for t in page.locator("#qa-sources label").all_inner_texts()]


def test_question_gets_answer_sentence_and_cited_cards(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    reply = ask(page, "Who is Samat Abish?")
    expect(reply.locator(".qa-answer")).to_contain_text("Samat Abish")
    expect(page.locator("#qa-chat .user-row").last).to_contain_text("Who is Samat Abish?")
    titles = reply.locator(".qa-card .qa-title").all_inner_texts()
    assert PUTIN_TITLE in titles
    assert reply.locator(".qa-card .qa-num").first.inner_text() == "[1]"
    expect(reply.locator(".qa-card mark.qa-sentence").first).to_be_visible()
    expect(reply.locator(".qa-card .qa-rel").first).to_contain_text("match")
    assert any(PUTIN_TITLE in label for label in source_labels(page))
    # The source holding the answer opens at once, with the sentence highlighted.
    expect(page.locator("#qa-viewer mark.qa-sentence").first).to_be_visible()
    assert "Traceback" not in page.content()
    shot(page, "answer")


def test_clicking_a_citation_opens_the_article_with_the_passage_highlighted(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    reply = ask(page, "Which military alliance is dominated by Russia?")
    cards = reply.locator(".qa-card")
    n = cards.count()
    assert n >= 2 and len(source_labels(page)) == n
    for i in (n - 1, 0):  # the last source, then the first, so the viewer really changes
        page.locator("#qa-sources label").nth(i).click()
        title = cards.nth(i).locator(".qa-title").inner_text()
        expect(page.locator("#qa-viewer .qa-article h3")).to_have_text(title)
        cited = page.locator("#qa-viewer mark.qa-cited")
        passage = " ".join(cards.nth(i).locator(".qa-passage p").all_inner_texts())
        # two sources may be passages of the same article: the title is then already right, so wait for the
        # highlight itself to move to this passage
        for _ in range(100):
            if " ".join(cited.all_inner_texts()).split() == passage.split():
                break
            page.wait_for_timeout(100)
        assert " ".join(cited.all_inner_texts()).split() == passage.split()
        expect(cited.first).to_be_in_viewport()
        body_len = len(page.locator("#qa-viewer .qa-article-body").inner_text())
        assert body_len > len(passage)  # the whole article, not just the passage
        shot(page, f"viewer-{i + 1}")


def test_unanswerable_question_says_so_and_sets_related_passages_apart(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    reply = ask(page, "What is the recipe for beef stroganoff?")
    expect(reply.locator(".qa-notfound")).to_contain_text("Not in the articles")
    assert reply.locator(".qa-answer").count() == 0
    related = reply.locator(".qa-related")
    expect(related).to_contain_text("Related passages")
    assert related.locator(".qa-card").count() >= 1
    assert related.evaluate("e => getComputedStyle(e).borderStyle") == "dashed"
    expect(page.locator("#qa-sources")).to_contain_text("Related passages (not an answer)")
    shot(page, "not-found")


def test_follow_up_question_shows_what_was_searched(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    first = ask(page, "Who is Samat Abish?")
    assert first.locator(".qa-searched").count() == 0
    second = ask(page, "Why is he being investigated?")
    expect(second.locator(".qa-searched")).to_contain_text("searched for:")
    expect(second.locator(".qa-searched")).to_contain_text("Samat Abish")
    shot(page, "follow-up")


def test_publisher_filter_limits_citations(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    page.locator("#qa-publisher input").click()
    page.get_by_role("option", name="Merkur.de").click()
    expect(page.locator("#qa-publisher input")).to_have_value("Merkur.de")
    reply = ask(page, "Who is Samat Abish?")
    metas = reply.locator(".qa-card .qa-meta").all_inner_texts()
    assert metas and all(m.startswith("Merkur.de") for m in metas)
    assert all("— Merkur.de" in label for label in source_labels(page))
    shot(page, "publisher-filter")


def test_date_filter_limits_citations(app_url, open_page):
    page = open_page(app_url)
    since = page.locator("#qa-since input")
    since.fill("2024-01-01")
    since.press("Enter")
    reply = ask(page, "Who is Samat Abish?")
    metas = reply.locator(".qa-card .qa-meta").all_inner_texts()
    assert metas
    for meta in metas:
        date = meta.split(" · ")[1]
        assert date >= "2024-01-01", meta


def test_examples_bad_questions_and_clear(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    example = page.locator("#qa-chat").get_by_text("Who is Samat Abish?")
    expect(example).to_be_visible()
    example.click()
    page.wait_for_selector("#qa-chat .qa-reply", timeout=ANSWER_TIMEOUT)
    expect(replies(page).last.locator(".qa-answer")).to_contain_text("Abish")

    empty = ask(page, "")
    expect(empty).to_contain_text("Question is empty")
    long = ask(page, "why " * 600)
    expect(long).to_contain_text("the limit is 2000")
    assert "Traceback" not in page.content()

    page.locator("#qa-clear").click()
    expect(replies(page)).to_have_count(0)
    expect(page.locator("#qa-sources label")).to_have_count(0)
    expect(page.locator("#qa-chat").get_by_text("Who is Samat Abish?")).to_be_visible()


def test_corpus_panel_lists_the_index(app_url, open_page):
    from playwright.sync_api import expect

    info = qa.index_info()
    page = open_page(app_url)
    expect(page.locator("#qa-status")).to_contain_text(f"{len(info.articles)} articles · {info.passages} passages")
    page.get_by_text("Indexed articles").click()
    corpus = page.locator("#qa-corpus")
    expect(corpus).to_contain_text(f"{len(info.articles)} articles, {info.passages} passages indexed")
    expect(corpus).to_contain_text(info.built_at)
    rows = corpus.locator("tbody tr")
    expect(rows).to_have_count(len(info.articles))
    for a in info.articles:
        expect(corpus).to_contain_text(a.title)
    shot(page, "corpus")


def test_markup_in_articles_is_shown_as_text(markup_url, open_page):
    from playwright.sync_api import expect

    page = open_page(markup_url)
    reply = ask(page, "What did the note in the web form read?")
    expect(reply.locator(".qa-answer")).to_contain_text(SCRIPT)
    expect(page.locator("#qa-chat").get_by_text(IMG).first).to_be_visible()
    label = next(i for i, t in enumerate(source_labels(page)) if "Harbour" in t)
    assert "Harbour <b>officials</b> report record " + SCRIPT in source_labels(page)[label]
    page.locator("#qa-sources label").nth(label).click()
    viewer = page.locator("#qa-viewer")
    expect(viewer.locator("h3")).to_have_text(f"Harbour <b>officials</b> report record {SCRIPT} catches")
    expect(viewer).to_contain_text(IMG)
    expect(viewer).to_contain_text("${window.__xss=1} {{constructor}} *not bold*")
    page.get_by_text("Indexed articles").click()
    expect(page.locator("#qa-corpus")).to_contain_text(f"Harbour <b>officials</b> report record {SCRIPT} catches")
    for where in ("#qa-chat", "#qa-viewer", "#qa-corpus", "#qa-sources"):
        assert page.locator(f"{where} script, {where} img[src='x'], {where} b").count() == 0, where
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    shot(page, "markup-as-text")


def test_app_starts_without_an_index_and_says_how_to_build_it(no_index_url, open_page):
    from playwright.sync_api import expect

    page = open_page(no_index_url)
    expect(page.locator("#qa-status")).to_contain_text("No usable article index")
    expect(page.locator("#qa-status code").first).to_have_text("qa build")
    reply = ask(page, "Who is Samat Abish?")
    expect(reply).to_contain_text("The article index can’t be used")
    expect(reply.locator("code").first).to_have_text("qa build")
    assert "Traceback" not in page.content()
    shot(page, "missing-index")
