"""Load on the chat app: 50 concurrent chat requests, then 500 sequential ones, through gradio_client.

Usage: .venv/bin/python bench/load.py [--concurrent 50] [--sequential 500] [--questions FILE]
                                      [--env QA_INDEX_DIR=DIR] [--env OPENBLAS_NUM_THREADS=1]

The questions are a question set's (default tests/data/eval.jsonl, for the committed index of seeds/): its first
first-turn questions about ANSWERABLE different articles, then its first UNANSWERABLE unanswerable ones. Each is
first asked alone, through the app's own ask() in a separate process with the server's environment (so the same
index); that reply is what the server must give under load. Then it starts `python app.py --port P` on 127.0.0.1
(never any other interface), finds the chat endpoint with Client.view_api(), and checks every reply against it: the
same outcome, the same answer sentence, the same article cited for it and opened in the viewer ("Not in the
articles." and no article opened when the question was not answered alone). Prints a Markdown table (requests,
errors, p50/p95 latency, throughput, server RSS).

tests/test_load.py runs the same load through `run_load()` and asserts on its result.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only: this load must never leave the machine
START_TIMEOUT = 120.0  # seconds for the app to serve its page
REQUEST_TIMEOUT = 120.0  # seconds for one reply (the 50th queued concurrent request waits for the other 49)
PHASE_TIMEOUT = 600.0  # seconds for a whole phase; the run stops itself after that
RSS_EVERY = 50  # sample the server's RSS every this many sequential requests

NOT_FOUND = "Not in the articles."
PLACEHOLDER_MARK = 'class="qa-viewer-empty"'
QUESTIONS = ROOT / "tests" / "data" / "eval.jsonl"
ANSWERABLE, UNANSWERABLE = 3, 1  # questions taken from the set
OUTCOMES = ("answered", "unsure", "not_found")
EXPECT_TIMEOUT = 300.0  # seconds for the separate process that asks each question alone


@dataclass(frozen=True)
class Case:
    """A question and the reply it got when asked alone: what every reply under load must match."""
    question: str
    outcome: str  # answered | unsure | not_found
    sentence: str | None = None  # the answer sentence shown; None when not answered
    title: str | None = None  # the article cited for it and opened in the viewer


def set_questions(path: Path, answerable: int = ANSWERABLE, unanswerable: int = UNANSWERABLE) -> list[str]:
    """A question set's first answerable questions about `answerable` different articles (so a reply sent to the
    wrong request shows), then its first `unanswerable` unanswerable ones; first turns only (a follow-up needs its
    history), in the file's order."""
    from qa.evaluate import load_questions

    rows = [r for r in load_questions(path) if not r.get("history")]
    first_per_article = {}
    for r in rows:
        if r["kind"] == "answerable":
            first_per_article.setdefault(r["doc_id"], r["question"])
    picked = (list(first_per_article.values())[:answerable]
              + [r["question"] for r in rows if r["kind"] == "unanswerable"][:unanswerable])
    if not picked:
        raise SystemExit(f"{path} has no first-turn questions to ask")
    return picked


def reply_key(result) -> tuple[str, str | None, str | None] | str:
    """(outcome, answer sentence, title of the article cited for it) from what the chat endpoint returns,
    (input box, chat, sources list, viewer, notice); a string saying what is wrong if the reply is malformed."""
    if not isinstance(result, (tuple, list)) or len(result) < 5:
        return f"unexpected result shape: {result!r:.300}"
    chat, viewer, notice = result[1], _text(result[3]), _text(result[4])
    if 'class="qa-notice"' in notice:
        return f"error notice: {_shown(notice)[:300]}"
    if not chat or chat[-1].get("role") != "assistant":
        return f"no assistant message: {chat!r:.300}"
    reply = _text(chat[-1]["content"])
    outcome = next((o for o in OUTCOMES if f"qa-outcome-{o}" in reply), None)
    if outcome is None:
        return f"no outcome in the reply: {_shown(reply)[:300]}"
    if outcome == "not_found":
        if NOT_FOUND not in reply:
            return f"not found without '{NOT_FOUND}': {_shown(reply)[:300]}"
        if PLACEHOLDER_MARK not in viewer:
            return f"the viewer opened an article for an unanswered question: {viewer[:200]}"
        return outcome, None, None
    m = re.search(r'<p class="qa-answer-text">(.*?) <a class="qa-ref" href="#qa-cite-\d+-(\d+)"', reply, re.S)
    if not m:
        return f"no answer sentence: {reply[:300]}"
    sentence, ref = html.unescape(m.group(1)), m.group(2)
    cited = re.search(rf'<a class="qa-title" href="#qa-cite-\d+-{ref}"[^>]*>'
                      rf'<span class="qa-num">\[{ref}\]</span> (.*?)</a>', reply)
    if not cited:
        return f"the answer's source [{ref}] is not listed: {reply[:300]}"
    title = html.unescape(cited.group(1))
    shown = re.search(r"<h3[^>]*>(.*?)</h3>", viewer)
    if not shown or html.unescape(shown.group(1)) != title:
        return f"viewer shows {shown and html.unescape(shown.group(1))!r}, the answer cites {title!r}"
    return outcome, sentence, title


