"""Add Markdown scrapes to the vendored corpora: tests/corpora/<corpus>/md.tar.xz beside html.tar.xz.

Run once: python bench/markdown_corpus.py   (needs `pip install html-to-markdown==3.19.0`, only for this script)

Page-to-Markdown converters and crawlers save a whole page as Markdown: its menus, teasers and footer as lists and
links, the article as paragraphs, the headline as a "#" heading. This makes such a scrape of every vendored HTML
page (aeb-dev, readability, headlines) with html-to-markdown (MIT), without front matter: the harder case, since
the page's <title> and metadata are then not in the file. bench/cleaning.py scores qa.clean.clean_markdown on them
against the same gold as the text scrapes and the HTML.
"""
from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT / "tests" / "corpora"
NAMES = ("aeb-dev", "readability", "headlines")


def to_markdown(html: str) -> str:
    import html_to_markdown as h2m

    result = h2m.convert(html, h2m.ConversionOptions(extract_metadata=False))
    return result if isinstance(result, str) else (getattr(result, "content", None) or "")


def main() -> int:
    for name in NAMES:
        folder = CORPORA / name
        pages = {}
        with tarfile.open(folder / "html.tar.xz") as tar:
            for m in tar.getmembers():
                if m.isfile():
                    pages[Path(m.name).stem] = tar.extractfile(m).read().decode("utf-8", "replace")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as out:
            for pid in sorted(pages):
                data = to_markdown(pages[pid]).encode("utf-8")
                info = tarfile.TarInfo(f"md/{pid}.md")
                info.size, info.mtime = len(data), 0
                out.addfile(info, io.BytesIO(data))
        (folder / "md.tar.xz").write_bytes(buf.getvalue())
        print(f"{name}: {len(pages)} pages, {len(buf.getvalue()) / 1e6:.1f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
