"""all-MiniLM-L6-v2 run by ONNX Runtime on the query path: exported once from the verified weights, checked on load."""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import config
from .errors import ModelError
from .embed import file_sha256
from .minilm import Encoder

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1
OPSET = 17
REGENERATE_HINT = "Regenerate it with `make install` (or `python -m qa.onnx_runtime`)."


def cache_dir() -> Path:
    """Where generated model files live: $QA_CACHE_DIR, else ~/.cache/qa."""
    env = os.environ.get("QA_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "qa"


def cached_model_path() -> Path:
    """The ONNX export for the pinned weights (the name carries their hash, so new weights never reuse it)."""
    return cache_dir() / f"all-MiniLM-L6-v2-{config.MODEL_SHA256[:16]}.onnx"


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".json")


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
    by the installed ONNX Runtime.

    Args:
        model_dir: the model folder (model.safetensors, config.json, tokenizer.json).
        out_path: where to write the .onnx file; a .json sidecar with both hashes is written beside it.

    Returns:
        The path of the ONNX file.

    Raises:
        ModelError: the weights fail verification.
    """
    from .embed import verify_model

    folder = verify_model(Path(model_dir))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # torch and transformers are heavy and allowed on this path only; never on the query path.
    import warnings

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

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


def verify_export(onnx_path: Path) -> None:
    """Check the export against its sidecar: the file's own sha256, the weights it came from, and the ONNX Runtime
    that optimised it (the saved graph holds that version's fused operators; another may not run it)."""
    import onnxruntime as ort

    side = sidecar_path(onnx_path)
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
    try:
        actual = file_sha256(onnx_path)
    except OSError as exc:
        raise ModelError(f"The ONNX model at {onnx_path} is unreadable: {exc.strerror or exc}. {REGENERATE_HINT}") from exc
    if actual != digest:
        raise ModelError(
            f"The ONNX model at {onnx_path} has sha256 {actual}, but its sidecar says {digest}: "
            f"the file is corrupt or was replaced. {REGENERATE_HINT}"
        )
    if meta.get("format") != EXPORT_FORMAT or meta.get("onnxruntime") != ort.__version__:
        raise ModelError(
            f"The ONNX model at {onnx_path} was optimised by onnxruntime {meta.get('onnxruntime')} "
            f"(format {meta.get('format')}), not the installed {ort.__version__}. {REGENERATE_HINT}"
        )


class OrtMiniLM(Encoder):
    """The same interface as qa.minilm.MiniLM, with the encoder run by ONNX Runtime on one thread."""

    def __init__(self, model_dir: str | os.PathLike, onnx_path: str | os.PathLike | None = None):
        import onnxruntime as ort
        t0 = time.perf_counter()
        root = Path(model_dir)
        path = Path(onnx_path) if onnx_path is not None else cached_model_path()
        if not path.exists():
            raise ModelError(f"No ONNX model at {path}. {REGENERATE_HINT}")
        verify_export(path)
        self._init_tokenizer(root)

        so = ort.SessionOptions()
        # A question is a few dozen tokens: more threads only contend on a small, busy machine.
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        log.debug("loaded ONNX MiniLM from %s in %.3fs", path, time.perf_counter() - t0)

    def _run(self, seqs: list[list[int]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Pad the batch, run the encoder, mean-pool over the mask and L2-normalise (as sentence-transformers)."""
        n = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), n), dtype=np.int64)
        mask = np.zeros((len(seqs), n), dtype=np.int64)
        for j, s in enumerate(seqs):
            ids[j, :len(s)] = s
            mask[j, :len(s)] = 1
        (h,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        m = mask[:, :, None].astype(np.float32)
        pooled = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False), [h[j, : len(seq)] for j, seq in enumerate(seqs)]


def main(argv: Sequence[str] | None = None) -> int:
    """Export to the cache unless a verified export is already there (`--force` re-exports)."""
    import argparse

    from .embed import model_dir

    parser = argparse.ArgumentParser(prog="python -m qa.onnx_runtime", description=main.__doc__)
    parser.add_argument("--force", action="store_true", help="export even if a verified export exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = cached_model_path()
    try:
        if not args.force and path.exists():
            try:
                verify_export(path)
                print(f"ONNX model at {path} is up to date")
                return 0
            except ModelError as exc:
                print(f"re-exporting: {exc}")
        export(model_dir(), path)
    except ModelError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    print(f"ONNX model written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