def expected_cases(questions: list[str], env: dict[str, str] | None = None) -> tuple[Case, ...]:
    """Each question asked alone through the app's ask(), in a separate process with the server's environment (the
    same index, and a Milvus Lite file is free again for the server once it exits)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    full_env.pop("QA_HOST", None)
    full_env.pop("QA_INDEX_DIR", None)
    full_env.update(env or {})
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--alone", json.dumps(questions)], cwd=ROOT,
                         env=full_env, capture_output=True, text=True, timeout=EXPECT_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError(f"asking the questions alone failed:\n{out.stderr[-3000:]}")
    return tuple(Case(*row) for row in json.loads(out.stdout.strip().splitlines()[-1]))


def ask_alone(questions: list[str]) -> list[list]:
    """`--alone`: each question asked once through app.ask in this process, as [question, outcome, sentence, title]."""
    sys.path.insert(0, str(ROOT))
    import app

    rows = []
    for q in questions:
        r = app.ask(app.Session(), q, ())
        key = reply_key(("", [*r.messages], r.sources, r.viewer, app.format_notice()))
        if isinstance(key, str):
            raise RuntimeError(f"{q!r} asked alone: {key}")
        rows.append([q, *key])
    return rows


# ---------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process and its children, in MiB, from /proc/<pid>/status (VmRSS)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])  # kB
        except OSError:
            continue
    return total / 1024


class Server:
    """`python app.py --host 127.0.0.1 --port P [ARGS]` in a subprocess; ready once its page loads over HTTP."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        full_env.pop("QA_HOST", None)
        full_env.pop("QA_INDEX_DIR", None)
        full_env.update(env or {})
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--host", HOST, "--port", str(self.port), *args],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log_tail(self, n: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def wait_ready(self, timeout: float = START_TIMEOUT) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"app did not serve {self.url} within {timeout:.0f}s:\n{self.log_tail()}")

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


# ---------------------------------------------------------------------------
# The client side


def chat_endpoint(client) -> tuple[str, list[str]]:
    """The api_name of the endpoint that answers a chat message, and its parameter names.

    It is the named endpoint whose first parameter is the message Textbox and that has a Chatbot among its
    parameters (the app exposes exactly one: `/ask`).
    """
    info = client.view_api(return_format="dict", print_info=False)
    found = []
    for name, ep in info["named_endpoints"].items():
        params = ep["parameters"]
        if params and params[0]["component"] == "Textbox" and any(p["component"] == "Chatbot" for p in params):
            found.append((name, [p["parameter_name"] for p in params]))
    if len(found) != 1:
        raise RuntimeError(f"expected one chat endpoint, found {[n for n, _ in found]} in {sorted(info['named_endpoints'])}")
    return found[0]


def ask_args(question: str, params: list[str]) -> dict:
    """Keyword arguments for one fresh chat turn: empty chat, default filters."""
    args = {params[0]: question}
    defaults = {"chat": [], "k_value": 3, "since_value": "", "until_value": "", "publisher_value": ""}
    args.update({p: defaults[p] for p in params[1:] if p in defaults})
    return args


