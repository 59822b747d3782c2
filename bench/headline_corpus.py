"""Build tests/corpora/headlines/: more pages with a labelled headline, for the cleaner's headline model.

Run once: python bench/headline_corpus.py PARSER_CHECKOUT   (needs playwright and Debian's /usr/bin/chromium)

PARSER_CHECKOUT is a checkout of github.com/postlight/parser (Apache-2.0 / MIT). Its `fixtures/` hold real article
pages from ~140 sites, and each site's `src/extractors/custom/<host>/index.test.js` states the headline its
extractor must return for the first fixture. Per site this keeps that first page:
- its text scrape, made as tests/corpora/README.md says (headless Chromium, JavaScript off, no network,
  `document.body.innerText`);
- `title_in_text`, the scrape line that is the stated headline (pages whose scrape has no such line are left out:
  nothing to learn or score);
- a sealed test part (30% of the sites, fixed seed), as bench/cleaning_split.py does for the other corpora.
Sites that are also in aeb-dev or readability are left out, so leave-site-out figures stay leave-site-out.
The parser's expected author and date are kept as `source_author` / `source_date_published` for provenance only:
they come from page metadata, not from what the scrape states, so nothing is scored against them.
"""
from __future__ import annotations

import io
import json
import random
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import clean_lines as cl  # noqa: E402
from qa.clean_eval import norm_title  # noqa: E402

OUT = ROOT / "tests" / "corpora" / "headlines"
SEED = 20240605
TEST_SHARE = 0.3
_STR = r"""(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`)"""


def _unquote(m: re.Match) -> str:
    s = next(g for g in m.groups() if g is not None)
    s = re.sub(r"\\u([0-9a-fA-F]{4})", lambda u: chr(int(u.group(1), 16)), s)
    return re.sub(r"\\(.)", r"\1", s)


def stated(checkout: Path) -> list[dict]:
    """Per site: the first fixture its test reads and the headline, URL, author and date the test expects."""
    out = []
    for test in sorted(checkout.glob("src/extractors/custom/*/index.test.js")):
        src = test.read_text(encoding="utf-8")
        fixture = re.search(r"readFileSync\(\s*'\./fixtures/([^']+)'", src)
        title = re.search(r"assert\.equal\(\s*title,\s*" + _STR, src)
        if not fixture or not title:
            continue
        found = {k: re.search(pat + _STR, src) for k, pat in
                 (("url", r"url\s*=\s*"), ("author", r"assert\.equal\(\s*author,\s*"),
                  ("date", r"assert\.equal\(\s*date_published,\s*"))}
        out.append({"site": test.parent.name, "fixture": fixture.group(1), "title": _unquote(title),
                    **{k: _unquote(m) if m else None for k, m in found.items()}})
    return out


def scrape(html_files: list[Path]) -> dict[str, str]:
    """Each page's `document.body.innerText` in headless Chromium with JavaScript off and no network."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        ctx = browser.new_context(java_script_enabled=False, offline=True)
        for f in html_files:
            page = ctx.new_page()  # a fresh page each: a meta refresh must not carry over to the next
            page.route("**/*", lambda r: r.abort() if r.request.resource_type != "document" else r.continue_())
            page.set_content(f.read_text(errors="replace"), wait_until="domcontentloaded", timeout=20000)
            out[f.name] = page.evaluate("document.body ? document.body.innerText : ''")
            page.close()
        browser.close()
    return out


def _host(site: str) -> str:
    return re.sub(r"^(www|m|mobile)\.", "", site.lower())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.splitlines()[2].strip())
        return 2
    checkout = Path(argv[0])
    split = json.loads((ROOT / "tests" / "corpora" / "split.json").read_text(encoding="utf-8"))
    taken = {_host(s) for c in split["corpora"].values() for s in c["site"].values()}
    rows = [r for r in stated(checkout) if _host(r["site"]) not in taken]
    texts = scrape([checkout / "fixtures" / r["fixture"] for r in rows])
    kept, left = [], []
    for r in rows:
        txt = texts[r["fixture"]]
        lines, _ = cl.page_lines(txt)
        line = next((ln for ln in lines if norm_title(ln) == norm_title(r["title"])), None)
        (kept if line else left).append((r, txt, line))
    sites = sorted(r["site"] for r, _, _ in kept)
    test = set(random.Random(f"{SEED}:headlines").sample(sites, round(TEST_SHARE * len(sites))))
    (OUT / "txt").mkdir(parents=True, exist_ok=True)
    meta = []
    with tarfile.open(OUT / "html.tar.xz", "w:xz") as tar:
        for r, txt, line in kept:
            pid = r["site"]
            (OUT / "txt" / f"{pid}.txt").write_text(txt, encoding="utf-8")
            data = (checkout / "fixtures" / r["fixture"]).read_bytes()
            info = tarfile.TarInfo(f"html/{pid}.html")
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
            meta.append({"id": pid, "site": pid, "part": "test" if pid in test else "dev", "url": r["url"],
                         "title": r["title"], "title_in_text": line, "source_fixture": r["fixture"],
                         "source_author": r["author"], "source_date_published": r["date"]})
    (OUT / "meta.jsonl").write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in meta), encoding="utf-8")
    print(f"{len(kept)} pages ({len(kept) - len(test)} dev, {len(test)} test) from {len(rows)} sites not in the other "
          f"corpora; left out (no scrape line is the headline): {', '.join(r['site'] for r, _, _ in left) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
