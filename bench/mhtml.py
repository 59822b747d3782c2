"""Pages saved as one file by the browser (.mhtml) clean as well as the same pages' HTML.

    python bench/mhtml.py [--quick]

Each vendored HTML page (aeb-dev, readability, headlines; dev and TEST sites) is opened in headless Chromium
(Debian's /usr/bin/chromium, JavaScript off, as the text scrapes were made) and saved the way Chrome's "Save page
as... Webpage, Single File" saves it (the DevTools protocol's Page.captureSnapshot, format mhtml). Both files are
read and cleaned as `qa build` does (qa.clean.read_seed, then the cleaner), and scored against the gold: body F1
(token 4-gram, the article-extraction-benchmark's measure), titles right and pages rejected. Nothing here was
fitted: MHTML goes through the HTML cleaner unchanged. --quick: every fifth page.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.clean import _clean_page, read_seed  # noqa: E402
from qa.clean_charset import browser_codec, declared_charset  # noqa: E402
from qa.clean_eval import body_score, load_corpus, load_headlines, meta_checks, page_score  # noqa: E402
from qa.types import Skipped  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def as_sent(html: str) -> bytes:
    """A vendored page (stored as UTF-8) in the charset its <meta> declares, as its site sent it; a browser would
    otherwise read the UTF-8 bytes under the stale declaration and save mojibake."""
    label = declared_charset(html.encode("utf-8"))
    try:
        return html.encode(browser_codec(label) or "utf-8") if label else html.encode("utf-8")
    except UnicodeEncodeError:
        return html.encode("utf-8")


def save_mhtml(pages, folder: Path) -> dict[str, float]:
    """Each page's HTML written to folder/<id>.html and saved by Chromium as folder/<id>.mhtml; seconds a page. A page
    Chromium has not saved within SAVE_TIMEOUT seconds is left out (listed on stderr)."""
    return asyncio.run(_save_all(pages, folder))


SAVE_TIMEOUT = 30


async def _save_all(pages, folder: Path) -> dict[str, float]:
    from playwright.async_api import async_playwright

    async def offline(route):
        # A page's remote images, styles, scripts and frames come back empty at once: no network here.
        if route.request.url.startswith("file:///"):
            await route.continue_()
        else:
            await route.fulfill(status=200, content_type="text/html", body="")

    async def save(context, src: Path) -> str:
        page = await context.new_page()  # a tab a page, as a person saves them
        try:
            await page.goto(src.as_uri(), wait_until="load")  # frames too: a snapshot taken while one loads can hang
            cdp = await context.new_cdp_session(page)
            return (await cdp.send("Page.captureSnapshot", {"format": "mhtml"}))["data"]
        finally:
            await page.close()

    took = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = await browser.new_context(java_script_enabled=False)
        await context.route("**/*", offline)
        for p in pages:
            src = folder / f"{p.id}.html"
            src.write_bytes(as_sent(p.html))
            t = time.perf_counter()
            try:
                snap = await asyncio.wait_for(save(context, src), SAVE_TIMEOUT)
            except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - a page Chromium cannot save is reported
                print(f"not saved: {p.id}: {type(exc).__name__} {str(exc)[:80]}", file=sys.stderr, flush=True)
                continue
            (folder / f"{p.id}.mhtml").write_text(snap, encoding="utf-8", newline="")
            took[p.id] = time.perf_counter() - t
        await browser.close()
    return took


def clean(path: Path):
    r = read_seed(path)
    if isinstance(r, Skipped):
        return None, 0.0
    t = time.perf_counter()
    c = _clean_page((r, None))
    return (c.article if c else None), (time.perf_counter() - t) * 1000


def row(name, pages, arts, ms):
    s = body_score([page_score(a.text if a else None, p.body) for p, a in zip(pages, arts)])
    titles = [meta_checks(a, p.meta, from_text=False)["title"] for p, a in zip(pages, arts)]
    titles = [t for t in titles if t is not None]
    title = f"{sum(titles) / len(titles):.2f}" if titles else "-"
    body = f"{s.f1:.3f} ({s.precision:.3f} / {s.recall:.3f})" if any(p.body for p in pages) else "-"
    return (f"| {name} | {len(pages)} | {body} | {title} | {sum(a is None for a in arts)} | "
            f"{statistics.median(ms):.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every fifth page")
    args = ap.parse_args()
    print("| pages | n | body F1 (P / R) | titles | rejected | ms/page |")
    print("|---|---|---|---|---|---|")
    for corpus in ("aeb-dev", "readability", "headlines"):
        for part in ("dev", "test"):
            pages = load_headlines(part) if corpus == "headlines" else load_corpus(corpus, part)
            pages = [p for p in pages if p.html][:: 5 if args.quick else 1]
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                saved = save_mhtml(pages, folder)
                pages = [p for p in pages if p.id in saved]
                for kind in ("html", "mhtml"):
                    got = [clean(folder / f"{p.id}.{kind}") for p in pages]
                    print(row(f"{corpus} {part.upper() if part == 'test' else part}, .{kind}", pages,
                              [a for a, _ in got], [ms for _, ms in got]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
