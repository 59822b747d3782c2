"""Write the sealed test split of the cleaning corpora (tests/corpora/split.json), grouped by site.

Run once, before developing: `python bench/cleaning_split.py`. About 30% of the sites of each corpus (a fixed
random seed) go to "test"; the cleaner is developed with leave-site-out cross-validation on the rest and scored on
"test" once, at the end. A site is the URL host for aeb-dev and the id's site part for readability (nytimes-1..5
are one site), merged with any other id whose page states the same canonical host.
"""
from __future__ import annotations

import json
import random
import re
import sys
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT / "tests" / "corpora"
SPLIT_FILE = CORPORA / "split.json"
SEED = 20240605
TEST_SHARE = 0.3

_CANONICAL = re.compile(
    r"<link[^>]+rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)|<link[^>]+href=[\"']([^\"']+)[\"'][^>]*rel=[\"']canonical"
    r"|<meta[^>]+property=[\"']og:url[\"'][^>]*content=[\"']([^\"']+)",
    re.I,
)


def _host(url: str) -> str:
    host = urlsplit(url).netloc.lower().split(":")[0]
    return host.removeprefix("www.")


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}


def _html_pages(corpus: Path) -> dict[str, str]:
    out = {}
    with tarfile.open(corpus / "html.tar.xz") as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.endswith(".html"):
                out[Path(m.name).stem] = tar.extractfile(m).read().decode("utf-8", "replace")
    return out


def site_groups(corpus: str) -> dict[str, str]:
    """Page id -> site name."""
    folder = CORPORA / corpus
    rows = [json.loads(line) for line in (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    if corpus == "aeb-dev":
        site = {r["id"]: _host(r["url"]) for r in rows}
    else:
        site = {r["id"]: re.sub(r"-\d+$", "", r["id"]) for r in rows}
    parent = {s: s for s in site.values()}

    def find(s: str) -> str:
        while parent[s] != s:
            s = parent[s]
        return s

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    # The same text under two ids (readability's base-url variants) is one site.
    shingles = {r["id"]: _shingles(r["body"]) for r in rows}
    ids = sorted(shingles)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            sa, sb = shingles[a], shingles[b]
            if sa and sb and len(sa & sb) / len(sa | sb) > 0.5:
                union(site[a], site[b])
    if corpus == "aeb-dev":
        return {pid: find(s) for pid, s in site.items()}
    # Sites that state the same canonical host are one (cnet and cnet-svg-classes, the lifehacker pages...).
    by_host: dict[str, str] = {}
    for pid, html in _html_pages(folder).items():
        m = _CANONICAL.search(html)
        url = next((g for g in m.groups() if g), "") if m else ""
        host = _host(url) if url.startswith("http") else ""
        if pid not in site or not host:
            continue
        if host in by_host:
            union(site[pid], by_host[host])
        else:
            by_host[host] = site[pid]
    return {pid: find(s) for pid, s in site.items()}


def make_split() -> dict:
    out = {"seed": SEED, "test_share": TEST_SHARE, "corpora": {}}
    for corpus in ("aeb-dev", "readability"):
        groups = site_groups(corpus)
        sites = sorted(set(groups.values()))
        rng = random.Random(f"{SEED}:{corpus}")
        test_sites = set(rng.sample(sites, round(TEST_SHARE * len(sites))))
        out["corpora"][corpus] = {
            "site": dict(sorted(groups.items())),
            "test": sorted(pid for pid, s in groups.items() if s in test_sites),
            "dev": sorted(pid for pid, s in groups.items() if s not in test_sites),
        }
    return out


def main() -> int:
    if SPLIT_FILE.exists() and "--force" not in sys.argv:
        print(f"{SPLIT_FILE} exists; the split is sealed (pass --force only to re-create it identically).")
        return 1
    split = make_split()
    SPLIT_FILE.write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    for corpus, c in split["corpora"].items():
        print(f"{corpus}: {len(set(c['site'].values()))} sites, {len(c['dev'])} dev pages, {len(c['test'])} test pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
