"""Start-up time of the chat app: from `python app.py --port P` to a page that loads and answers a question."""
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
QUESTION = "Who is Samat Abish?"
TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run() -> tuple[float, float]:
    """Seconds until the HTTP page loads, and until one chat request through gradio_client returns an answer."""
    from gradio_client import Client  # imported before the clock starts: it is the client's cost, not the app's

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
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
        client = Client(url, verbose=False)
        _, chat, _, _ = client.predict(QUESTION, [], 5, None, None, "All publishers", api_name="/ask")
        reply = chat[-1]["content"]
        text = reply[0]["text"] if isinstance(reply, list) else str(reply)
        if 'class="qa-answer"' not in text:
            raise RuntimeError(f"the first reply is not an answer: {text[:300]}")
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
    args = parser.parse_args(argv)
    rows = []
    for i in range(1, args.runs + 1):
        page, answer = one_run()
        rows.append((page, answer))
        print(f"run {i}: page {page:.2f} s, first answer {answer:.2f} s", file=sys.stderr)
    print(f"\nApp start-up: `python app.py --port P` until the page loads and answers “{QUESTION}” ({sys.platform}, {os.cpu_count()} CPUs)\n")
    print("| run | page loads (s) | first answer (s) |")
    print("|---|---|---|")
    for i, (page, answer) in enumerate(rows, 1):
        print(f"| {i} | {page:.2f} | {answer:.2f} |")
    print(f"| **median** | **{statistics.median(p for p, _ in rows):.2f}** | **{statistics.median(a for _, a in rows):.2f}** |")


if __name__ == "__main__":
    main()
