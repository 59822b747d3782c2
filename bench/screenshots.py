"""Refresh docs/screenshots/: the chat's answer states at desktop (1366×900) and phone (390×844) size, taken from the
real app in headless Chromium (Debian's /usr/bin/chromium).

Usage: .venv/bin/python bench/screenshots.py [--questions FILE]

The questions are a question set's (default tests/data/eval.jsonl, for the committed index of seeds/): its first
first-turn questions that the app answers, answers unsure, and does not find, each asked alone first (as
bench/load.py does) to know which is which.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def _load():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = mod
    spec.loader.exec_module(mod)
    return mod


def ask(page, question: str) -> None:
    n = page.locator("#qa-chat .qa-reply").count()
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=n, timeout=60_000)
    page.wait_for_timeout(1000)


def by_outcome(load, path: Path) -> dict[str, str]:
    """The set's first first-turn question of each outcome, asked alone through the app."""
    from qa.evaluate import load_questions

    questions = [r["question"] for r in load_questions(path) if not r.get("history")]
    found: dict[str, str] = {}
    for case in load.expected_cases(questions):
        found.setdefault(case.outcome, case.question)
    missing = [o for o in load.OUTCOMES if o not in found]
    if missing:
        raise SystemExit(f"{path}: no question gets {', '.join(missing)} on this index: pick a set that does")
    return found


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "eval.jsonl",
                        help="question set the questions are taken from (default tests/data/eval.jsonl)")
    args = parser.parse_args()
    load = _load()
    q = by_outcome(load, args.questions)
    OUT.mkdir(parents=True, exist_ok=True)
    server = load.Server(Path(tempfile.mkdtemp()) / "app.log")
    try:
        server.wait_ready()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("#qa-chat button.example", timeout=60_000)
            page.screenshot(path=str(OUT / "start.png"))
            ask(page, q["answered"])
            page.screenshot(path=str(OUT / "chat.png"))
            ask(page, q["unsure"])
            page.screenshot(path=str(OUT / "unsure.png"))
            ask(page, q["not_found"])
            page.screenshot(path=str(OUT / "not-found.png"))
            ask(page, q["unsure"])
            n = page.locator("#qa-chat .qa-reply").count()
            publishers = [v for v in page.locator("#qa-publisher-select option").evaluate_all(
                "os => os.map(o => o.value)") if v]
            page.select_option("#qa-publisher-select", publishers[0])
            page.wait_for_function("n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=n, timeout=60_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(OUT / "filtered.png"))
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(server.url)
            phone.wait_for_selector("#qa-filters select", timeout=60_000)
            ask(phone, q["answered"])
            phone.screenshot(path=str(OUT / "phone-answer.png"))
            phone.locator("#qa-chat .qa-reply .qa-ref").first.click()
            phone.wait_for_timeout(1000)
            phone.screenshot(path=str(OUT / "phone-source.png"))
            browser.close()
    finally:
        server.stop()
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
