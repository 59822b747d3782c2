"""Builds on a Ray cluster: reading, cleaning, chunking and encoding run as Ray Data batches across its workers;
the driver writes the index through the same writer as a single-process build (qa.builder runs both)."""
from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass

import numpy as np

from . import config
from .errors import BuildError, QAError

log = logging.getLogger(__name__)

INSTALL_HINT = "Install the optional cluster extra: `pip install .[cluster]` (or `make install-cluster`)."
CONNECT_TIMEOUT = 5.0  # seconds to reach the head before giving up (ray.init itself retries for minutes)


@dataclass(frozen=True)
class RayBuild:
    """How `qa.build` runs on Ray (pass it as `qa.build(..., ray=qa.RayBuild(...))`).

    address: the cluster's head as "HOST:6379" (what `ray start --head` prints), or "auto" for the cluster this
        machine has joined; None starts a local Ray runtime for this build and stops it afterwards. A Ray runtime
        already initialised in this process is used as it is.
    num_cpus: CPUs the local runtime may use (None: all of this machine's); only without an address.
    workers: encoder actors, each loading the ONNX session once (None: one per `cpus_per_worker` CPUs of the cluster).
    cpus_per_worker: CPUs each encoder actor reserves, and so its ONNX Runtime threads.
    articles_per_batch: articles in one Ray Data batch (one task, or one call of an encoder actor).
    """

    address: str | None = None
    num_cpus: int | None = None
    workers: int | None = None
    cpus_per_worker: int = 1
    articles_per_batch: int = 4

    def __post_init__(self):
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise ValueError(f"address of {self.address!r} is not a Ray address; pass HOST:PORT (e.g. head:6379), 'auto', or None")
        for name in ("num_cpus", "workers", "cpus_per_worker", "articles_per_batch"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} of {v!r} is not a positive whole number; pass 1 or more")
        if self.num_cpus is not None and self.address is not None:
            raise ValueError("num_cpus sizes a local Ray runtime; leave it unset with an address (the cluster has its own CPUs)")


def _check_reachable(address: str) -> None:
    """Fail in seconds on a head nobody listens at, with the fix (ray.init would retry for minutes)."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise BuildError(f"The Ray address {address!r} is not HOST:PORT. Pass the head's address as `ray start --head` prints it, e.g. `qa build --ray head:6379`.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise BuildError(
            f"Cannot reach a Ray cluster at {address}: {exc.strerror or exc}. Start its head with `ray start --head` "
            "and pass the address it prints, or use `qa build --ray` without an address to build on a local Ray runtime."
        ) from exc


def _qa_cause(exc: BaseException) -> QAError | None:
    """The package's own error behind a Ray failure (Ray wraps a worker's exception, sometimes twice)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, QAError):
            return exc
        exc = getattr(exc, "cause", None) or exc.__cause__
    return None


def _apply(batch: dict, fn) -> dict:
    """One Ray Data batch of a per-item step: fn on each item, results kept in the item's place."""
    out = np.empty(len(batch["i"]), dtype=object)
    for j, item in enumerate(batch["item"]):
        out[j] = fn(item)
    return {"i": batch["i"], "out": out}


class _Encoder:
    """An encoder actor: loads the ONNX session once, then encodes batches of articles as the single-process build
    encodes them (qa.builder._encode_new)."""

    def __init__(self):
        import ray

        # ONNX Runtime threads: the CPUs Ray gave this actor, not every core of its node. And no encoder processes
        # forked from the actor (a single-process build forks them for a large batch): they would take every core of
        # the node, and a fork of a Ray worker keeps its sockets open, so when the actor dies (its node goes away, or
        # it is killed) Ray sees no disconnect and waits on the dead actor for minutes, or for ever.
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
        os.environ["QA_ENCODE_THREADS"] = str(max(1, int(cpus)))
        os.environ["QA_ENCODE_PROCESSES"] = "1"
        from .embed import encoder_identity

        self.identity = json.dumps(encoder_identity(), sort_keys=True)

    def __call__(self, batch: dict) -> dict:
        from .builder import _encode_new

        items = [([str(t) for t in p], [str(t) for t in s], [int(x) for x in st])
                 for p, s, st in zip(batch["passages"], batch["sentences"], batch["starts"])]
        encoded = _encode_new(items, progress=False)
        names = ("vectors", "sentence_vectors", "codes", "refs", "ids", "spans", "lengths")
        cols = {k: np.empty(len(items), dtype=object) for k in names}
        for j, e in enumerate(encoded):
            cols["vectors"][j], cols["sentence_vectors"][j] = e.vectors, e.sentence_vectors
            t = e.tokens
            cols["codes"][j], cols["refs"][j], cols["ids"][j] = t.codes, t.refs, t.ids
            cols["spans"][j], cols["lengths"][j] = t.spans, t.lengths
        return {"i": batch["i"], "encoder": np.array([self.identity] * len(items)), **cols}


