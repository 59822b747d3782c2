"""End to end: the real app in a subprocess, used as a person would in headless Chromium (Debian's /usr/bin/chromium),
at desktop (1366×900) and phone (390×844) size. One test per problem a user met (issue #12)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import qa

from .conftest import SEEDS, bench_module

pytestmark = pytest.mark.slow

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
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
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
    contexts = []

    def _open(url: str, viewport=DESKTOP, **kw):
        context = browser.new_context(viewport=viewport, **kw)
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.js_errors = errors
        page.goto(url)
        page.wait_for_selector("#qa-input textarea", timeout=30_000)
        page.wait_for_selector("#qa-filters select", timeout=30_000)  # the load event has filled in the form
        return page

    yield _open
    for context in contexts:
        for page in context.pages:
            assert not getattr(page, "js_errors", []), page.js_errors
        context.close()


def replies(page):
    return page.locator("#qa-chat .qa-reply")


def wait_for_reply(page, before: int):
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=before, timeout=ANSWER_TIMEOUT
    )
    page.wait_for_timeout(900)  # let the sources panel, viewer and the chat scroll (timers at 50 and 300 ms) settle
    return replies(page).nth(before)  # this reply, even after later ones arrive


def ask(page, question: str):
    """Type a question, press Enter, and return the locator of the new reply."""
    before = replies(page).count()
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")
    return wait_for_reply(page, before)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def source_labels(page) -> list[str]:
    return [t.strip() for t in page.locator("#qa-sources label").all_inner_texts()]


def wait_viewer_title(page, title: str):
    from playwright.sync_api import expect

    expect(page.locator("#qa-viewer .qa-article h3")).to_have_text(title)


# 1. Outcome and confidence ------------------------------------------------------------------------------------------


def test_each_reply_shows_the_outcome_qa_returns_with_its_confidence(app_url, open_page):
    from playwright.sync_api import expect

    import app

    page = open_page(app_url)
    # answered, unsure and not found, as qa.ask returns them today for the chat's number of passages (the candidate
    # answer sentences, and so the confidence, come from the passages returned)
    for question in (
        "Who is Samat Abish?", "How old is Tokayev?", "What is the population of Almaty?", "What is the recipe for beef stroganoff?"
    ):
        expected = qa.ask(question, k=app.DEFAULT_K)
        reply = ask(page, question)
        percent = f"{round(expected.confidence * 100)}%"
        if expected.outcome == qa.ANSWERED:
            expect(reply.locator(".qa-answer")).to_contain_text(expected.sentence)
            expect(reply.locator(".qa-answer .qa-confidence")).to_contain_text(percent)
        elif expected.outcome == qa.UNSURE:
            expect(reply.locator(".qa-unsure")).to_contain_text("Closest passage — may not answer this")
            expect(reply.locator(".qa-unsure .qa-confidence")).to_contain_text(percent)
        else:
            expect(reply.locator(".qa-notfound")).to_contain_text("Not in the articles")
            expect(reply.locator(".qa-notfound")).to_contain_text(expected.explanation)
            assert reply.locator(".qa-answer, .qa-unsure").count() == 0
            assert reply.locator(".qa-related .qa-card").count() <= 3
    # The three states look different (the stylesheet, checked on the real page).
    styles = page.evaluate(
        """() => ['qa-answer', 'qa-unsure', 'qa-notfound'].map(c => {
            const d = document.createElement('div'); d.className = c;
            document.querySelector('#qa-chat .qa-reply').appendChild(d);
            const s = getComputedStyle(d); const out = [s.borderLeftStyle, s.borderTopStyle, s.backgroundImage, s.backgroundColor].join('|');
            d.remove(); return out; })"""
    )
    assert len(set(styles)) == 3, styles
    assert "raw score" not in page.content()
    shot(page, "outcomes")


# 2. Filters -------------------------------------------------------------------------------------------------------


def test_changing_a_filter_asks_again_and_names_the_filter(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    ask(page, "Who became acting prime minister?")
    before = replies(page).count()
    page.select_option("#qa-publisher-select", "Merkur.de")
    reply = wait_for_reply(page, before)
    expected = qa.ask("Who became acting prime minister?", publisher="Merkur.de")
    expect(page.locator("#qa-chat .user-row").last).to_contain_text("asked again, only articles from Merkur.de")
    expect(reply.locator(".qa-filterline")).to_have_text("Searched only articles from Merkur.de")
    if expected.outcome == qa.NOT_FOUND:
        expect(reply.locator(".qa-notfound")).to_contain_text("Not in the articles from Merkur.de.")
    metas = reply.locator(".qa-card .qa-meta").all_inner_texts()
    assert all(m.startswith("Merkur.de") for m in metas)
    shot(page, "publisher-filter")


def test_an_invalid_date_is_an_error_and_nothing_is_applied(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    ask(page, "Who is Samat Abish?")
    before = replies(page).count()
    since = page.locator("#qa-since-text")
    for typed in ("last year", "2022/04/01"):
        since.fill(typed)
        since.press("Tab")
        expect(page.locator("#qa-since-error")).to_contain_text(f"“{typed}” is not a date")
        expect(since).to_have_attribute("aria-invalid", "true")
    page.wait_for_timeout(800)
    assert replies(page).count() == before  # not asked again with a guessed date
    box = page.locator("#qa-input textarea")
    box.fill("Who is Samat Abish?")
    box.press("Enter")
    expect(page.locator("#qa-notice")).to_contain_text("is not a date")
    expect(page.locator("#qa-notice")).to_contain_text("Nothing was searched")
    expect(box).to_have_value("Who is Samat Abish?")
    assert replies(page).count() == before
    shot(page, "invalid-date")


def test_filters_that_exclude_everything_say_so(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    page.locator("#qa-since-text").fill("1990-01-01")
    page.locator("#qa-until-text").fill("1990-12-31")
    page.locator("#qa-until-text").press("Tab")
    reply = ask(page, "Who is Samat Abish?")
    expect(reply.locator(".qa-filtered-out")).to_contain_text("No articles match these filters.")
    expect(reply).not_to_contain_text("Not in the articles")
    expected = "Searched only articles published between 1990-01-01 and 1990-12-31"
    expect(reply.locator(".qa-filterline")).to_have_text(expected)


# 3. Citations ------------------------------------------------------------------------------------------------------


def test_citations_and_card_titles_open_their_source_even_from_earlier_answers(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    first = ask(page, "Who is Samat Abish?")
    ask(page, "Which military alliance is dominated by Russia?")
    labels = source_labels(page)
    assert len(labels) == len(set(labels)) and len(labels) == 3  # unique, 3 by default
    # the [n] after the first answer's sentence
    first.locator(".qa-answer .qa-ref").click()
    wait_viewer_title(page, PUTIN_TITLE)
    expect(page.locator("#qa-viewer mark.qa-sentence").first).to_be_in_viewport()
    expect(page.locator("#qa-sources legend")).to_contain_text("Who is Samat Abish?")
    # a card title of the first answer, not the one already open
    cards = first.locator(".qa-card")
    i = next(i for i in range(cards.count()) if cards.nth(i).locator(".qa-title").inner_text().split("] ", 1)[1] != PUTIN_TITLE)
    title = cards.nth(i).locator(".qa-title").inner_text().split("] ", 1)[1]
    cards.nth(i).locator(".qa-title").click()
    wait_viewer_title(page, title)
    cited = page.locator("#qa-viewer mark.qa-cited")
    passage = " ".join(cards.nth(i).locator(".qa-passage p").all_inner_texts())
    page.wait_for_function(
        "p => [...document.querySelectorAll('#qa-viewer mark.qa-cited')].map(m => m.innerText).join(' ').split(/\\s+/).join(' ') === p",
        arg=" ".join(passage.split()), timeout=10_000,
    )
    expect(cited.first).to_be_in_viewport()
    expect(page.locator(f"#qa-sources input[value='0-{i + 1}']")).to_be_checked()
    shot(page, "citation-opened")


# 4. Follow-up memory ---------------------------------------------------------------------------------------------------


def test_new_topic_and_the_trash_icon_clear_memory_sources_and_viewer(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    ask(page, "Who is Samat Abish?")
    follow = ask(page, "Why is he being investigated?")
    expect(follow.locator(".qa-searched")).to_contain_text("Samat Abish")
    page.locator("#qa-new-topic").click()
    expect(page.locator("#qa-sources label")).to_have_count(0)
    expect(page.locator("#qa-viewer .qa-viewer-empty")).to_be_visible()
    expect(page.locator("#qa-chat .qa-topic")).to_be_visible()
    after = ask(page, "Why is he being investigated?")
    assert after.locator(".qa-searched").count() == 0  # nothing from before the new topic
    # earlier answers' citations still open
    replies(page).first.locator(".qa-ref").click()
    wait_viewer_title(page, PUTIN_TITLE)

    ask(page, "Who is Samat Abish?")
    page.locator("#qa-chat button[aria-label='Clear']").click()
    expect(replies(page)).to_have_count(0)
    expect(page.locator("#qa-sources label")).to_have_count(0)
    expect(page.locator("#qa-viewer .qa-viewer-empty")).to_be_visible()
    again = ask(page, "Why is he being investigated?")
    assert again.locator(".qa-searched").count() == 0


# 5. Copy ---------------------------------------------------------------------------------------------------------


def test_copy_gives_the_answer_and_numbered_citations_as_plain_text(app_url, open_page):
    page = open_page(app_url, permissions=["clipboard-read", "clipboard-write"])
    reply = ask(page, "Who is Samat Abish?")
    reply.locator(".qa-copy").click()
    page.wait_for_function("() => document.querySelector('#qa-chat .qa-copy').textContent === 'Copied'")
    text = page.evaluate("() => navigator.clipboard.readText()")
    expected = qa.ask("Who is Samat Abish?")
    lines = text.splitlines()
    assert lines[0].startswith(expected.sentence) and re.search(r"\[\d\]$", lines[0])
    assert "<" not in text and len(text) < 2000
    assert any(line.startswith("[1] ") and "—" in line for line in lines)


# 6. Errors never destroy work ---------------------------------------------------------------------------------------


def test_errors_keep_the_question_and_the_previous_answer(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    ask(page, "Who is Samat Abish?")
    labels = source_labels(page)
    box = page.locator("#qa-input textarea")
    box.press("Enter")  # empty: nothing is asked, and the page says what to do
    expect(page.locator("#qa-notice")).to_contain_text("Type a question in the box")
    page.locator("#qa-send").click()
    expect(page.locator("#qa-notice")).to_contain_text("Type a question in the box")
    assert replies(page).count() == 1 and source_labels(page) == labels
    wait_viewer_title(page, PUTIN_TITLE)
    long = "why " * 600
    box.fill(long)
    box.press("Enter")
    expect(page.locator("#qa-notice")).to_contain_text("2000")
    expect(box).to_have_value(long)
    assert replies(page).count() == 1 and page.locator("#qa-chat .user-row").count() == 1
    assert source_labels(page) == labels
    assert "Traceback" not in page.content()


# 7. Keyboard and screen readers -----------------------------------------------------------------------------------


def test_sources_are_one_tab_stop_with_a_focus_ring_and_the_article_scrolls_by_keyboard(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    ask(page, "Which military alliance is dominated by Russia?")
    radios = page.locator("#qa-sources input[type=radio]")
    assert radios.count() == 3
    page.locator("#qa-sources legend").click()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.name")
    assert focused == "qa-source"
    ring = page.evaluate("() => getComputedStyle(document.activeElement.closest('label')).outlineStyle")
    assert ring == "solid"
    page.keyboard.press("Tab")  # the next Tab leaves the group: one stop for all sources
    assert page.evaluate("() => document.activeElement.name") != "qa-source"
    page.keyboard.press("Shift+Tab")
    start = page.evaluate("() => document.activeElement.value")
    page.keyboard.press("ArrowDown")
    moved = page.evaluate("() => document.activeElement.value")
    assert moved != start
    n = int(moved.split("-")[1])
    title = page.locator("#qa-chat .qa-reply").last.locator(".qa-card").nth(n - 1).locator(".qa-title").inner_text().split("] ", 1)[1]
    wait_viewer_title(page, title)
    body = page.locator("#qa-viewer .qa-article-body")
    body.focus()
    top = body.evaluate("e => e.scrollTop")
    for _ in range(5):
        page.keyboard.press("PageDown")
    page.wait_for_timeout(300)
    if body.evaluate("e => e.scrollHeight > e.clientHeight + 10"):
        assert body.evaluate("e => e.scrollTop") != top
    assert body.get_attribute("tabindex") == "0" and body.get_attribute("aria-label")
    names = page.evaluate("() => [...document.querySelectorAll('#qa-chat [data-testid=bot]')].map(e => e.getAttribute('aria-label'))")
    assert names and all("<" not in name for name in names), names
    assert names[-1].startswith("Answer, ") or names[-1].startswith("Not in the articles")
    expect(page.locator("#qa-sources .qa-source").first).to_be_visible()


# 8. Phone -----------------------------------------------------------------------------------------------------------


def test_phone_keeps_the_input_clear_and_opens_sources_in_place(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url, viewport=PHONE)
    box = page.locator("#qa-input textarea")
    reply = ask(page, "Who is Samat Abish?")
    # nothing lies over the question box
    hit = page.evaluate(
        """() => { const b = document.querySelector('#qa-input textarea').getBoundingClientRect();
           const e = document.elementFromPoint(b.left + 12, b.top + 10); return e && e.closest('#qa-input') !== null; }"""
    )
    assert hit
    reply.locator(".qa-answer .qa-ref").click()
    expect(page.locator("#qa-side")).to_have_class(re.compile("qa-sheet-open"))
    expect(page.locator("#qa-viewer mark.qa-sentence").first).to_be_in_viewport()
    shot(page, "phone-source")
    page.locator(".qa-sheet-close").click()
    expect(page.locator("#qa-side")).not_to_have_class(re.compile("qa-sheet-open"))
    expect(box).to_be_in_viewport()
    page.locator("#qa-open-side").click()
    expect(page.locator("#qa-sources .qa-source").first).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(page.locator("#qa-side")).not_to_have_class(re.compile("qa-sheet-open"))
    shot(page, "phone-answer")


# 9. Clutter and leaks ---------------------------------------------------------------------------------------------


def test_status_dates_picker_and_article_list(app_url, open_page):
    from playwright.sync_api import expect

    info = qa.index_info()
    page = open_page(app_url)
    # the status says "Loading the article index…" until the index is loaded (slower on a busy machine)
    expect(page.locator("#qa-status")).to_contain_text(f"{len(info.articles)} articles · {info.passages} passages", timeout=60_000)
    status = page.locator("#qa-status").inner_text()
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", status) and info.built_at not in status
    assert info.index_dir not in page.content()
    picker = page.locator("#qa-filters input[type=date]").first
    assert picker.get_attribute("min") == info.first_published.isoformat()
    assert picker.get_attribute("max") == info.last_published.isoformat()
    page.locator("#qa-filters .qa-cal").first.click()
    assert page.locator("#qa-filters input[type=date]").first.input_value() == info.first_published.isoformat()
    page.keyboard.press("Escape")
    page.get_by_text("Indexed articles").click()
    rows = page.locator("#qa-corpus tbody tr")
    expect(rows).to_have_count(len(info.articles))
    article = info.articles[-1]
    page.locator("#qa-corpus a.qa-doc", has_text=article.title).click()
    wait_viewer_title(page, article.title)
    shot(page, "corpus")


def test_a_rebuild_while_the_page_is_open_shows_with_the_next_answer(browser, tmp_path_factory, open_page):
    from playwright.sync_api import expect

    seeds = tmp_path_factory.mktemp("grow-seeds")
    shutil.copy(SEEDS / "002_686b9ab0d986a4d5.txt", seeds)
    index = tmp_path_factory.mktemp("grow-index")
    qa.build(seeds, index)
    for url in (s.url for s in serve(tmp_path_factory, "grow-app", index)):
        page = open_page(url)
        expect(page.locator("#qa-status")).to_contain_text("1 article ·", timeout=60_000)
        page.locator("#qa-since-text").fill("2001-01-01")  # a filter set before the rebuild
        page.locator("#qa-since-text").press("Tab")
        (seeds / "pond.txt").write_text(
            "Pond reopens after winter repairs\n\nBy Sam Writer May 5, 2023\n\n" + "The town's old pond reopened to "
            "swimmers on Saturday after three months of repairs to its stone walls and drains, the council said. " * 3
            + "\n\n© 2023 Town Crier", encoding="utf-8")
        qa.build(seeds, index)
        ask(page, "When did the pond reopen?")
        expect(page.locator("#qa-status")).to_contain_text("2 articles")
        # the filter form offers the new article's publisher and keeps what the visitor had typed
        expect(page.locator("#qa-publisher-select option", has_text="Town Crier")).to_have_count(1)
        expect(page.locator("#qa-since-text")).to_have_value("2001-01-01")
        page.get_by_text("Indexed articles").click()
        expect(page.locator("#qa-corpus tbody tr")).to_have_count(2)


# 10. Examples -----------------------------------------------------------------------------------------------------


def test_examples_come_from_the_index_and_are_answered(app_url, open_page):
    from playwright.sync_api import expect

    page = open_page(app_url)
    expected = qa.example_questions(3)
    examples = page.locator("#qa-chat button.example")
    expect(examples.first).to_be_visible(timeout=30_000)
    assert [t.strip() for t in examples.all_inner_texts()] == list(expected)
    shot(page, "start")
    examples.first.click()
    reply = wait_for_reply(page, 0)
    expect(reply.locator(".qa-answer")).to_be_visible()
    expect(page.locator("#qa-chat .user-row").last).to_contain_text(expected[0])


# Escaping and a missing index --------------------------------------------------------------------------------------


def test_markup_in_articles_is_shown_as_text(markup_url, open_page):
    from playwright.sync_api import expect

    page = open_page(markup_url)
    reply = ask(page, "What did the note in the web form read?")
    expect(reply.locator(".qa-answer")).to_contain_text(SCRIPT)
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


def test_app_starts_without_an_index_and_says_how_to_build_it(no_index_url, open_page):
    from playwright.sync_api import expect

    page = open_page(no_index_url)
    expect(page.locator("#qa-status")).to_contain_text("No usable article index")
    expect(page.locator("#qa-status code").first).to_have_text("qa build")
    box = page.locator("#qa-input textarea")
    box.fill("Who is Samat Abish?")
    box.press("Enter")
    expect(page.locator("#qa-notice")).to_contain_text("The article index can’t be used")
    expect(page.locator("#qa-notice code").first).to_have_text("qa build")
    expect(box).to_have_value("Who is Samat Abish?")
    assert "Traceback" not in page.content() and "missing" not in page.locator("#qa-status").inner_text()
