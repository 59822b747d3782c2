"""`qa build` the old way and the new way on the same folder, in one run, and print both with their ratio.

The old way is this repository at another commit (default `main`), checked out with `git worktree` into a
temporary folder; each build runs in its own process, from an empty index folder, so peak RSS is its own. Phases
are timed by wrapping the builder's steps: clean (reading and cleaning the files), encode (loading the model and
encoding passages, sentences and token vectors, compression included), write (FAISS, BM25, stores, manifest);
"other" is the rest (listing, chunking, hashing).

    python bench/build.py                       # the vendored corpora (212 pages) plus the seeds
    python bench/build.py --files 60            # a deterministic subset, for a quicker run
    python bench/build.py --old-ref 2d6d648     # compare against another commit
    python bench/build.py --ray                 # this checkout: single process vs Ray with 1 and with 2 workers

With --ray every build is this checkout's, each in its own process from an empty index folder: the single-process
build (the baseline, its encoder on every core), then `qa.build(..., ray=qa.RayBuild(workers=k))` on a local Ray
runtime of --ray-cpus CPUs with k = 1, 2 encoder actors of one CPU each. The Ray runtime is started before the
clock starts (its start-up is shown apart: on a cluster it is paid once, not per build).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = [ROOT / "tests" / "corpora" / "aeb-dev" / "txt", ROOT / "tests" / "corpora" / "readability" / "txt", ROOT / "seeds"]

# Runs in a child process with the code under test first on sys.path. Functions missing from a version are skipped.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import qa, qa.builder, qa.embed
phases = {"clean": 0.0, "encode": 0.0, "write": 0.0}
WRAP = {
    "clean": [("qa.builder", "clean_collection"), ("qa.builder", "clean_results")],
    "encode": [("qa.builder", "_encode_new"), ("qa.embed", "encode_documents"), ("qa.embed", "encode_passage_tokens"),
               ("qa.embed", "encode_passages"), ("qa.embed", "encode_sentences"), ("qa.tokens", "compress")],
    "write": [("qa.builder", "write_index")],
}
active = set()  # a phase's outermost call is timed, not the calls inside it (encode processes are not seen)
def timed(phase, fn):
    def run(*a, **k):
        if phase in active:
            return fn(*a, **k)
        active.add(phase)
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            phases[phase] += time.perf_counter() - t
            active.discard(phase)
    return run
for phase, names in WRAP.items():
    for mod, attr in names:
        try:
            m = sys.modules.get(mod) or __import__(mod, fromlist=[attr])
        except ImportError:  # a module the other checkout does not have
            continue
        if hasattr(m, attr):
            setattr(m, attr, timed(phase, getattr(m, attr)))
seeds, out = sys.argv[1], Path(sys.argv[2])
t0 = time.perf_counter()
report = qa.build(seeds, out, force=True)
total = time.perf_counter() - t0
manifest = json.loads((out / "manifest.json").read_text())
files = manifest["files"]
token_bytes = sum(f["size"] for n, f in files.items() if n.startswith("token_"))
print(json.dumps({
    "articles": report.articles, "passages": report.passages, "seconds": total, "phases": phases,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "index_bytes": sum(f["size"] for f in files.values()), "token_bytes": token_bytes,
    "torch": "torch" in sys.modules,
}))
"""


RAY_CHILD = r"""
import json, logging, sys, time
from pathlib import Path
import qa
seeds, out, workers, cpus = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
if workers:
    import ray
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, configure_logging=False, logging_level=logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False
startup = time.perf_counter() - t0
t0 = time.perf_counter()
report = qa.build(seeds, out, force=True, ray=qa.RayBuild(workers=workers) if workers else None)
print(json.dumps({"articles": report.articles, "passages": report.passages, "seconds": time.perf_counter() - t0,
                  "startup": startup, "workers": workers}))
"""


