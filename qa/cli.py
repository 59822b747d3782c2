"""Command line: `qa build`, `qa ask`, `qa eval`, `qa clean`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys

from . import config

SHOWN_UPDATES = 20  # added articles an updating build names (more are counted)
# C0/C1 control characters except tab and newline: article text and file names come from the web and from
# other people's folders, and an escape sequence printed raw can rewrite the user's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _show(text: object) -> str:
    """Text safe to print: control characters made visible, undecodable bytes (from file names) escaped."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _one_line(text: object) -> str:
    return " ".join(_show(text).split())


def _quiet_ray() -> None:
    """Ray Data logs every dataset it runs at INFO on its own handlers; keep its warnings only (-v shows all)."""
    try:
        import ray.data  # noqa: F401  (configures its loggers on import; a missing extra is reported by qa.build)
    except ImportError:
        return
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _cmd_build(args: argparse.Namespace) -> int:
    import qa

    ray = None
    if args.ray is not None:
        ray = qa.RayBuild(address=args.ray or None, workers=args.ray_workers)
        if not args.verbose:
            _quiet_ray()
    elif args.ray_workers is not None:
        raise ValueError("--ray-workers needs --ray")
    report = qa.build(args.seeds, args.index, force=args.force, progress=sys.stderr.isatty(), ray=ray)
    # "built": every article embedded anew (a first build, or --force); "updated": some re-used from the last build
    status = "unchanged" if not report.changed else "updated" if report.reused else "built"
    print(f"Index {status}: {_one_line(report.index_dir)}")
    print(f"  articles:    {report.articles}")
    print(f"  passages:    {report.passages}")
    print(f"  re-used:     {len(report.reused)}")
    print(f"  re-embedded: {len(report.embedded)}")
    if report.added:  # new to the index, embedded or re-using a same text's passages (a copy for a deleted original)
        print(f"  added:       {len(report.added)}")
        for doc_id in report.added[:SHOWN_UPDATES]:
            print(f"    + {_one_line(doc_id)}")
        if len(report.added) > SHOWN_UPDATES:
            print(f"    ... and {len(report.added) - SHOWN_UPDATES} more")
    if report.removed:  # files deleted (or now skipped) since the last build: their passages are gone from the index
        print(f"  removed:     {len(report.removed)}")
        for doc_id in report.removed:
            print(f"    - {_one_line(doc_id)}")
    print(f"  skipped:     {sum(s.files for s in report.skipped)}")  # files: one entry may count several
    for s in report.skipped:
        print(f"    - {_one_line(s.path)}: {_one_line(s.reason)}")
    print(f"  seconds:     {report.seconds:.2f}")
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    import qa

    try:
        args.question.encode("utf-8")
    except UnicodeEncodeError:
        # argv bytes that are not UTF-8 arrive as lone surrogates, which the tokenizer rejects with a TypeError.
        raise ValueError("the question is not valid UTF-8 text; check your terminal's encoding") from None
    filters = dict(since=args.since, until=args.until, publisher=args.publisher, index_dir=args.index)
    answer = qa.ask(args.question, k=args.k, **filters)
    if args.json:  # one object: the outcome, its reason, the sentence and every passage's fields
        print(json.dumps(answer.to_dict(), ensure_ascii=False))  # JSON escapes control characters itself
        return 0
    passages = answer.passages
    scope = f" (articles {answer.filters.description})" if answer.filters.active else ""
    # which of the passages below the sentence is from: not always the first
    at = next((f", from [{i}]" for i, p in enumerate(passages, 1) if p == answer.passage), "")
    if answer.outcome == qa.ANSWERED:
        print(f"Answer{scope}, confidence {answer.confidence:.2f}{at}: {_show(answer.sentence)}\n")
    elif answer.outcome == qa.UNSURE:
        print(f"Unsure{scope}, confidence {answer.confidence:.2f}. {answer.explanation} The closest sentence{at}:")
        print(f"  {_show(answer.sentence)}\n")
    else:
        tail = " The closest passages:\n" if passages else ""
        print(f"Not in the articles{scope}: {answer.explanation}{tail}")
    for i, p in enumerate(passages, 1):
        print(f"[{i}] {_one_line(p.citation)}  (score {p.score:.2f}, {_one_line(p.doc_id)} chars {p.start}-{p.end})")
        if p.authors:  # the chat shows them too: "who wrote it?" is answered by the citation
            print(f"    By: {_one_line(', '.join(p.authors))}")
        if p.url:
            print(f"    URL: {_one_line(p.url)}")
        body = "\n    ".join(line for line in _show(p.text).splitlines() if line.strip())
        print(f"    {body}\n")
    return 0