class RayRunner:
    """The build's per-item steps on Ray: `map` (read, clean, chunk) as tasks, `encode` in a pool of actors."""

    def __init__(self, settings: RayBuild, progress: bool = False):
        if not isinstance(settings, RayBuild):
            raise ValueError(f"ray must be a qa.RayBuild settings object, not {type(settings).__name__}")
        try:
            import ray
            import ray.data  # noqa: F401
        except ImportError as exc:
            raise BuildError(f"Building on Ray needs the Ray library, which is not installed ({exc}). {INSTALL_HINT}") from exc
        self.ray, self.settings, self.progress = ray, settings, progress
        self._owned = False

    def __enter__(self) -> RayRunner:
        ray, s = self.ray, self.settings
        from .embed import encoder_identity

        # The driver checks (and, once per machine, creates) the ONNX export before any worker needs it.
        self.identity = json.dumps(encoder_identity(), sort_keys=True)
        if s.address is not None:
            _check_reachable(s.address)
        if ray.is_initialized():
            here = ray.get_runtime_context().gcs_address
            if s.address not in (None, "auto", here):
                raise BuildError(f"This process is already connected to Ray at {here}, not {s.address}; build from a new process.")
        else:
            try:
                # "local" always starts a fresh runtime; None would join any cluster this machine happens to run.
                ray.init(address=s.address or "local", num_cpus=s.num_cpus, include_dashboard=False,
                         logging_level=logging.WARNING, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BuildError(f"Cannot start or join Ray at {s.address or 'a local runtime'}: {exc}") from exc
            self._owned = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = self.progress
        # Files, articles and passages travel as Python objects (Arrow has no type for them): said, not warned about.
        ctx.enable_fallback_to_arrow_object_ext_type = True
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < s.cpus_per_worker:
            self.__exit__(None, None, None)
            raise BuildError(f"The Ray cluster has {cpus} CPUs, fewer than cpus_per_worker={s.cpus_per_worker}; lower it or add nodes.")
        self.workers = s.workers or max(1, cpus // s.cpus_per_worker)
        log.info("building on Ray: %d CPUs, %d encoder workers", cpus, self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self._owned:
            self.ray.shutdown()
            self._owned = False

    def _blocks(self, n: int) -> int:
        return max(1, -(-n // self.settings.articles_per_batch))

    def _dataset(self, rows: list[dict]):
        # One block per batch, so the batches spread over the workers instead of queueing on one.
        return self.ray.data.from_items(rows, override_num_blocks=self._blocks(len(rows)))

    def _collect(self, ds, n: int, what: str) -> list[dict]:
        try:
            rows = ds.take_all()
        except Exception as exc:  # noqa: BLE001 - Ray wraps worker failures in its own types
            cause = _qa_cause(exc)
            if cause is not None:
                raise cause from exc
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BuildError(f"The Ray build failed while {what}: {first}. Run `qa -v build --ray ...` for Ray's log.") from exc
        out: list = [None] * n
        for r in rows:
            out[int(r["i"])] = r
        if any(r is None for r in out):
            raise BuildError(f"The Ray build lost results while {what}; run it again.")
        return out

    def map(self, fn, items: list) -> list:
        """fn on each item, as Ray tasks; results in the items' order."""
        if not items:
            return []
        ds = self._dataset([{"i": i, "item": x} for i, x in enumerate(items)])
        ds = ds.map_batches(_apply, fn_args=(fn,), batch_size=self.settings.articles_per_batch, batch_format="numpy", num_cpus=1)
        return [r["out"] for r in self._collect(ds, len(items), f"running {getattr(fn, '__name__', fn)}")]

    def encode(self, items: list[tuple[list[str], list[str], list[int]]]):
        """(passage texts, sentence texts, passage offsets) per article -> one qa.builder._Encoded per article, by the
        actor pool."""
        from .builder import _Encoded
        from .tokens import TokenBlock, codec

        if not items:
            return []
        s = self.settings
        ds = self._dataset([{"i": i, "passages": list(p), "sentences": list(t), "starts": list(st)}
                            for i, (p, t, st) in enumerate(items)])
        ds = ds.map_batches(
            _Encoder,
            compute=self.ray.data.ActorPoolStrategy(size=min(self.workers, self._blocks(len(items)))),
            num_cpus=s.cpus_per_worker, batch_size=s.articles_per_batch, batch_format="numpy",
        )
        rows = self._collect(ds, len(items), "encoding")
        other = {r["encoder"] for r in rows} - {self.identity}
        if other:
            raise BuildError(
                f"A Ray worker encodes with {sorted(other)[0]}, the driver with {self.identity}: vectors from two "
                "encoders are not comparable. Install the same qa, onnxruntime and model on every node."
            )
        dim = config.MODEL_DIM

        def arr(x, dtype, width=None):
            a = np.asarray(x, dtype=dtype)
            return a.reshape(-1, width) if width is not None else a.reshape(-1)

        return [
            _Encoded(
                arr(r["vectors"], np.float32, dim),
                arr(r["sentence_vectors"], np.float32, dim),
                TokenBlock(arr(r["codes"], np.uint8, codec().code_size), arr(r["refs"], np.int64),
                           arr(r["ids"], np.int64), arr(r["spans"], np.int64, 2), arr(r["lengths"], np.int64)),
            )
            for r in rows
        ]
