"""Bad input gets a clear answer and harms nothing: questions, k and filters, seed folders, index folders, the CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import qa
from qa import config
from qa.clean import MAX_SEED_BYTES, read_seed
from qa.cli import main
from qa.index import MANIFEST, load_index
from qa.retrieve import check_k
from qa.types import Skipped

from .conftest import ROOT, SEEDS, TINY_ARTICLE, UNREADABLE

ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _article(title: str, byline: str, *paragraphs: str) -> str:
    return f"{title}\n\n{byline}\n\n" + "\n\n".join(paragraphs) + "\n"


EAGLES = _article(
    "Steppe eagles return to Betpak-Dala nesting grounds",
    "By Aigerim Sample April 20, 2023",
    "Steppe eagles have returned to nesting grounds in the Betpak-Dala desert for the first time in a decade, researchers said on Thursday.",
    "A survey team counted forty-two occupied nests along the dry riverbeds north of the Chu River during two weeks in April.",
    "The researchers credited new insulated power lines, which stopped the electrocution of perching birds, for the recovery.",
)
CAFE = _article(
    "Almaty café owners protest a sharp rise in rents",
    "By Dana Example June 1, 2023",
    "Café owners in central Almaty closed their doors for an hour on Monday to protest a sharp rise in commercial rents.",
    "The owners said landlords along Panfilov Street had doubled rents since January, forcing several family businesses to close.",
    "City officials promised to meet the association of restaurateurs before the end of the month.",
)
MARKUP_SENTENCE = 'The budget page showed the literal text <script>alert("budget")</script> where the spending chart should have been.'
MARKUP = _article(
    "Council budget page shows raw code instead of charts",
    "By Olga Placeholder May 9, 2023",
    "The city council of Karaganda published its draft budget on Tuesday, but visitors saw broken formatting on the page.",
    MARKUP_SENTENCE,
    "Officials said a fault in the content system had exposed the <b>raw</b> markup &amp; tags for several hours before the fix.",
)
REPORT_HTML = """<html><head><title>Wind farm opens near Ereymentau | Example Wire</title>
<meta property="og:site_name" content="Example Wire"><meta name="author" content="Ann Writer">
<meta property="article:published_time" content="2023-07-04"></head>
<body><article><h1>Wind farm opens near Ereymentau</h1>
<p>A wind farm with forty turbines began supplying power to the northern grid near Ereymentau on Tuesday, the operator said.</p>
<p>The operator expects the farm to cover the electricity needs of about one hundred thousand homes each year.</p></article></body></html>"""
REPORT_TXT = _article(
    "Grain exports rise through Aktau port",
    "By Ann Writer July 5, 2023",
    "Grain shipments through the Caspian port of Aktau rose by a third in the first half of the year, port officials said on Wednesday.",
    "Most of the wheat went to buyers in Iran and Azerbaijan, and new storage silos are planned for next spring.",
)
SECRET = _article(
    "Secret outside article",
    "By Nobody Real March 1, 2023",
    "This OUTSIDEMARKER article lives outside the seeds folder and must never be read into the index by a symlink.",
    "Anyone who follows symlinks blindly would index a file the user never meant to share with the question answering tool.",
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" + bytes(64)
UNICODE_NAME = "Алматы café news"
BAD_NAME = os.fsdecode(b"caf\xe9 latin1 name.txt")


def _write_huge(path: Path, size: int = 50 * 2**20) -> None:
    """A 50 MB file that starts like an article (so only its size can get it skipped), sparse on disk."""
    head = (TINY_ARTICLE * 40).encode()[: 16 * 1024]
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """One build of a folder holding every kind of bad and awkward seed file beside a few good ones."""
    base = tmp_path_factory.mktemp("messy")
    seeds = base / "seeds"
    seeds.mkdir()
    (seeds / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    (seeds / "zz lake again.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    (seeds / "empty.txt").write_bytes(b"")
    (seeds / "image.txt").write_bytes(PNG)
    (seeds / "latin1.txt").write_bytes(CAFE.replace("Almaty", "Shymkent").encode("latin-1"))
    (seeds / "garbled.txt").write_bytes(UNREADABLE)
    (seeds / "eagles.txt").write_bytes(EAGLES.encode("utf-16"))  # with a BOM, as Notepad saves "Unicode"
    (seeds / "menu.txt").write_text("Home\nAbout\nContact\n", encoding="utf-8")
    _write_huge(seeds / "huge.txt")
    (seeds / f"{UNICODE_NAME}.txt").write_text(CAFE, encoding="utf-8")
    (seeds / "markup.txt").write_text(MARKUP, encoding="utf-8")
    (seeds / "report.html").write_text(REPORT_HTML, encoding="utf-8")
    (seeds / "report.txt").write_text(REPORT_TXT, encoding="utf-8")
    (base / "secret.txt").write_text(SECRET, encoding="utf-8")
    (seeds / "outside.txt").symlink_to(base / "secret.txt")
    os.mkfifo(seeds / "pipe.txt")  # opening a FIFO for reading would hang the build
    (seeds / "broken.txt").symlink_to(base / "gone.txt")
    (seeds / BAD_NAME).write_text(REPORT_TXT.replace("Aktau", "Kuryk"), encoding="utf-8")
    index = base / "index"
    report = qa.build(seeds, index)
    return seeds, index, report


EXPECTED_SKIPS = {
    "zz lake again.txt": "duplicate of lake.txt",
    "empty.txt": "empty file",
    "image.txt": "binary file",
    "garbled.txt": "not readable text",
    "menu.txt": "no recognisable article",
    "huge.txt": f"the limit is {MAX_SEED_BYTES // 2**20} MB",
    "outside.txt": "outside the seeds folder",
    "report.txt": "same article id 'report' as report.html",
    "pipe.txt": "not a regular file",
    "broken.txt": "broken symlink",
    BAD_NAME: "file name is not valid UTF-8",
}


def test_messy_seed_folder_skips_each_bad_file_with_its_reason(messy):
    _, _, report = messy
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == set(EXPECTED_SKIPS)
    for name, reason in EXPECTED_SKIPS.items():
        assert reason in reasons[name], (name, reasons[name])
    assert set(load_index(Path(report.index_dir)).articles) == {"lake", "eagles", UNICODE_NAME, "markup", "report", "latin1"}


def test_utf16_with_bom_is_decoded_and_indexed(messy):
    _, index, _ = messy
    a = qa.get_article("eagles", index_dir=index)
    assert a.title == "Steppe eagles return to Betpak-Dala nesting grounds"
    assert "forty-two occupied nests" in a.text and "\x00" not in a.text and "\ufeff" not in a.text
    assert qa.retrieve("How many steppe eagle nests were counted?", k=1, index_dir=index)[0].doc_id == "eagles"


def test_latin1_file_is_read_as_windows_1252_and_indexed(messy):
    _, index, _ = messy
    a = qa.get_article("latin1", index_dir=index)
    assert "Café owners in central Shymkent" in a.text and "\ufffd" not in a.text


def test_non_ascii_file_name_with_spaces_is_an_article_id(messy):
    _, index, _ = messy
    a = qa.get_article(UNICODE_NAME, index_dir=index)
    assert a.source == f"{UNICODE_NAME}.txt" and "Panfilov Street" in a.text
    top = qa.retrieve("Why did café owners in Almaty protest?", k=1, index_dir=index)[0]
    assert top.doc_id == UNICODE_NAME


def test_markup_in_an_article_is_kept_as_literal_text(messy):
    _, index, _ = messy
    text = qa.get_article("markup", index_dir=index).text
    assert MARKUP_SENTENCE in text
    assert "<b>raw</b> markup &amp; tags" in text
    for p in qa.retrieve("budget page script alert", k=3, index_dir=index):
        assert qa.get_article(p.doc_id, index_dir=index).text[p.start : p.end] == p.text


def test_symlink_target_outside_the_folder_is_never_read(messy):
    _, index, _ = messy
    assert all("OUTSIDEMARKER" not in a.text for a in load_index(index).articles.values())


def test_articles_in_sub_folders_are_read_and_named_by_their_path(tmp_path):
    """A folder sorted into sub-folders (by month, by site) is read whole; two files of one name in two sub-folders
    are two articles, each cited by its path. Hidden folders are not read, nor a symlinked folder, nor the folder a
    browser saves beside a page (both reported); files of other kinds are counted."""
    seeds = tmp_path / "seeds"
    for sub in ("2023/04", "2023/06", ".git", "outside"):
        (seeds / sub).mkdir(parents=True)
    (seeds / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    (seeds / "2023/04/story.txt").write_text(EAGLES, encoding="utf-8")
    (seeds / "2023/06/story.txt").write_text(CAFE, encoding="utf-8")
    (seeds / ".git/notes.txt").write_text(REPORT_TXT, encoding="utf-8")
    (seeds / "2023/06/notes.docx").write_text(REPORT_TXT, encoding="utf-8")  # not an article type
    (seeds / "README").write_text(REPORT_TXT, encoding="utf-8")  # nor is a file without a suffix
    (seeds / "2023/.DS_Store").write_bytes(b"\0\0")  # a hidden file is not even counted
    (seeds / "saved_files").mkdir()  # what a browser saves beside saved.html: its frames and scripts, no articles
    (seeds / "saved.html").write_text(REPORT_HTML, encoding="utf-8")
    (seeds / "saved_files/ad-frame.html").write_text(REPORT_HTML.replace("Caspian", "Baltic"), encoding="utf-8")
    (seeds / "saved_files/app.js").write_text("var x = 1;", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/secret.txt").write_text(SECRET, encoding="utf-8")
    (seeds / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    index = tmp_path / "index"
    report = qa.build(seeds, index)
    assert sorted(load_index(index).articles) == ["2023/04/story", "2023/06/story", "lake", "saved"]
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("saved_files", "the files saved with saved.html, not articles"),
        ("linked", "symlinked folder, not followed"),
        ("seeds", "2 files of other kinds not read (.docx 1, no suffix 1); articles are .txt, .html, .htm, .md, "
                  ".markdown, .mhtml, .mht, .webarchive, .json, .jsonl, .ndjson files, or web pages saved under "
                  "another name"),
    ]
    top = qa.retrieve("How many steppe eagle nests were counted?", k=1, index_dir=index)[0]
    assert top.doc_id == "2023/04/story" and qa.get_article(top.doc_id, index_dir=index).source == "2023/04/story.txt"
    assert qa.get_article("2023/06/story", index_dir=index).title == "Almaty café owners protest a sharp rise in rents"
    cleaned = qa.clean_folder(seeds)
    assert [Path(r.source).relative_to(seeds).as_posix() for r in cleaned] == ["2023/04/story.txt", "2023/06/story.txt",
                                                                              "lake.txt", "saved.html",
                                                                              "2023/06/notes.docx", "README"]
    assert [r.article is None for r in cleaned] == [False] * 4 + [True] * 2  # the files of other kinds, not read
    assert [r.article.doc_id for r in cleaned[:4]] == ["2023/04/story", "2023/06/story", "lake", "saved"]
    # moved to another sub-folder: the old article goes, the new one comes, the third is re-used
    (seeds / "2024").mkdir()
    (seeds / "2023/06/story.txt").rename(seeds / "2024/story.txt")
    moved = qa.build(seeds, index)
    assert sorted(load_index(index).articles) == ["2023/04/story", "2024/story", "lake", "saved"]
    assert moved.embedded == () or set(moved.embedded) <= {"2024/story"}
    assert set(moved.reused) >= {"2023/04/story", "lake", "saved"}


def test_a_wget_mirror_pages_saved_under_their_urls_names_are_articles(tmp_path):
    """wget saves https://site/2023/07/04/wind-farm as "2023/07/04/wind-farm" and article.php?id=12 under that name:
    no .html suffix. Files that begin as a web page are read as HTML, named by their whole path; a feed, an icon, a
    text file without a suffix and a FIFO are not (and the FIFO does not hang the listing)."""
    site = tmp_path / "mirror" / "news.example.org"
    (site / "2023/07/04").mkdir(parents=True)
    (site / "news").mkdir()
    (site / "2023/07/04/wind-farm").write_text("<!-- saved -->\n<!DOCTYPE html>\n" + REPORT_HTML, encoding="utf-8")
    eagles = "".join(f"<p>{para}</p>" for para in EAGLES.split("\n\n")[2:])
    (site / "news/article.php?id=12").write_text(f"<html><head><title>Eagles</title></head><body><article>"
                                                 f"<h1>Steppe eagles return</h1>{eagles}</article></body></html>",
                                                 encoding="utf-8")
    (site / "news/article.php?id=13").write_text(REPORT_HTML.replace("Ereymentau", "Shakhtinsk")
                                                 .replace("Wind farm", "Solar plant"), encoding="utf-8")
    (site / "feed").write_text('<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', encoding="utf-8")
    (site / "favicon.ico").write_bytes(PNG)
    (site / "LICENSE").write_text(REPORT_TXT, encoding="utf-8")
    os.mkfifo(site / "pipe")
    index = tmp_path / "index"
    report = qa.build(tmp_path / "mirror", index)
    ids = ["news.example.org/2023/07/04/wind-farm", "news.example.org/news/article.php?id=12",
           "news.example.org/news/article.php?id=13"]
    assert sorted(load_index(index).articles) == ids
    assert [s.reason for s in report.skipped] == [
        "4 files of other kinds not read (no suffix 3, .ico 1); articles are .txt, .html, .htm, .md, .markdown, "
        ".mhtml, .mht, .webarchive, .json, .jsonl, .ndjson files, or web pages saved under another name"]
    top = qa.retrieve("How many steppe eagle nests were counted?", k=1, index_dir=index)[0]
    assert top.doc_id == ids[1] and top.title == "Steppe eagles return"
    a = qa.get_article(ids[0], index_dir=index)
    assert a.title == "Wind farm opens near Ereymentau" and a.source == "news.example.org/2023/07/04/wind-farm"
    assert qa.clean_file(site / "news/article.php?id=13").article.title == "Solar plant opens near Shakhtinsk"


@pytest.mark.parametrize("name", ["story.txt", "story.md"])
def test_page_source_saved_as_text_is_read_as_html(tmp_path, name):
    """`curl URL > story.txt`: the page's source, not a text scrape. Read as one, its tags would be taken for words."""
    p = tmp_path / name
    p.write_text("\n<!DOCTYPE html>\n" + REPORT_HTML, encoding="utf-8")
    r = qa.clean_file(p)
    assert r.article.doc_id == "story" and r.article.title == "Wind farm opens near Ereymentau"
    assert "<" not in r.article.text and "Ereymentau" in r.article.text and r.article.publisher == "Example Wire"


