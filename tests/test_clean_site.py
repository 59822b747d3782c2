"""The site's own name as the publisher (qa/clean_site.py): found from the shapes of chrome phrases on any site."""
from __future__ import annotations

from pathlib import Path

import qa
from qa.clean_site import copyright_holder, site_name

from .conftest import TINY_ARTICLE


def _names(lines: list[str], stated: str | None = None) -> str | None:
    return site_name(lines, body=set(), stated=stated)


def test_the_name_the_chrome_repeats_is_the_site():
    lines = [
        "The Harbour Courier homepage",
        "Follow The Harbour Courier online:",
        "Subscribe to The Harbour Courier on YouTube",
        "Photo: Sam Lens/The Harbour Courier",
        "© 2021 Coastal Media Group, LLC. All rights reserved.",
    ]
    assert _names(lines) == "The Harbour Courier"  # the site, not its owner in the copyright line


def test_a_copyright_holder_or_byline_organisation_stands_when_nothing_else_names_the_site():
    assert _names(["Contact", "© 2022 Lakeside Theatre. All rights reserved."], stated="Lakeside Theatre") == (
        "Lakeside Theatre"
    )
    assert _names(["Home", "Sport", "Weather"]) is None


def test_menus_pronouns_and_common_words_are_not_names():
    lines = ["About Team Jobs Studio Story Contact Press"] * 3  # a menu after "About": not "Team"
    lines += ["Join our newsletter"] * 3 + ["Follow us", "Follow us on Twitter", "Story", "Story"]
    assert _names(lines) is None


def test_a_one_word_name_the_article_uses_in_lower_case_is_a_word():
    lines = ["Garden tips from our experts", "More from Garden", "Garden", "Advertise on Garden", "garden waste is"]
    assert site_name(lines, body={4}) is None
    assert site_name(lines[:4] + ["compost breaks down"], body={4}) == "Garden"


def test_clean_file_gives_the_site_as_publisher(tmp_path):
    page = "The Lake Gazette\n" + TINY_ARTICLE
    page += "\nFollow The Lake Gazette\n\nSubscribe to The Lake Gazette on YouTube\n"
    page += "\n© 2023 Basin Media Inc.\n"  # the owner: what the copyright line alone gave before
    f = tmp_path / "lake.txt"
    f.write_text(page, encoding="utf-8")
    assert qa.clean_file(f).article.publisher == "The Lake Gazette"


def test_the_year_after_a_copyright_holder_is_not_part_of_its_name():
    assert copyright_holder(["© Lake Gazette 2025"]) == "Lake Gazette"
    assert copyright_holder(["Copyright © Lake Gazette 2010-2025. All rights reserved."]) == "Lake Gazette"
    assert copyright_holder(["© 2025 Lake Gazette 2"]) == "Lake Gazette 2"  # a number that is no year stays


def test_a_copyright_holder_is_a_whole_name():
    assert copyright_holder(["Copyright © 2025 Lake Regents; all rights reserved"]) == "Lake Regents"
    assert copyright_holder(["Material on Lake Gazette is copyrighted. Reproduction is prohibited."]) is None  # "ed"
    assert copyright_holder(["© 2025 St. Example's College"]) is None  # not "St"


def test_sections_and_organisations_in_the_chrome_are_not_the_site():
    lines = ["Parts & Services", "What are Aftermarket Parts", "Parts & Accessories", "More on Parts & Accessories",
             "Parts & Services", "Faculty & Staff", "Adjunct Faculty", "Emeriti Faculty", "Faculty Leadership"]
    assert _names(lines) is None  # not "Parts &", "Parts" (of "Parts & ...") or "Faculty" (of "Faculty & Staff")
    # "for" names an outlet in a photo credit, not in a place's name
    lines = ["Lakeside Center for Counseling", "Counseling & Support", "Group Counseling", "Couples Counseling"]
    assert _names(lines) is None
    assert _names(["Photo: Sam Lens for Harbour Courier", "Harbour Courier", "Harbour Courier Weekly"]) == (
        "Harbour Courier")


_MENU = ["Local news", "World news", "Business desk", "Sport results", "Weather today", "Arts and culture",
         "Opinion columns", "Letters page", "Photo galleries", "Puzzles and games", "Contact the newsroom",
         "Jobs board"]
_HARBOUR = ["Harbour dredging begins after years of delay",
            "Work to deepen the old harbour channel began on Monday, the port authority said, after three years of "
            "delay.",
            "Dredgers will remove about forty thousand cubic metres of silt before the summer sailing season opens.",
            "Fishing crews welcomed the work but said the closures would cost them several weeks of landings."]
_LIBRARY = ["Library extends opening hours for exam season",
            "The central library will stay open until midnight during the exam weeks, the council announced on "
            "Tuesday.",
            "Students had asked for longer hours after the reading rooms filled before noon on most days last spring.",
            "Extra staff will be hired for the evening shifts, and the café on the ground floor will also stay open."]


def _site_page(menu: list[str], article: list[str], tail: list[str]) -> str:
    return "\n\n".join(menu[:6] + article + menu[6:] + tail) + "\n"


def test_a_sister_page_takes_the_publisher_its_site_names(tmp_path):
    (tmp_path / "a.txt").write_text(_site_page(_MENU, _HARBOUR, ["© 2024 Harbour Herald. All rights reserved."]))
    (tmp_path / "b.txt").write_text(
        _site_page(_MENU, _LIBRARY, ["Millions read the Harbour Herald, but only a few of them ever pay for it."]))
    assert qa.clean_file(tmp_path / "b.txt").article.publisher is None  # alone, the page names no publisher
    got = {Path(r.source).name: r.article.publisher for r in qa.clean_folder(tmp_path)}
    assert got == {"a.txt": "Harbour Herald", "b.txt": "Harbour Herald"}  # beside its sister page, it does


def test_a_publisher_does_not_leak_to_a_page_of_another_site_or_to_a_common_word(tmp_path):
    (tmp_path / "a.txt").write_text(_site_page(_MENU, _HARBOUR, ["© 2024 Harbour Herald. All rights reserved."]))
    # Another site's page (no menu in common) whose chrome holds the name's words in lower case: not that publisher.
    other = [s.replace("library", "museum") for s in _LIBRARY]
    (tmp_path / "b.txt").write_text(_site_page(["Shop lamps", "floor harbour herald lamps", "Basket"], other, []))
    # A sister page that has the words only in lower case is not named by them either.
    (tmp_path / "c.txt").write_text(_site_page(_MENU, _LIBRARY, ["Lamps for the harbour herald a brighter night."]))
    got = {Path(r.source).name: r.article.publisher for r in qa.clean_folder(tmp_path)}
    assert got == {"a.txt": "Harbour Herald", "b.txt": None, "c.txt": None}
