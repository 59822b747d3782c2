"""Measure the activation ranges the int8 encoder is quantised with (qa/int8_ranges.npz), and how close it stays.

    .venv/bin/python bench/train_int8.py [--check] [--alpha A]

Calibration text: the pages of tests/corpora/headlines/txt, cleaned and cut into passages as `qa build` does (the
same text the token codebook is fitted on; no question set asks about it). Every passage goes through the fp32
export, and each quantised MatMul's input gets its per-dimension max |x| over the real tokens. qa/quantize.py turns
those into SmoothQuant scales (exponent `alpha`, 0.7: in a first trial 0.5 left a little more error).
The file records the sha256 of the calibration passages; the int8 model's sidecar records the file's own sha256.

The fidelity is printed on the seeds' passages and the development pages of tests/corpora (held out from the
calibration): cosine of each passage vector and token vector to the fp32 export's, and the encoding speed of both.
`--check` measures again and compares with the shipped file instead of writing it.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import config, embed  # noqa: E402
from qa.onnx_runtime import Runtime, ensure_export  # noqa: E402
from qa.quantize import RANGES_FILE, activation_ranges, load_ranges, quantize, save_ranges  # noqa: E402
from train_token_codec import TRAIN_DIR, passages  # noqa: E402  (the same text, cut the same way)

HELD_OUT = [ROOT / "seeds", ROOT / "tests" / "corpora" / "aeb-dev" / "txt"]
ALPHA = 0.7


def batches(rt: Runtime, texts: list[str]):
    seqs = [e.ids for e in rt.tokenize(texts)]
    for idx in embed._by_length([len(s) for s in seqs], config.EMBED_BATCH_TOKENS):
        n = max(len(seqs[i]) for i in idx)
        ids = np.zeros((len(idx), n), np.int64)
        mask = np.zeros_like(ids)
        for j, i in enumerate(idx):
            ids[j, : len(seqs[i])] = seqs[i]
            mask[j, : len(seqs[i])] = 1
        yield ids, mask


def session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = embed.build_threads()
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def fidelity(rt: Runtime, fp32, int8, texts: list[str]) -> str:
    tok_cos, vec_cos, secs = [], [], {"fp32": 0.0, "int8": 0.0}
    for ids, mask in batches(rt, texts):
        out = {}
        for name, s in (("fp32", fp32), ("int8", int8)):
            t0 = time.perf_counter()
            (out[name],) = s.run(None, {"input_ids": ids, "attention_mask": mask})
            secs[name] += time.perf_counter() - t0
        a, b = out["fp32"], out["int8"]
        real = mask > 0
        tok_cos.append(np.sum(embed._unit(a[real]) * embed._unit(b[real]), axis=1))
        vec_cos.append(np.sum(embed._mean_pool(a, mask) * embed._mean_pool(b, mask), axis=1))
    t, v = np.concatenate(tok_cos), np.concatenate(vec_cos)
    return (f"{len(v)} passages, {len(t)} tokens: passage vector cosine mean {v.mean():.5f}, min {v.min():.4f}; "
            f"token cosine mean {t.mean():.5f}, 5th percentile {np.percentile(t, 5):.5f}, min {t.min():.4f}; "
            f"encoding {secs['fp32']:.1f} s fp32, {secs['int8']:.1f} s int8 "
            f"({secs['fp32'] / max(secs['int8'], 1e-9):.2f}x, {embed.build_threads()} threads)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="measure again and compare with the shipped file; write nothing")
    ap.add_argument("--alpha", type=float, default=ALPHA, help=f"SmoothQuant exponent (default {ALPHA})")
    args = ap.parse_args()
    fp32_path = ensure_export("fp32")
    fp32 = Runtime(embed.build_threads(), fp32_path)
    texts = passages(TRAIN_DIR)
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    inputs, amax = activation_ranges(fp32_path, batches(fp32, texts))
    print(f"measured on {len(texts)} passages of {TRAIN_DIR.relative_to(ROOT)} (sha256 {digest[:12]}): "
          f"{len(inputs)} MatMul inputs")
    with tempfile.TemporaryDirectory() as tmp:
        ranges = Path(tmp) / "ranges.npz" if args.check else RANGES_FILE
        save_ranges(ranges, inputs, amax, args.alpha, digest)
        if args.check:
            shipped = load_ranges()
            same = shipped["inputs"] == inputs and all(np.allclose(a, b) for a, b in zip(shipped["amax"], amax))
            print(f"shipped {RANGES_FILE.name}: {'same ranges' if same else 'DIFFERENT ranges'}, "
                  f"calibration sha256 {'same' if shipped['calibration_sha256'] == digest else 'different'}")
        out = Path(tmp) / "int8.onnx"
        quantize(fp32_path, out, ranges)
        for folder in HELD_OUT:
            print(f"{folder.relative_to(ROOT)}: {fidelity(fp32, session(fp32_path), session(out), passages(folder))}")
    if not args.check:
        print(f"wrote {RANGES_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