def test_an_unreadable_sub_folder_is_reported_and_the_rest_is_built(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    (seeds / "locked").mkdir(parents=True)
    (seeds / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    (seeds / "locked/story.txt").write_text(EAGLES, encoding="utf-8")
    scandir, blocked = os.scandir, {seeds / "locked"}

    def denied(path="."):  # as for a folder without read permission (chmod does not stop root, who runs CI)
        if Path(path) in blocked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    report = qa.build(seeds, tmp_path / "index")
    locked = (str(seeds / "locked"), "unreadable folder: Permission denied")
    assert [(s.path, s.reason) for s in report.skipped] == [locked]
    assert sorted(load_index(tmp_path / "index").articles) == ["lake"]
    blocked.add(seeds)
    with pytest.raises(qa.BuildError, match="Cannot read the seeds folder"):
        qa.build(seeds, tmp_path / "index")


def test_huge_file_is_refused_without_reading_it(tmp_path):
    p = tmp_path / "huge.txt"
    _write_huge(p)
    tracemalloc.start()
    try:
        r = read_seed(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(r, Skipped) and "50.0 MB" in r.reason and "10 MB" in r.reason
    assert peak < 2**20, f"read_seed allocated {peak} bytes for a file it refuses"


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    r = read_seed(tmp_path / "pipe.txt")
    assert isinstance(r, Skipped) and r.reason == "not a regular file"


def test_file_at_the_size_limit_is_still_read(tmp_path):
    p = tmp_path / "big.txt"
    p.write_bytes((TINY_ARTICLE.encode() * (MAX_SEED_BYTES // len(TINY_ARTICLE) + 1))[:MAX_SEED_BYTES])
    assert not isinstance(read_seed(p), Skipped)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\xff\xfe", "empty file"),  # a BOM and nothing else
        ("  \n".encode("utf-16"), "empty file"),
        (b"\xff\xfe" + b"\x00\xd8A\x00", "not valid UTF-16"),  # a lone surrogate
        (UNREADABLE, "save it as UTF-8"),
    ],
)
def test_odd_encodings_are_reported(tmp_path, data, reason):
    p = tmp_path / "odd.txt"
    p.write_bytes(data)
    r = read_seed(p)
    assert isinstance(r, Skipped) and reason in r.reason


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8"])
def test_any_unicode_encoding_with_a_bom_decodes(tmp_path, encoding):
    p = tmp_path / "a.txt"
    p.write_bytes("\ufeff".encode(encoding) + EAGLES.encode(encoding))
    r = read_seed(p)
    assert not isinstance(r, Skipped) and r.text == EAGLES


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file's size and mtime; the lock file is left out (taking the lock touches it)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.name != ".lock"}


@pytest.mark.parametrize("make_seeds", ["missing", "empty", "only bad files"])
def test_unusable_seed_folder_is_a_build_error_that_leaves_the_index_alone(tiny_index, tmp_path, make_seeds):
    seeds = tmp_path / "seeds"
    if make_seeds != "missing":
        seeds.mkdir()
    if make_seeds == "only bad files":
        (seeds / "empty.txt").write_bytes(b"")
        (seeds / "image.txt").write_bytes(PNG)
        (seeds / "latin1.txt").write_bytes("Café".encode("latin-1"))
    out = shutil.copytree(tiny_index, tmp_path / "idx")
    before = _snapshot(out)
    with pytest.raises(qa.BuildError) as err:
        qa.build(seeds, out)
    msg = str(err.value)
    assert {"missing": "does not exist", "empty": "no .txt, .html, .md, .mhtml, .json or .jsonl files",
            "only bad files": "image.txt: binary"}[make_seeds] in msg
    assert _snapshot(out) == before


# ---------------------------------------------------------------------------
# Questions, k and filters, for both retrieve and ask

BOTH = pytest.mark.parametrize("fn", [qa.retrieve, qa.ask], ids=["retrieve", "ask"])


@BOTH
@pytest.mark.parametrize(
    "question, message",
    [
        ("", "question is empty"),
        ("   \n\t  ", "question is empty"),
        ("?!… --- ...", "no words"),
        ("🙂🤔🔥", "no words"),
        ("\x00\x00\x07\x1b", "question is empty"),
        ("Who is Samat Abish? " * 5000, "the limit is 2000"),
        (None, "must be a string"),
        (b"Lake Balkhash", "must be a string"),
    ],
)
def test_bad_questions_are_refused_with_the_reason(tiny_index, fn, question, message):
    with pytest.raises(ValueError, match=message):
        fn(question, index_dir=tiny_index)


@BOTH
@pytest.mark.parametrize(
    "question",
    [
        "Lake\x00 Balkhash\x1b[31m water\x07 levels",
        "Lake 🌊 Balkhash water 💧 levels?",
        "<script>alert('x')</script> Lake Balkhash water levels",
        "Lake Balkhash'; DROP TABLE articles; -- water levels",
    ],
)
def test_odd_but_valid_questions_are_answered_and_change_nothing(tiny_index, fn, question):
    before = _snapshot(tiny_index)
    r = fn(question, index_dir=tiny_index)
    passages = r if isinstance(r, list) else list(r.passages)
    assert passages and passages[0].doc_id == "lake"
    if not isinstance(r, list):
        assert "\x00" not in r.question and "\x1b" not in r.question
    assert _snapshot(tiny_index) == before


@BOTH
@pytest.mark.parametrize("question", ["a", "Ω", "Каков уровень воды в озере Балхаш?", "巴尔喀什湖的水位是多少", "Wasserstand des Balchaschsees"])
def test_short_and_non_english_questions_get_results_not_errors(tiny_index, fn, question):
    r = fn(question, k=3, index_dir=tiny_index)
    passages = r if isinstance(r, list) else list(r.passages)
    assert 1 <= len(passages) <= 3
    for p in passages:
        assert qa.get_article(p.doc_id, index_dir=tiny_index).text[p.start : p.end] == p.text


@pytest.mark.parametrize("question", ["a", "Ω"])
def test_single_character_is_not_answered(tiny_index, question):
    assert qa.ask(question, index_dir=tiny_index).found is False


@BOTH
def test_lone_surrogate_in_question_is_a_value_error(tiny_index, fn):
    with pytest.raises(ValueError, match="question"):
        fn("Lake \ud800 Balkhash", index_dir=tiny_index)


@BOTH
@pytest.mark.parametrize(
    "k, message",
    [(0, "at least 1"), (-1, "at least 1"), (-(10**9), "at least 1"), (2.5, "positive integer"), ("5", "positive integer"),
     (None, "positive integer"), (True, "positive integer"), (float("nan"), "positive integer"), ([5], "positive integer")],
)
def test_bad_k_is_refused(tiny_index, fn, k, message):
    with pytest.raises(ValueError, match=f"k must be (a )?{message}"):
        fn("Lake Balkhash", k=k, index_dir=tiny_index)


@BOTH
def test_huge_k_is_clamped(tiny_index, fn):
    assert check_k(10**12) == config.MAX_K == 100 and check_k(np.int64(7)) == 7
    r = fn("Lake Balkhash", k=10**12, index_dir=tiny_index)
    passages = r if isinstance(r, list) else list(r.passages)
    assert 1 <= len(passages) <= load_index(tiny_index).manifest["passages"]


@BOTH
def test_unknown_publisher_lists_the_known_ones(tiny_index, fn):
    known = qa.index_info(index_dir=tiny_index).publishers
    assert known
    with pytest.raises(ValueError, match="unknown publisher 'Nope'") as err:
        fn("Lake Balkhash", publisher="Nope", index_dir=tiny_index)
    assert all(p in str(err.value) for p in known)


@BOTH
@pytest.mark.parametrize(
    "filters, message",
    [
        ({"since": "2024-03-01", "until": "2024-01-01"}, r"since \(2024-03-01\) is after until \(2024-01-01\)"),
        ({"since": "last week"}, "ISO date"),
        ({"until": "2024-02-30"}, "ISO date"),
        ({"publisher": 7}, "publisher must be a string"),
    ],
)
def test_bad_filters_are_refused(tiny_index, fn, filters, message):
    with pytest.raises(ValueError, match=message):
        fn("Lake Balkhash", index_dir=tiny_index, **filters)


# ---------------------------------------------------------------------------
# get_article ids

_opened: list[str] = []
_watching = False


def _audit(event: str, args: tuple) -> None:
    if _watching and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@pytest.mark.parametrize("doc_id", ["../../etc/passwd", "/etc/passwd", "..", "lake/../lake", "", None, "lake\x00"])
def test_get_article_with_a_path_like_id_reads_nothing(tiny_index, doc_id):
    global _watching
    qa.index_info(index_dir=tiny_index)  # load the index first: only the id lookup is under watch
    _opened.clear()
    _watching = True
    try:
        with pytest.raises(KeyError, match="No article with id"):
            qa.get_article(doc_id, index_dir=tiny_index)
    finally:
        _watching = False
    assert _opened == []


# ---------------------------------------------------------------------------
# Index folders


def _manifest(d: Path) -> dict:
    return json.loads((d / MANIFEST).read_text())


def _edit(fn):
    def damage(d: Path) -> None:
        m = _manifest(d)
        fn(m)
        (d / MANIFEST).write_text(json.dumps(m))

    return damage


def _data(d: Path, name: str) -> Path:
    return d / _manifest(d)["data_dir"] / name


def _flip_byte(p: Path, at: int) -> None:
    b = bytearray(p.read_bytes())
    b[at] ^= 0xFF
    p.write_bytes(bytes(b))


INDEX_DAMAGE = {
    "missing folder": (lambda d: shutil.rmtree(d), qa.IndexNotFoundError, "No index folder"),
    "empty folder": (lambda d: [shutil.rmtree(p) if p.is_dir() else p.unlink() for p in list(d.iterdir())], qa.IndexNotFoundError, "manifest.json is missing"),
    "one file missing": (lambda d: _data(d, "vectors.f32").unlink(), qa.IndexCorruptError, "is missing"),
    "truncated faiss": (lambda d: _data(d, "index.faiss").write_bytes(_data(d, "index.faiss").read_bytes()[:100]), qa.IndexCorruptError, "truncated"),
    "garbled faiss": (lambda d: _flip_byte(_data(d, "index.faiss"), 40), qa.IndexCorruptError, "checksum"),
    "other model": (_edit(lambda m: m["model"].update(name="other/model")), qa.IndexMismatchError, "built with model 'other/model'"),
    "other dimension": (_edit(lambda m: m["model"].update(dimension=768)), qa.IndexMismatchError, "768-dimensional"),
    "invalid json": (lambda d: (d / MANIFEST).write_text('{"format": 1, "model": '), qa.IndexCorruptError, "unreadable"),
    "json list": (lambda d: (d / MANIFEST).write_text("[1, 2]"), qa.IndexCorruptError, "not a JSON object"),
    "format 0": (_edit(lambda m: m.update(format=0)), qa.IndexMismatchError, "format 0"),
    "no format key": (_edit(lambda m: m.pop("format")), qa.IndexMismatchError, "older version of qa"),
    "no files key": (_edit(lambda m: m.pop("files")), qa.IndexCorruptError, "lacks 'files'"),
    "no model key": (_edit(lambda m: m.pop("model")), qa.IndexCorruptError, "which model"),
    "model not an object": (_edit(lambda m: m.update(model="minilm")), qa.IndexCorruptError, "which model"),
    "data_dir escapes": (_edit(lambda m: m.update(data_dir="../../etc")), qa.IndexCorruptError, "malformed"),
    "file name escapes": (_edit(lambda m: m["files"].update({"../../../etc/passwd": {"size": 1, "sha256": "0"}})), qa.IndexCorruptError, "malformed"),
    "files not an object": (_edit(lambda m: m.update(files=["index.faiss"])), qa.IndexCorruptError, "malformed"),
    "format 1 (before one encoder)": (_edit(lambda m: m.update(format=1)), qa.IndexMismatchError, "format 1"),
    "other export": (_edit(lambda m: m["encoder"].update(export_sha256="0" * 64)), qa.IndexMismatchError, r"export 000000000000.*qa build --force"),
    "other int8 model": (_edit(lambda m: m["encoder"].update(passage_export_sha256="1" * 64)), qa.IndexMismatchError, r"passages 111111111111.*qa build --force"),
    "other runtime": (_edit(lambda m: m["encoder"].update(runtime_version="0.1")), qa.IndexMismatchError, r"onnxruntime 0\.1.*qa build --force"),
    "no encoder": (_edit(lambda m: m.pop("encoder")), qa.IndexMismatchError, "qa build --force"),
    "other token store layout": (_edit(lambda m: m["token_store"].update(codec="pq")), qa.IndexMismatchError, "qa build --force"),
    "token store truncated": (lambda d: _data(d, "token_offsets.i64").write_bytes(_data(d, "token_offsets.i64").read_bytes()[:-8]), qa.IndexCorruptError, "truncated"),
}


@pytest.mark.parametrize("damage", list(INDEX_DAMAGE))
def test_damaged_index_is_a_clear_error_for_retrieve_and_ask(tiny_index, tmp_path, damage):
    fn, exc_type, message = INDEX_DAMAGE[damage]
    d = shutil.copytree(tiny_index, tmp_path / "idx")
    fn(d)
    for call in (qa.retrieve, qa.ask):
        with pytest.raises(exc_type, match=message) as err:
            call("Lake Balkhash", index_dir=d)
        assert "qa build" in str(err.value)


def test_build_replaces_a_hand_edited_manifest(tiny_seeds, tiny_index, tmp_path):
    d = shutil.copytree(tiny_index, tmp_path / "idx")
    (d / MANIFEST).write_text("{oops")
    r = qa.build(tiny_seeds, d)
    assert r.changed and set(r.embedded) == {"000_6870258d6367f5ae", "003_a38c060e4e498b4b", "lake"}
    assert qa.retrieve("Lake Balkhash water level", k=1, index_dir=d)[0].doc_id == "lake"


@pytest.mark.parametrize("where", ["index path is a file", "index path under a file"])
def test_unwritable_index_path_is_a_build_error(tiny_seeds, tmp_path, where):
    f = tmp_path / "file"
    f.write_text("not a folder")
    out = f if where == "index path is a file" else f / "idx"
    with pytest.raises(qa.BuildError, match="--index"):
        qa.build(tiny_seeds, out)
    assert f.read_text() == "not a folder"


@contextmanager
def _write_protected(folder: Path):
    """Make the kernel refuse writes into folder. chmod binds everyone but root; root obeys only the immutable
    attribute (chattr +i), so that is used when running as root, and the test is skipped where neither works."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    else:
        if shutil.which("chattr") is None:
            pytest.skip("running as root, which ignores chmod, and chattr is not installed")
        r = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"running as root, which ignores chmod, and chattr +i failed: {r.stderr.strip()}")
        undo = lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)  # noqa: E731
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            pass
        else:
            (folder / "probe").unlink()
            pytest.skip(f"{folder} stayed writable despite the write protection")
        yield
    finally:
        undo()


def test_read_only_index_folder_is_a_build_error(tiny_seeds, tiny_index, tmp_path, capsys):
    seeds = shutil.copytree(tiny_seeds, tmp_path / "seeds")
    shutil.copy(SEEDS / "002_686b9ab0d986a4d5.txt", seeds)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    old = shutil.copytree(tiny_index, tmp_path / "old")
    (old / ".lock").touch()  # the lock can be taken, so the failure comes from writing the new generation
    before = _snapshot(old)
    with _write_protected(fresh), _write_protected(old):
        with pytest.raises(qa.BuildError, match="Cannot write the index folder"):
            qa.build(seeds, fresh)
        with pytest.raises(qa.BuildError, match="Cannot write the index folder"):
            qa.build(seeds, old)  # embeds the added article, then fails to write it
        _assert_one_line_error(_cli(capsys, "build", "--seeds", str(seeds), "--index", str(fresh)), "Cannot write the index folder")
    assert sorted(load_index(old).articles) == ["000_6870258d6367f5ae", "003_a38c060e4e498b4b", "lake"]
    assert _snapshot(old) == before and list(fresh.iterdir()) == []


# ---------------------------------------------------------------------------
# The command line: every bad input is one line on stderr and a non-zero exit


def _assert_one_line_error(r, message: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0, r.stdout
    assert len(lines) == 1 and lines[0].startswith("qa: error: "), r.stderr
    assert message in lines[0] and "Traceback" not in r.stderr


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(capsys, *argv: str) -> _Result:
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse
        rc = exc.code
    out, err = capsys.readouterr()
    return _Result(rc, out, err)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ask", ""], "question is empty"),
        (["ask", "  \t "], "question is empty"),
        (["ask", "?!..."], "no words"),
        (["ask", "🙂🤔"], "no words"),
        (["ask", "\x00\x1b\x07"], "question is empty"),
        (["ask", "x" * 100_000], "the limit is 2000"),
        (["ask", "Lake Balkhash", "-k", "0"], "k must be at least 1"),
        (["ask", "Lake Balkhash", "-k", "-3"], "k must be at least 1"),
        (["ask", "Lake Balkhash", "-k", "many"], "invalid int value"),
        (["ask", "Lake Balkhash", "-k", "2.5"], "invalid int value"),
        (["ask", "Lake Balkhash", "--publisher", "Nope"], "unknown publisher 'Nope'"),
        (["ask", "Lake Balkhash", "--since", "2024-03-01", "--until", "2024-01-01"], "is after until"),
        (["ask", "Lake Balkhash", "--since", "yesterday"], "ISO date"),
        (["ask"], "required: question"),
        (["ask", "Lake Balkhash", "--bogus"], "unrecognized arguments"),
        ([], "choose a command: build, ask, clean, eval"),
        (["--bogus"], "unrecognized arguments: --bogus; choose a command"),  # not only "a command is required"
        (["bild"], "unknown command 'bild'"),
    ],
)
def test_cli_ask_bad_input(capsys, tiny_index, argv, message):
    if argv[:1] == ["ask"] and len(argv) > 1:
        argv = [*argv, "--index", str(tiny_index)]
    _assert_one_line_error(_cli(capsys, *argv), message)


@pytest.mark.parametrize("damage", ["missing folder", "empty folder", "truncated faiss", "invalid json", "other dimension", "no format key", "data_dir escapes"])
def test_cli_ask_on_a_damaged_index(capsys, tiny_index, tmp_path, damage):
    fn, _, message = INDEX_DAMAGE[damage]
    d = shutil.copytree(tiny_index, tmp_path / "idx")
    fn(d)
    r = _cli(capsys, "ask", "Lake Balkhash", "--index", str(d))
    _assert_one_line_error(r, message)
    assert "qa build" in r.stderr


@pytest.mark.parametrize("question", ["Lake Balkhash'; DROP TABLE articles; --", "<script>alert(1)</script> Lake Balkhash", "Озеро Балхаш", "Lake\x00 Balkhash"])
def test_cli_ask_odd_but_valid_questions(capsys, tiny_index, question):
    r = _cli(capsys, "ask", question, "-k", "2", "--index", str(tiny_index))
    assert r.returncode == 0 and r.stderr == "" and "\n[1] " in "\n" + r.stdout


def test_cli_build_bad_seed_folders(capsys, tmp_path):
    _assert_one_line_error(_cli(capsys, "build", "--seeds", str(tmp_path / "missing"), "--index", str(tmp_path / "i")), "does not exist")
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(_cli(capsys, "build", "--seeds", str(tmp_path / "empty"), "--index", str(tmp_path / "i")),
                           "no .txt, .html, .md, .mhtml, .json or .jsonl files")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "image.txt").write_bytes(PNG)
    (bad / "garbled.txt").write_bytes(UNREADABLE)
    _write_huge(bad / "huge.txt")
    # A file name carrying a terminal escape sequence and a newline is shown, never obeyed.
    (bad / "evil\x1b]0;pwned\x07\nname.txt").write_bytes(b"")
    r = _cli(capsys, "build", "--seeds", str(bad), "--index", str(tmp_path / "i"))
    _assert_one_line_error(r, "No usable article")
    assert "image.txt: binary" in r.stderr and "garbled.txt: not readable text" in r.stderr and "10 MB" in r.stderr
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr and "evil\\x1b]0;pwned\\x07 name.txt: empty file" in r.stderr
    f = tmp_path / "file"
    f.write_text("x")
    _assert_one_line_error(_cli(capsys, "build", "--seeds", str(SEEDS), "--index", str(f)), "is a file, not a folder")
    _assert_one_line_error(_cli(capsys, "build", "--seeds", str(SEEDS), "--index", str(f / "idx")), "Cannot write the index folder")
    assert not (tmp_path / "i").exists()


def test_cli_build_reports_every_skipped_file(capsys, messy, tmp_path):
    seeds, _, _ = messy
    r = _cli(capsys, "build", "--seeds", str(seeds), "--index", str(tmp_path / "idx"))
    assert r.returncode == 0 and r.stderr == ""
    assert "articles:    6" in r.stdout and f"skipped:     {len(EXPECTED_SKIPS)}" in r.stdout
    listed = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("- ")]
    for name, reason in EXPECTED_SKIPS.items():
        assert any(name.split()[-1] in line and reason in line for line in listed), name


def test_cli_escapes_control_characters_in_article_text(capsys, tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "esc.txt").write_text(
        _article("Terminal escapes in a scraped page", "By Ann Writer May 2, 2023",
                 "The scraped page about the Balkhash fishery carried a hidden \x1b]0;owned\x07 escape sequence inside its text.",
                 "Printing it raw would let the page rename the terminal window or worse, so the command line shows it escaped."),
        encoding="utf-8")
    qa.build(seeds, tmp_path / "idx")
    assert "\x1b" in qa.get_article("esc", index_dir=tmp_path / "idx").text  # the library keeps the text verbatim
    r = _cli(capsys, "ask", "Balkhash fishery escape sequence", "-k", "1", "--index", str(tmp_path / "idx"))
    assert r.returncode == 0 and "\x1b" not in r.stdout and "\\x1b]0;owned\\x07" in r.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ask", "   "], "question is empty"),
        (["ask", "Lake Balkhash", "-k", "zero"], "invalid int value"),
        (["ask", "Lake Balkhash", "--index", "{missing}"], "No index folder"),
        (["build", "--seeds", "{missing}", "--index", "{missing}"], "does not exist"),
    ],
)
def test_python_m_qa_errors_are_one_line(tmp_path, argv, message):
    argv = [a.replace("{missing}", str(tmp_path / "missing")) for a in argv]
    r = subprocess.run([sys.executable, "-m", "qa", *argv], capture_output=True, text=True, cwd=tmp_path, env=ENV, timeout=120)
    _assert_one_line_error(r, message)


def test_python_m_qa_question_that_is_not_utf8(tmp_path):
    arg = os.fsdecode(b"Lake \xff Balkhash")  # what a Latin-1 terminal passes as argv
    r = subprocess.run([sys.executable, "-m", "qa", "ask", arg], capture_output=True, text=True, cwd=tmp_path, env=ENV, timeout=120)
    _assert_one_line_error(r, "not valid UTF-8")


def test_cli_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    # `qa clean DIR | head -1`: head closes the pipe (the output is well past a pipe's buffer); qa stops without an
    # error message
    for n in range(12):
        for f in SEEDS.glob("*.txt"):
            shutil.copy(f, tmp_path / f"{n}_{f.name}")
    cmd = f"{sys.executable} -m qa clean {tmp_path} | head -1"
    r = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], capture_output=True, text=True, timeout=300)
    assert r.stdout.startswith("== ") and "error" not in r.stderr and "Broken pipe" not in r.stderr, r.stderr


def test_a_tilde_in_a_path_is_the_home_folder(tmp_path, tiny_seeds, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(tiny_seeds, tmp_path / "articles")
    assert _cli(capsys, "build", "--seeds", "~/articles", "--index", "~/idx").returncode == 0
    assert (tmp_path / "idx" / "manifest.json").is_file()
    assert _cli(capsys, "clean", "~/articles/lake.txt").stdout.startswith("== ")
    assert qa.clean_folder("~/articles") and qa.clean_file("~/articles/lake.txt").article


def test_clean_and_build_name_every_file_they_leave_out(tmp_path, tiny_seeds, capsys):
    """`qa clean DIR` names the files of other kinds it does not read, as `qa build` does, and the build's skipped
    count is of files (one line may stand for several); an updating build names what it embedded anew."""
    seeds = tmp_path / "seeds"
    shutil.copytree(tiny_seeds, seeds)
    (seeds / "spec.pdf").write_bytes(b"%PDF-1.4 not an article")
    (seeds / "shot.png").write_bytes(b"\x89PNG not an article")
    (seeds / "empty.txt").write_text("", encoding="utf-8")
    out = _cli(capsys, "clean", str(seeds)).stdout
    for name in ("spec.pdf", "shot.png"):
        assert f"== {seeds / name}\n  no article: not read, a file of another kind" in out
    assert [r.source for r in qa.clean_folder(seeds)][-2:] == [str(seeds / "shot.png"), str(seeds / "spec.pdf")]
    r = _cli(capsys, "build", "--seeds", str(seeds), "--index", str(tmp_path / "idx"))
    assert "  skipped:     3\n" in r.stdout and "2 files of other kinds" in r.stdout  # 3 files in 2 lines
    (seeds / "lake_copy.txt").write_text((seeds / "lake.txt").read_text(encoding="utf-8"), encoding="utf-8")
    (seeds / "lake.txt").unlink()  # the copy, skipped as a duplicate before, now stands in for it: say so
    r = _cli(capsys, "build", "--seeds", str(seeds), "--index", str(tmp_path / "idx"))
    assert "    + lake_copy\n" in r.stdout and "    - lake\n" in r.stdout, r.stdout
    only_others = tmp_path / "pdfs"
    only_others.mkdir()
    (only_others / "spec.pdf").write_bytes(b"%PDF-1.4")
    r = _cli(capsys, "clean", str(only_others))
    assert r.returncode == 1 and "spec.pdf" in r.stdout and "no article files in" in r.stderr


def test_nothing_to_show_is_said_not_left_blank(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    r = _cli(capsys, "clean", str(tmp_path / "empty"))
    assert r.returncode == 1 and r.stdout == "" and "no article files in" in r.stderr
    r = _cli(capsys, "ask", "lake water levels", "--json", "--since", "2090-01-01")
    assert r.returncode == 0 and r.stderr == ""
    nothing = json.loads(r.stdout)  # still one JSON object, saying why there is no answer
    assert nothing["outcome"] == "not_found" and nothing["reason"] == "filtered_out" and nothing["passages"] == []
    (tmp_path / "none.jsonl").write_text("\n", encoding="utf-8")
    _assert_one_line_error(_cli(capsys, "eval", str(tmp_path / "none.jsonl")), "holds no questions")


def test_the_readme_python_example_runs_as_written(monkeypatch):
    """The README's "From Python" block, run as a user would paste it, against the committed seeds' index."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\n", text.index("## From Python")) + len("```python\n")
    code = text[start : text.index("```", start)]
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    monkeypatch.delenv("QA_INDEX_URI", raising=False)
    exec(compile(code, "README.md (From Python)", "exec"), {"__name__": "readme_example"})
