"""Start-up time of the chat app: from `python app.py --port P` to a page that loads and answers a question, beside a
bare `python -c "import gradio"` measured in the same run (the floor any Gradio app pays on this machine).

Usage: .venv/bin/python bench/startup.py [--runs 3] [--before OLD_APP.py] [--questions FILE]

The question asked is the first of a question set's (default tests/data/eval.jsonl, written for the committed index
of seeds/ the app serves); none is written into this script.

`--before` also times another version of app.py (e.g. `git show 2d6d648:app.py > /tmp/app_before.py`) for its page
only, run from this repository so it uses the same qa package and index.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bare_import() -> float:
    """Seconds for a fresh interpreter to `import gradio` and exit."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import gradio"], check=True, cwd=ROOT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    return time.perf_counter() - t0


def first_question(path: Path) -> str:
    """The set's first question that is not a follow-up."""
    sys.path.insert(0, str(ROOT))
    from qa.evaluate import load_questions

    q = next((r["question"] for r in load_questions(path) if not r.get("history")), None)
    if q is None:
        raise SystemExit(f"{path} has no first-turn question")
    return q


def one_run(app: Path, answer: bool, question: str | None = None) -> tuple[float, float | None]:
    """Seconds until the HTTP page loads, and (when `answer`) until one chat request through gradio_client asking
    `question` returns an answer."""
    if answer and not question:
        raise ValueError("answer=True needs the question to ask")
    from gradio_client import Client  # imported before the clock starts: it is the client's cost, not the app's

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(app), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        page = None
        while page is None:
            if time.perf_counter() - t0 > TIMEOUT:
                raise RuntimeError(f"no page at {url} after {TIMEOUT:.0f}s")
            if proc.poll() is not None:
                raise RuntimeError(f"app exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        page = time.perf_counter() - t0
            except OSError:
                time.sleep(0.05)
        if not answer:
            return page, None
        client = Client(url, verbose=False)
        _, chat, *_ = client.predict(question, [], 3, "", "", "", api_name="/ask")
        reply = chat[-1]["content"]
        text = reply[0]["text"] if isinstance(reply, list) else str(reply)
        if "qa-outcome-answered" not in text and "qa-outcome-unsure" not in text:
            raise RuntimeError(f"the first reply shows no passage: {text[:300]}")
        return page, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another app.py to time (page only)")
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "eval.jsonl",
                        help="question set whose first question is asked (default tests/data/eval.jsonl)")
    args = parser.parse_args(argv)
    question = first_question(args.questions)
    rows = []
    for i in range(1, args.runs + 1):  # interleaved, so load on the machine hits every column alike
        bare = bare_import()
        before = one_run(args.before, answer=False)[0] if args.before else None
        page, first = one_run(ROOT / "app.py", answer=True, question=question)
        rows.append((bare, before, page, first))
        print(f"run {i}: import gradio {bare:.2f} s, before {before or 0:.2f} s, page {page:.2f} s, first answer {first:.2f} s", file=sys.stderr)
    print(f"\nApp start-up: process start until the page loads / answers “{question}” ({sys.platform}, {os.cpu_count()} CPUs)\n")
    head = "| run | bare `import gradio` (s) |" + (" before: page loads (s) |" if args.before else "") + " page loads (s) | page ÷ import | first answer (s) |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")

    def line(label, bare, before, page, first):
        cells = [label, f"{bare:.2f}"] + ([f"{before:.2f}"] if args.before else []) + [f"{page:.2f}", f"{page / bare:.2f}", f"{first:.2f}"]
        return "| " + " | ".join(cells) + " |"

    for i, row in enumerate(rows, 1):
        print(line(str(i), *row))
    med = [statistics.median(r[c] for r in rows) if rows[0][c] is not None else None for c in range(4)]
    print(line("**median**", *med))


if __name__ == "__main__":
    main()
