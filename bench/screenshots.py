"""Refresh docs/screenshots/: the chat's answer states at desktop (1366×900) and phone (390×844) size, taken from the
real app in headless Chromium (Debian's /usr/bin/chromium).

Usage: .venv/bin/python bench/screenshots.py
"""
from __future__ import annotations

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


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    server = _load().Server(Path(tempfile.mkdtemp()) / "app.log")
    try:
        server.wait_ready()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("#qa-chat button.example", timeout=60_000)
            page.screenshot(path=str(OUT / "start.png"))
            ask(page, "Who is Samat Abish?")
            page.screenshot(path=str(OUT / "chat.png"))
            ask(page, "What is the population of Almaty?")
            page.screenshot(path=str(OUT / "unsure.png"))
            ask(page, "What is the recipe for beef stroganoff?")
            page.screenshot(path=str(OUT / "not-found.png"))
            ask(page, "Who became acting prime minister?")
            n = page.locator("#qa-chat .qa-reply").count()
            page.select_option("#qa-publisher-select", "Merkur.de")
            page.wait_for_function("n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=n, timeout=60_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(OUT / "filtered.png"))
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(server.url)
            phone.wait_for_selector("#qa-filters select", timeout=60_000)
            ask(phone, "Who is Samat Abish?")
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