def run_build(code_root: Path, seeds: Path, out: Path, child: str = CHILD, args: tuple = ()) -> dict:
    env = {"PYTHONPATH": str(code_root), "PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", child, str(seeds), str(out), *map(str, args)], capture_output=True, text=True, env=env, cwd=code_root
    )
    if proc.returncode != 0:
        raise SystemExit(f"build with {code_root} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def seed_folder(dest: Path, files: int | None) -> int:
    paths = sorted(p for f in FOLDERS for p in f.iterdir() if p.suffix in (".txt", ".html"))
    if files is not None:  # every k-th file, so the subset spans both corpora
        step = max(1, len(paths) // files)
        paths = paths[::step][:files]
    for p in paths:
        shutil.copy(p, dest / f"{p.parent.parent.name}-{p.name}" if p.parent.name == "txt" else dest / p.name)
    return len(paths)


def table(old: dict, new: dict, old_ref: str) -> str:
    def row(name, a, b, fmt, better_low=True):
        ratio = (a / b if better_low else b / a) if a and b else float("nan")
        return f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {ratio:.2f}x |"

    lines = [
        f"| | old ({old_ref}) | new | new is better by |",
        "|---|---:|---:|---:|",
        row("passages a second", old["passages"] / old["seconds"], new["passages"] / new["seconds"], "{:.1f}", False),
        row("total seconds", old["seconds"], new["seconds"], "{:.1f}"),
    ]
    for phase in ("clean", "encode", "write"):
        lines.append(row(f"  {phase} seconds", old["phases"][phase], new["phases"][phase], "{:.1f}"))
    other = [r["seconds"] - sum(r["phases"].values()) for r in (old, new)]
    lines.append(row("  other seconds", *other, "{:.1f}"))
    lines += [
        row("peak RSS (MB)", old["peak_rss_mb"], new["peak_rss_mb"], "{:.0f}"),
        row("  largest cleaning or encoder process's peak RSS (MB)", old.get("child_peak_rss_mb", 0),
            new.get("child_peak_rss_mb", 0), "{:.0f}"),
        row("index bytes a passage", old["index_bytes"] / old["passages"], new["index_bytes"] / new["passages"], "{:,.0f}"),
        row("  token store bytes a passage", old["token_bytes"] / old["passages"], new["token_bytes"] / new["passages"], "{:,.0f}"),
        f"| torch imported | {old['torch']} | {new['torch']} | |",
    ]
    return "\n".join(lines)


def ray_table(runs: list[dict], cpus: int) -> str:
    base = runs[0]["passages"] / runs[0]["seconds"]
    lines = [
        "| build | encoder CPUs | seconds | passages a second | vs single process | Ray start-up (s, not counted) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        rate = r["passages"] / r["seconds"]
        name = f"Ray, {r['workers']} worker{'s' if r['workers'] > 1 else ''}" if r["workers"] else "single process (baseline)"
        used = r["workers"] or cpus
        start = f"{r['startup']:.1f}" if r["workers"] else "-"
        lines.append(f"| {name} | {used} | {r['seconds']:.1f} | {rate:.1f} | {rate / base:.2f}x | {start} |")
    return "\n".join(lines)


def run_ray(seeds: Path, tmp: Path, cpus: int, worker_counts: list[int]) -> list[dict]:
    runs = []
    for k in [0, *worker_counts]:
        print(f"building {'in one process' if not k else f'on Ray with {k} worker(s)'} ...", file=sys.stderr, flush=True)
        runs.append(run_build(ROOT, seeds, tmp / f"index-ray{k}", RAY_CHILD, (k, cpus)))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=None, help="build a subset of this many files (default: all)")
    parser.add_argument("--old-ref", default="main", help="the commit to compare against (default %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="also write both results to this file")
    parser.add_argument("--ray", action="store_true", help="single process vs Ray with 1 and 2 workers (needs the cluster extra)")
    parser.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray runtime (default %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-bench-build-") as tmp:
        tmp = Path(tmp)
        seeds = tmp / "seeds"
        seeds.mkdir()
        n = seed_folder(seeds, args.files)
        if args.ray:
            runs = run_ray(seeds, tmp, args.ray_cpus, [1, 2])
            print(f"{n} files -> {runs[0]['articles']} articles, {runs[0]['passages']} passages; local Ray runtime of {args.ray_cpus} CPUs\n")
            print(ray_table(runs, args.ray_cpus))
            if args.json:
                args.json.write_text(json.dumps({"ray": runs, "files": n}, indent=2))
            return 0
        old_root = tmp / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_root), args.old_ref], check=True, capture_output=True)
        try:
            print(f"{n} files; building with {args.old_ref} ...", file=sys.stderr, flush=True)
            old = run_build(old_root, seeds, tmp / "index-old")
            print("building with this checkout ...", file=sys.stderr, flush=True)
            new = run_build(ROOT, seeds, tmp / "index-new")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_root)], capture_output=True)
    print(f"{n} files -> {new['articles']} articles, {new['passages']} passages (old: {old['articles']}, {old['passages']})\n")
    print(table(old, new, args.old_ref))
    if args.json:
        args.json.write_text(json.dumps({"old": old, "new": new, "files": n}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