def _cmd_clean(args: argparse.Namespace) -> int:
    from pathlib import Path

    import qa
    from qa.clean import NOT_READ

    path = Path(args.path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; pass an article file or a folder of them")
    if not path.is_dir() and not path.is_file():
        raise ValueError(f"{path} is not a regular file; pass an article file or a folder of them")
    results = qa.clean_folder(path) if path.is_dir() else qa.clean_records(path)
    no_articles = all(r.article is None and (r.reason or "").startswith(NOT_READ) for r in results)
    for r in results:
        if args.json:
            d = r.to_dict()
            if not args.lines:
                del d["lines"]
            print(json.dumps(d, ensure_ascii=False))
            continue
        print(f"== {_one_line(r.source)}")
        if r.encoding and r.encoding != "UTF-8":
            print(f"  read as:   {_one_line(r.encoding)}")
        a = r.article
        if a is None:
            print(f"  no article: {_one_line(r.reason)}")
        else:
            print(f"  title:     {_one_line(a.title or '-')}")
            print(f"  publisher: {_one_line(a.publisher or '-')}")
            print(f"  published: {a.published.isoformat() if a.published else '-'}")
            print(f"  authors:   {_one_line(', '.join(a.authors) or '-')}")
            if a.url:
                print(f"  url:       {_one_line(a.url)}")
            print()
            for para in a.paragraphs:
                print(f"  {_one_line(para)}")
        if args.lines and r.lines:
            print("\n  dropped lines:")
            for line in r.lines:
                if not line.kept:
                    print(f"  - [{_one_line(line.reason)}] {_one_line(line.text)}")
        print()
    if no_articles:  # nothing but files of other kinds (listed above), or nothing at all
        print(f"qa: no article files in {_one_line(path)} (articles are {', '.join(config.SEED_SUFFIXES)} files, or "
              "web pages saved under another name)", file=sys.stderr)
        return 1
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import format_table, run

    result = run(args.file, index_dir=args.index, with_baseline=not args.no_baseline, seeds_dir=args.seeds,
                 strict=args.strict)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(format_table(result["qa"], result["baseline"], result["counts"]))
    if args.verbose and result["misses"]:
        print("\nNot first or not answered:")
        for m in result["misses"]:
            print(f"  {m}")
    return 0


class _Parser(argparse.ArgumentParser):
    commands: tuple[str, ...] = ()  # the sub-commands' names, set by build_parser

    def error(self, message: str):
        # One line, like every other error (argparse's default adds the usage above it); --help has the usage.
        self.exit(2, f"qa: error: {_one_line(message)} (see `{self.prog} --help`)\n")


def build_parser() -> _Parser:
    parser = _Parser(prog="qa", description="Ask questions of a folder of news articles.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="clean, chunk and embed the articles into the index")
    b.add_argument("--seeds", default=None,
                   help=f"folder of .txt/.html/.md/.mhtml/.json/.jsonl articles, sub-folders included "
                        f"(default {config.DEFAULT_SEEDS_DIR})")
    b.add_argument("--index", default=None, help="index folder, or a milvus:// URI (default $QA_INDEX_URI, then $QA_INDEX_DIR, then embeddings/)")
    b.add_argument("--force", action="store_true", help="re-embed every article, even unchanged ones")
    b.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="read, clean, chunk and encode on a Ray cluster: its head as HOST:6379, or no address for a local Ray "
        "runtime (needs `pip install .[cluster]`)",
    )
    b.add_argument("--ray-workers", type=int, default=None, metavar="N", help="encoder actors (default: one per CPU of the cluster)")
    b.set_defaults(func=_cmd_build)

    a = sub.add_parser("ask", help="print the passages that best answer a question")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=config.DEFAULT_K, help="number of passages (default %(default)s)")
    a.add_argument("--json", action="store_true",
                   help="the answer as one JSON object: outcome, reason, confidence, sentence and its passages")
    a.add_argument("--since", default=None, help="only articles published on or after this date (YYYY-MM-DD)")
    a.add_argument("--until", default=None, help="only articles published on or before this date (YYYY-MM-DD)")
    a.add_argument("--publisher", default=None, help="only articles from this publisher")
    a.add_argument("--index", default=None, help="index folder, or a milvus:// URI (default $QA_INDEX_URI, then $QA_INDEX_DIR, then embeddings/)")
    a.set_defaults(func=_cmd_ask)
    c = sub.add_parser("clean", help="print what the cleaner keeps of an article file or folder (nothing is embedded)")
    c.add_argument("path", help="a .txt/.html/.md/.mhtml/.json/.jsonl article (a .json/.jsonl file may hold many), "
                                "or a folder of them (sub-folders included), cleaned as a whole as `qa build` does: a "
                                "line repeated on its other pages is dropped as site chrome")
    c.add_argument("--json", action="store_true", help="one JSON object per article (per file, or per record)")
    c.add_argument("-v", "--verbose", dest="lines", action="store_true", help="also show each dropped line and why")
    c.set_defaults(func=_cmd_clean)
    e = sub.add_parser("eval", help="measure retrieval and answer quality against a naive baseline")
    e.add_argument("file", nargs="?", default=None, help="eval questions, JSON lines (default tests/data/eval.jsonl)")
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.add_argument("--seeds", default=None, help="raw article folder for the baseline (default: the seeds folder)")
    e.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    e.add_argument("--strict", action="store_true",
                   help="count only each question's 'answer' phrase, not its 'also' phrases (the same answer "
                        "stated elsewhere in the article)")
    e.add_argument("--index", default=None, help="index folder, or a milvus:// URI (default $QA_INDEX_URI, then $QA_INDEX_DIR, then embeddings/)")
    e.set_defaults(func=_cmd_eval)
    parser.commands = tuple(sub.choices)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = parser.commands
    if not any(a in commands for a in argv) and not {"-h", "--help"} & set(argv):
        # argparse would only say a command is required, not that "--bogus" is no option of qa's
        unknown = [_one_line(a) for a in argv if a not in ("-v", "--verbose")]
        word = next((a for a in unknown if not a.startswith("-")), None)
        said = (f"unknown command {word!r}; " if word else f"unrecognized arguments: {' '.join(unknown)}; "
                if unknown else "")
        parser.exit(2, f"qa: error: {said}choose a command: {', '.join(commands)} (see `qa --help`)\n")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .errors import QAError

    try:
        return args.func(args)
    except BrokenPipeError:
        # the reader went away (`qa clean DIR | head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (QAError, ValueError, KeyError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"qa: error: {_one_line(msg)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line for the user, the traceback with -v
        if args.verbose:
            logging.getLogger("qa").exception("unexpected error")
        hint = "" if args.verbose else " (run `qa -v ...` for the traceback)"
        print(f"qa: error: unexpected {type(exc).__name__}: {_one_line(exc)}{hint}", file=sys.stderr)
        return 1
