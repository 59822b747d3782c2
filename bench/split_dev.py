"""Merge the blind-written question files over tests/corpora/ into a tuning half and a test half, split by article.

Run once: python bench/split_dev.py QSET.jsonl [...]  ->  tests/data/dev_tune.jsonl, tests/data/dev_test.jsonl.
Articles are ordered by the sha256 of their id and dealt alternately to the two halves, per source file, so both
halves hold articles from every writer; a question goes with its article (an on-topic unanswerable question with
the article it is about, a follow-up with the article that answers it), an off-topic question by its own id.
Questions whose answer phrase is not in the article's text scrape at all (its page shows nothing without
JavaScript) are left out: no cleaner could answer them.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT / "tests" / "corpora"


def _norm(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def _h(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def main(files: list[str]) -> None:
    scrapes = {p.stem: p.read_text(encoding="utf-8") for p in CORPORA.glob("*/txt/*.txt")}
    halves: dict[str, list[dict]] = {"tune": [], "test": []}
    dropped = []
    for f in files:
        rows = [json.loads(line) for line in Path(f).read_text(encoding="utf-8").splitlines() if line.strip()]
        docs = sorted({r.get("doc_id") or r.get("near_doc") for r in rows if r.get("doc_id") or r.get("near_doc")}, key=_h)
        side = {d: ("tune", "test")[i % 2] for i, d in enumerate(docs)}
        for r in rows:
            if r["kind"] != "unanswerable" and _norm(r["answer"]) not in _norm(scrapes[r["doc_id"]]):
                dropped.append(r["id"])
                continue
            doc = r.get("doc_id") or r.get("near_doc")
            halves[side[doc] if doc else ("tune", "test")[int(_h(r["id"]), 16) % 2]].append(r)
    for name, rows in halves.items():
        out = ROOT / "tests" / "data" / f"dev_{name}.jsonl"
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        kinds = [(r["kind"], r.get("subkind")) for r in rows]
        arts = {r["doc_id"] for r in rows if r["kind"] == "answerable"}
        print(f"{out.name}: {len(rows)} questions, {len(arts)} articles, "
              + ", ".join(f"{k}{'/' + s if s else ''} {kinds.count((k, s))}" for k, s in sorted(set(kinds), key=str)))
    print(f"left out (answer not in the text scrape): {', '.join(dropped) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:])