def _text(content) -> str:
    if isinstance(content, list):
        return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    if isinstance(content, dict):
        return str(content.get("text", content))
    return str(content)


def _shown(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def check_reply(case: Case, result) -> str | None:
    """None if the reply is the one the question got when asked alone, else what differs.

    `result` is what the chat endpoint returns: (input box, chat, sources list, viewer, notice)."""
    key = reply_key(result)
    if isinstance(key, str):
        return key
    for name, got, want in zip(("outcome", "answer sentence", "cited article"), key,
                               (case.outcome, case.sentence, case.title)):
        if got != want:
            return f"{name} {got!r}, asked alone {want!r}"
    return None


@dataclass
class Phase:
    name: str
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    rss_before: float = 0.0
    rss_after: float = 0.0
    rss_samples: list[tuple[int, float]] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def one_request(client, api_name: str, params: list[str], case: Case) -> tuple[float, str | None]:
    t = time.perf_counter()
    try:
        result = client.submit(api_name=api_name, **ask_args(case.question, params)).result(timeout=REQUEST_TIMEOUT)
    except Exception as exc:  # a timeout or a transport/server error is a failed request, not a crash of the run
        return time.perf_counter() - t, f"{case.question!r}: {type(exc).__name__}: {exc}"[:400]
    latency = time.perf_counter() - t
    problem = check_reply(case, result)
    return latency, problem and f"{case.question!r}: {problem}"


def concurrent_phase(server: Server, n: int, cases: tuple[Case, ...]) -> Phase:
    """n users at once: n clients (own sessions), released together by a barrier, one question each."""
    from gradio_client import Client

    phase = Phase("concurrent", n, rss_before=server.rss_mb())
    with ThreadPoolExecutor(max_workers=min(n, 10)) as pool:  # each Client fetches the config: set them up in parallel
        clients = list(pool.map(lambda _: Client(server.url, verbose=False, max_workers=2), range(n)))
    try:
        api_name, params = chat_endpoint(clients[0])
        barrier = threading.Barrier(n + 1, timeout=60)
        results: list = [None] * n

        def user(i: int) -> None:
            barrier.wait()
            results[i] = one_request(clients[i], api_name, params, cases[i % len(cases)])

        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = [pool.submit(user, i) for i in range(n)]
            barrier.wait()
            t0 = time.perf_counter()
            for f in futures:
                f.result(timeout=PHASE_TIMEOUT)
            phase.wall = time.perf_counter() - t0
    finally:
        # close() waits up to 1 s for each client's heartbeat thread: close them side by side, not 50 s in a row
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(lambda c: c.close(), clients))
    for latency, problem in results:
        phase.latencies.append(latency)
        if problem:
            phase.errors.append(problem)
    phase.rss_after = server.rss_mb()
    return phase


def sequential_phase(server: Server, n: int, cases: tuple[Case, ...], rss_every: int = RSS_EVERY) -> Phase:
    """One client asks n questions in a row (cycling through the cases), each waiting for the previous reply."""
    from gradio_client import Client

    phase = Phase("sequential", n, rss_before=server.rss_mb())
    client = Client(server.url, verbose=False)
    try:
        api_name, params = chat_endpoint(client)
        t0 = time.perf_counter()
        for i in range(n):
            if time.perf_counter() - t0 > PHASE_TIMEOUT:
                phase.errors.append(f"stopped after {i} of {n} requests: the phase took over {PHASE_TIMEOUT:.0f}s")
                break
            latency, problem = one_request(client, api_name, params, cases[i % len(cases)])
            phase.latencies.append(latency)
            if problem:
                phase.errors.append(problem)
            if (i + 1) % rss_every == 0:
                phase.rss_samples.append((i + 1, server.rss_mb()))
        phase.wall = time.perf_counter() - t0
    finally:
        client.close()
    phase.rss_after = server.rss_mb()
    return phase


@dataclass
class LoadResult:
    startup: float
    rss_start: float
    phases: list[Phase]
    cases: tuple[Case, ...]


