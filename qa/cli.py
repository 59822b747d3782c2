"""Command line: `qa build`, `qa ask`."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from . import config


def _cmd_build(args: argparse.Namespace) -> int:
    import qa

    report = qa.build(args.seeds, args.index, force=args.force, progress=sys.stderr.isatty())
    status = "updated" if report.changed else "unchanged"
    print(f"Index {status}: {report.index_dir}")
    print(f"  articles:    {report.articles}")
    print(f"  passages:    {report.passages}")
    print(f"  re-used:     {len(report.reused)}")
    print(f"  re-embedded: {len(report.embedded)}")
    print(f"  skipped:     {len(report.skipped)}")
    for s in report.skipped:
        print(f"    - {s.path}: {s.reason}")
    print(f"  seconds:     {report.seconds:.2f}")
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    import qa

    passages = qa.retrieve(args.question, k=args.k, index_dir=args.index)
    if args.json:
        for p in passages:
            print(json.dumps(p.to_dict(), ensure_ascii=False))
        return 0
    if not passages:
        print("No passages found.")
    for i, p in enumerate(passages, 1):
        print(f"[{i}] {p.citation}  (score {p.score:.2f}, {p.doc_id} chars {p.start}-{p.end})")
        print(f"    {p.text}\n")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import format_table, run

    result = run(args.file, index_dir=args.index)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(format_table(result["qa"], result["baseline"], result["counts"]))
    if args.verbose and result["misses"]:
        print("\nNot first or not answered:")
        for m in result["misses"]:
            print(f"  {m}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of a folder of news articles.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="clean, chunk and embed the articles into the index")
    b.add_argument("--seeds", default=None, help=f"folder of .txt/.html articles (default {config.DEFAULT_SEEDS_DIR})")
    b.add_argument("--index", default=None, help="index folder (default $QA_INDEX_DIR or embeddings/)")
    b.add_argument("--force", action="store_true", help="re-embed every article, even unchanged ones")
    b.set_defaults(func=_cmd_build)

    a = sub.add_parser("ask", help="print the passages that best answer a question")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=config.DEFAULT_K, help="number of passages (default %(default)s)")
    a.add_argument("--json", action="store_true", help="one JSON object per passage, every field")
    a.add_argument("--index", default=None, help="index folder (default $QA_INDEX_DIR or embeddings/)")
    a.set_defaults(func=_cmd_ask)
    e = sub.add_parser("eval", help="measure retrieval and answer quality against a naive baseline")
    e.add_argument("file", nargs="?", default=None, help="eval questions, JSON lines (default tests/data/eval.jsonl)")
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.add_argument("--index", default=None, help="index folder (default $QA_INDEX_DIR or embeddings/)")
    e.set_defaults(func=_cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .errors import QAError

    try:
        return args.func(args)
    except (QAError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"qa: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
