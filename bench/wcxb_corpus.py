"""Build tests/corpora/wcxb/: ~1,000 more pages with a labelled article body, for the cleaner's line models.

Run once: python bench/wcxb_corpus.py WCXB_CHECKOUT [AEB_CHECKOUT]   (needs playwright and Debian's /usr/bin/chromium)

WCXB_CHECKOUT is a checkout of github.com/Murrough-Foley/web-content-extraction-benchmark (WCXB, CC-BY-4.0): 2,008
web pages of 2025-26 from 1,613 domains, each with its HTML and a human-reviewed `main_content`. The body models had
about 160 labelled pages to learn from; these add pages from sites in no other corpus. Kept: the pages WCXB types
as "article" (blog posts, news, editorials, guides, reviews), from hosts that are in none of our corpora and in no
page of the article-extraction-benchmark (the part of it we hold back included, read from its public
ground-truth.json when AEB_CHECKOUT is given as a second argument), so leave-site-out figures stay leave-site-out.
Each kept page gets:
- its text scrape, made as tests/corpora/README.md says (headless Chromium, JavaScript off, no network,
  `document.body.innerText`);
- the gold body (`main_content`) and, when a scrape line is the gold title, that line (`title_in_text`);
- WCXB's own dev/test split as `part`: the models learn from "dev" only, "test" is a sealed held-out set (a test
  page from a site that also has a dev page goes to dev, so no test site is ever learned from).
Pages whose scrape holds under half of the gold body's word 4-grams are left out (the body is not in the scrape:
JavaScript-only pages).
Everything goes into one file, `pages.jsonl.xz` (a thousand small files would swell the repository); the HTML stays
in the WCXB checkout.
"""
from __future__ import annotations

import gzip
import json
import lzma
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import clean_lines as cl  # noqa: E402
from qa.clean_eval import norm_title, shingles  # noqa: E402

OUT = ROOT / "tests" / "corpora" / "wcxb"
MIN_BODY_IN_SCRAPE = 0.5


def _host(url_or_site: str) -> str:
    m = re.match(r"(?:https?://)?([^/]+)", url_or_site.strip().lower())
    return re.sub(r"^(www\d?|m|mobile|amp)\.", "", m.group(1) if m else url_or_site.lower())


def taken_hosts(aeb_checkout: Path | None) -> set[str]:
    """Hosts of every page in our corpora (and, given its checkout, of the whole article-extraction-benchmark)."""
    split = json.loads((ROOT / "tests" / "corpora" / "split.json").read_text(encoding="utf-8"))
    hosts = {_host(s) for c in split["corpora"].values() for s in c["site"].values()}
    for line in (ROOT / "tests" / "corpora" / "headlines" / "meta.jsonl").read_text(encoding="utf-8").splitlines():
        if line:
            hosts.add(_host(json.loads(line)["site"]))
    if aeb_checkout:
        truth = json.loads((aeb_checkout / "ground-truth.json").read_text(encoding="utf-8"))
        hosts |= {_host(v["url"]) for v in truth.values()}
    return hosts


def scrape(pages: list[tuple[str, str]]) -> dict[str, str]:
    """Each page's `document.body.innerText` in headless Chromium with JavaScript off and no network."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        ctx = browser.new_context(java_script_enabled=False, offline=True)
        for pid, html in pages:
            page = ctx.new_page()  # a fresh page each: a meta refresh must not carry over to the next
            page.route("**/*", lambda r: r.abort() if r.request.resource_type != "document" else r.continue_())
            try:
                page.set_content(html, wait_until="domcontentloaded", timeout=20000)
                out[pid] = page.evaluate("document.body ? document.body.innerText : ''")
            except Exception as exc:  # noqa: BLE001 - a page that will not load is left out, and said so
                print(f"  {pid}: not scraped ({type(exc).__name__})", file=sys.stderr)
            page.close()
        browser.close()
    return out


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__.splitlines()[2].strip())
        return 2
    checkout = Path(argv[0])
    taken = taken_hosts(Path(argv[1]) if len(argv) == 2 else None)
    files = json.loads((checkout / "metadata.json").read_text(encoding="utf-8"))["files"]
    rows = []
    for fid, info in sorted(files.items()):
        if info["page_type"] != "article" or _host(info["domain"]) in taken:
            continue
        truth = json.loads((checkout / info["split"] / "ground-truth" / f"{fid}.json").read_text(encoding="utf-8"))
        body = truth["ground_truth"].get("main_content") or ""
        if len(body.split()) < 50:
            continue
        html = gzip.open(checkout / info["split"] / "html" / f"{fid}.html.gz", "rt", encoding="utf-8",
                         errors="replace").read()
        rows.append((fid, info, truth, body, html))
    print(f"{len(rows)} article pages from hosts in no other corpus; scraping...", file=sys.stderr)
    texts = scrape([(fid, html) for fid, _, _, _, html in rows])
    out, thin = [], 0
    for fid, info, truth, body, _ in rows:
        txt = texts.get(fid)
        if txt is None:
            continue
        gold, have = shingles(body), shingles(txt)
        if not gold or sum((gold & have).values()) / sum(gold.values()) < MIN_BODY_IN_SCRAPE:
            thin += 1
            continue
        g = truth["ground_truth"]
        lines, _ = cl.page_lines(txt)
        want = norm_title(g.get("title"))
        line = next((ln for ln in lines if want and norm_title(ln) == want), None)
        out.append({"id": fid, "site": _host(info["domain"]), "part": info["split"], "url": truth.get("url"),
                    "txt": txt, "body": body, "title": g.get("title"), "title_in_text": line,
                    "source_author": g.get("author"), "source_publish_date": g.get("publish_date")})
    # WCXB splits by page; a test page from a site that also has a dev page goes to dev, so the test part is sealed
    # by site as the other corpora's are.
    dev_sites = {r["site"] for r in out if r["part"] == "dev"}
    for r in out:
        if r["part"] == "test" and r["site"] in dev_sites:
            r["part"] = "dev"
    OUT.mkdir(parents=True, exist_ok=True)
    with lzma.open(OUT / "pages.jsonl.xz", "wt", encoding="utf-8", preset=9) as f:
        for row in out:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    parts = {p: sum(r["part"] == p for r in out) for p in ("dev", "test")}
    print(f"{len(out)} pages ({parts['dev']} dev, {parts['test']} test; {sum(bool(r['title_in_text']) for r in out)} "
          f"with the headline as a scrape line); left out: {thin} whose scrape lacks the body")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