def run_load(log_path: Path, concurrent: int = 50, sequential: int = 500, env: dict[str, str] | None = None,
             progress=None, questions: Path = QUESTIONS) -> LoadResult:
    """Ask the set's questions alone, start the app, warm it up with one request per case, run both phases, stop
    the app."""
    from gradio_client import Client

    say = progress or (lambda msg: None)
    cases = expected_cases(set_questions(questions), env)
    say("asked alone: " + "; ".join(f"{c.question!r} -> {c.outcome}" for c in cases))
    server = Server(log_path, env)
    try:
        startup = server.wait_ready()
        rss_start = server.rss_mb()
        warm = Client(server.url, verbose=False)
        try:
            api_name, params = chat_endpoint(warm)
            say(f"app ready in {startup:.1f}s, RSS {rss_start:.0f} MiB, chat endpoint {api_name}{tuple(params)}")
            for case in cases:  # the app loads its index and model on first use: keep that out of the figures
                _, problem = one_request(warm, api_name, params, case)
                if problem:
                    raise RuntimeError(f"warm-up request failed: {problem}\n{server.log_tail()}")
        finally:
            warm.close()
        phases = []
        if concurrent:
            phases.append(concurrent_phase(server, concurrent, cases))
            say(summary_line(phases[-1]))
        if sequential:
            phases.append(sequential_phase(server, sequential, cases))
            say(summary_line(phases[-1]))
        if server.proc.poll() is not None:
            raise RuntimeError(f"app exited with {server.proc.returncode} during the load:\n{server.log_tail()}")
        return LoadResult(startup, rss_start, phases, cases)
    finally:
        server.stop()


def summary_line(p: Phase) -> str:
    return (
        f"{p.name}: {len(p.latencies)}/{p.requests} requests, {len(p.errors)} errors, p50 {p.pct(0.5):.3f}s, "
        f"p95 {p.pct(0.95):.3f}s, max {max(p.latencies, default=float('nan')):.3f}s, {p.throughput:.2f} req/s "
        f"in {p.wall:.1f}s, RSS {p.rss_before:.0f} -> {p.rss_after:.0f} MiB"
    )


def table(result: LoadResult) -> str:
    rows = [
        "| phase | requests | errors | p50 latency (s) | p95 latency (s) | throughput (req/s) | RSS before (MiB) | RSS after (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in result.phases:
        rows.append(
            f"| {p.name} | {len(p.latencies)} | {len(p.errors)} | {p.pct(0.5):.3f} | {p.pct(0.95):.3f} | "
            f"{p.throughput:.2f} | {p.rss_before:.0f} | {p.rss_after:.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=50, help="requests sent at once (default 50)")
    parser.add_argument("--sequential", type=int, default=500, help="requests sent one after another (default 500)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS,
                        help="question set whose questions are asked (default tests/data/eval.jsonl)")
    parser.add_argument("--alone", metavar="JSON", help=argparse.SUPPRESS)  # expected_cases() runs this in a child
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment for the app")
    args = parser.parse_args(argv)
    if args.alone is not None:
        print(json.dumps(ask_alone(json.loads(args.alone))))
        return 0
    if not 0 <= args.concurrent <= 200 or not 0 <= args.sequential <= 5000:
        parser.error("keep --concurrent within 0..200 and --sequential within 0..5000")
    env = dict(e.split("=", 1) for e in args.env)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "app.log"
        result = run_load(log, args.concurrent, args.sequential, env, progress=lambda m: print(m, file=sys.stderr),
                          questions=args.questions)
    seq = next((p for p in result.phases if p.name == "sequential"), None)
    if seq and seq.rss_samples:
        print("RSS during the sequential phase (MiB): " + ", ".join(f"{n}: {r:.0f}" for n, r in seq.rss_samples), file=sys.stderr)
    extra = f", env {' '.join(args.env)}" if args.env else ""
    print(
        f"\nChat load through gradio_client on {HOST} ({sys.platform}, {os.cpu_count()} CPUs{extra}); "
        f"app start-up {result.startup:.1f}s, RSS after start-up {result.rss_start:.0f} MiB; "
        f"questions cycle through {len(result.cases)} of {args.questions.name} "
        f"({', '.join(c.outcome for c in result.cases)} when asked alone)\n"
    )
    print(table(result))
    errors = [e for p in result.phases for e in p.errors]
    for e in errors[:10]:
        print("error:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
