"""Pages saved in a legacy encoding: how often qa reads them back exactly, against charset-normalizer (what
trafilatura's decode_file uses) and UTF-8-or-refuse (qa before chardetng).

    python bench/encodings.py [--quick]

Every vendored text scrape with a character outside ASCII is encoded in each legacy web encoding that can hold it
whole, and read back without any declaration: "right" means the exact original text. Two sets of pairs: the
encodings a site in the page's own script would use ("natural": Japanese in Shift_JIS, EUC-JP and ISO-2022-JP,
Russian in Windows-1251 and KOI8-R, a French page in Windows-1252...), and every encoding that can hold the page
("all", e.g. an English page with curly quotes in Windows-1256). The detector was chosen on aeb-dev and readability
(dev); WCXB and headlines are held out. HTML pages are also written with their declaration (<meta charset>) set to
the encoding they were saved in, which qa honours. --quick: every fifth page.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.clean_charset import Decoded, decode  # noqa: E402
from qa.clean_eval import load_corpus, load_headlines, load_wcxb  # noqa: E402

LEGACY = ["cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "cp874",
          "koi8_r", "iso8859_2", "iso8859_15", "gb18030", "big5hkscs", "cp932", "euc_jp", "iso2022_jp", "cp949"]
_SCRIPTS = [  # (test, encodings of sites in that script)
    (re.compile(r"[\u3040-\u30ff]"), ["cp932", "euc_jp", "iso2022_jp"]),
    (re.compile(r"[\uac00-\ud7af]"), ["cp949"]),
    (re.compile(r"[\u4e00-\u9fff]"), ["gb18030", "big5hkscs"]),
    (re.compile(r"[\u0400-\u04ff]"), ["cp1251", "koi8_r"]),
    (re.compile(r"[\u0370-\u03ff]"), ["cp1253"]),
    (re.compile(r"[\u0590-\u05ff]"), ["cp1255"]),
    (re.compile(r"[\u0600-\u06ff]"), ["cp1256"]),
    (re.compile(r"[\u0e00-\u0e7f]"), ["cp874"]),
]
_META = re.compile(r"""<meta\b[^>]*charset[^>]*>""", re.I)


def natural(text: str) -> list[str]:
    """The encodings a site writing in the page's script would have used; Latin pages: Windows-1252 and -1250."""
    for pattern, encodings in _SCRIPTS:
        if len(pattern.findall(text)) >= 20:
            return encodings
    return ["cp1252", "cp1250"]


def pages(held_out: bool, quick: bool) -> list[tuple[str, str, str]]:
    """(id, text scrape, HTML) of the dev corpora, or of the held-out ones."""
    out = []
    for part in ("dev", "test"):
        if held_out:
            out += [(f"wcxb/{p.id}", p.txt, "") for p in load_wcxb(part)]
            out += [(f"headlines/{p.id}", p.txt, p.html) for p in load_headlines(part)]
        else:
            for corpus in ("aeb-dev", "readability"):
                out += [(f"{corpus}/{p.id}", p.txt, p.html) for p in load_corpus(corpus, part)]
    out = [p for p in out if not p[1].isascii()]
    return out[::5] if quick else out


def ours(data: bytes, html: bool) -> str | None:
    got = decode(data, html=html)
    return got.text if isinstance(got, Decoded) else None


def charset_normalizer(data: bytes, html: bool) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return str(best) if best is not None else None


def utf8_only(data: bytes, html: bool) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


READERS = {"qa (chardetng)": ours, "charset-normalizer": charset_normalizer, "UTF-8 or refuse": utf8_only}


def cases(rows, which: str):
    for pid, txt, html in rows:
        wanted = natural(txt) if which == "natural" else LEGACY
        for enc in wanted:
            try:
                yield pid, enc, txt, txt.encode(enc), False
            except UnicodeEncodeError:
                continue


def html_cases(rows):
    """Each HTML page in its natural encodings, its charset declaration rewritten to say so."""
    for pid, txt, html in rows:
        if not html:
            continue
        for enc in natural(txt):
            page = _META.sub("", html)
            page = re.sub(r"(<head\b[^>]*>)", rf'\1<meta charset="{enc}">', page, count=1, flags=re.I)
            try:
                yield pid, enc, page, page.encode(enc), True
            except UnicodeEncodeError:
                continue


def score(reader, items) -> tuple[int, int, float]:
    right = n = 0
    ms = []
    for _, _, want, data, html in items:
        t = time.perf_counter()
        got = reader(data, html)
        ms.append((time.perf_counter() - t) * 1000)
        n += 1
        right += got == want
    return right, n, statistics.median(ms) if ms else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every fifth page")
    args = ap.parse_args()
    print("| pages | pairs | encoded pages | " + " | ".join(f"{r} right" for r in READERS) + " | qa ms/page |")
    print("|---|---|---|" + "---|" * len(READERS) + "---|")
    for held_out in (False, True):
        rows = pages(held_out, args.quick)
        name = "held out: wcxb + headlines" if held_out else "dev: aeb-dev + readability"
        sets = [("natural", list(cases(rows, "natural"))), ("all", list(cases(rows, "all")))]
        sets.append(("HTML, declared", list(html_cases(rows))))
        for label, items in sets:
            if not items:
                continue
            cells, qa_ms = [], 0.0
            for rname, reader in READERS.items():
                right, n, ms = score(reader, items)
                cells.append(f"{right / n:.3f}")
                if reader is ours:
                    qa_ms = ms
            print(f"| {name} | {label} | {len(items)} | " + " | ".join(cells) + f" | {qa_ms:.1f} |")
        if held_out:
            items = sets[0][1]
            misses = Counter(enc for pid, enc, want, data, html in items if ours(data, html) != want)
            print(f"\nqa's misses on held-out natural pairs, by encoding: {dict(misses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
