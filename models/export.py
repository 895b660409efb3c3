#!/usr/bin/env python3
# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "torch==2.15.0",
#     "transformers==5.23.0",
#     "onnx==1.23.2",
#     "onnxruntime==1.32.0",
#     "numpy==2.4.6",
# ]
# ///
"""Export a wav2vec2-family checkpoint to ONNX for wordspot.

The exported model takes the waveform `input_values` [1, samples] (16 kHz, f32,
already normalized when the sidecar says `normalize_waveform`) and returns:

* `hidden_state` [1, frames, dim]: the hidden state of transformer layer L
  (`--layer L`), with the layers above L removed from the graph; or
* `hidden_states` [layers + 1, frames, dim]: every layer's output, index 0 being
  the transformer input (`--all-layers`).

"Layer L" is what Hugging Face returns as `hidden_states[L]` with
`output_hidden_states=True` on the full model. Beside `OUT.onnx` the script
writes `OUT.json` (the sidecar wordspot reads), and with `--int8` also
`OUT.int8.onnx` + `OUT.int8.json` (dynamic int8 quantization, see README.md).

Examples:
    python models/export.py --checkpoint ckpt/wav2vec2-base --layer 6 --int8 --out models/w2v-base-L6.onnx
    python models/export.py --checkpoint ckpt/wav2vec2-base --all-layers --out models/w2v-base-all.onnx
    python models/export.py --tiny --layer 2 --int8 --out /tmp/tiny-L2.onnx
    python models/export.py --random-config base --layer 6 --int8 --out target/models/base-L6.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

SIDECAR_FORMAT = "wordspot-wav2vec2"
SIDECAR_VERSION = 1
OPSET = 17


def tiny_config(seed: int):
    """A tiny randomly initialised wav2vec2 (a few hundred KB) with the real conv geometry."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        # XLSR-53-like: per-frame LayerNorm in the conv encoder and pre-LN
        # transformer layers. (wav2vec2-base's GroupNorm normalizes each conv
        # channel over the whole input, which chunked streaming cannot reproduce.)
        feat_extract_norm="layer",
        conv_bias=True,
        do_stable_layer_norm=True,
        vocab_size=32,
        # Larger than the default 0.02 so attention and FFNs actually move the
        # hidden state (tests should exercise them, not just the residual path).
        initializer_range=0.2,
    )


def base_config():
    """wav2vec2-base geometry (768 dims, 7 conv layers, 12 heads, 12 layers), random weights."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config()  # the defaults are facebook/wav2vec2-base's


def large_config():
    """wav2vec2-large-xlsr-53 geometry (1024 dims, 24 layers, stable layer norm), random weights."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        conv_bias=True,
    )


def load_model(args):
    """Returns (model, source description, normalize_waveform)."""
    from transformers import AutoConfig, AutoModel

    if args.checkpoint:
        ckpt = Path(args.checkpoint)
        if not ckpt.is_dir():
            sys.exit(f"error: {ckpt}: not a checkpoint folder (expected config.json + weights)")
        config = AutoConfig.from_pretrained(ckpt)
        config._attn_implementation = "eager"
        model = AutoModel.from_pretrained(ckpt, config=config, attn_implementation="eager")
        # Wav2Vec2ForCTC / ForPreTraining checkpoints load their base model here too.
        normalize = True
        pp = ckpt / "preprocessor_config.json"
        if pp.is_file():
            normalize = bool(json.loads(pp.read_text()).get("do_normalize", True))
        source = os.path.abspath(ckpt)
        name = config._name_or_path or ckpt.name
        if name and name != str(ckpt):
            source = f"{source} ({name})"
    else:
        kind = "tiny" if args.tiny else args.random_config
        torch.manual_seed(args.seed)
        np.random.seed(args.seed)
        config = {"tiny": lambda: tiny_config(args.seed), "base": base_config, "large": large_config}[kind]()
        config._attn_implementation = "eager"
        from transformers import Wav2Vec2Model

        model = Wav2Vec2Model(config)
        normalize = True
        source = f"random:{kind}:seed={args.seed}"
    if args.normalize is not None:
        normalize = args.normalize == "yes"
    model.eval()
    return model, source, normalize


def encoder_of(model):
    enc = getattr(model, "encoder", None)
    if enc is None or not hasattr(enc, "layers"):
        sys.exit(f"error: {type(model).__name__} has no encoder.layers: not a wav2vec2-family model")
    return enc


class LayerOutput(torch.nn.Module):
    """The model cut after layer L (or returning every layer)."""

    def __init__(self, model, layer: int | None):
        super().__init__()
        self.model = model
        self.layer = layer

    def forward(self, input_values):
        out = self.model(input_values, output_hidden_states=True, return_dict=True)
        hs = out.hidden_states
        if self.layer is None:
            return torch.stack(hs, 0)[:, 0]  # [layers + 1, frames, dim]
        return hs[self.layer]  # [1, frames, dim]


def cut_model(model, layer: int):
    """Drops the transformer layers above `layer` so they are not in the graph."""
    enc = encoder_of(model)
    n = len(enc.layers)
    enc.layers = torch.nn.ModuleList(list(enc.layers)[:layer])
    # Pre-LN ("stable layer norm") encoders apply a final LayerNorm after the
    # last layer; HF's hidden_states[L] for L < n does not include it.
    if getattr(model.config, "do_stable_layer_norm", False) and layer < n:
        enc.layer_norm = torch.nn.Identity()
    model.config.num_hidden_layers = layer


def geometry(config):
    hop, rf = 1, 1
    for k, s in zip(config.conv_kernel, config.conv_stride):
        rf += (k - 1) * hop
        hop *= s
    return hop, rf


def frames_for(n_samples: int, config) -> int:
    n = n_samples
    for k, s in zip(config.conv_kernel, config.conv_stride):
        n = (n - k) // s + 1
    return n


def normalize_wave(x: np.ndarray) -> np.ndarray:
    """Hugging Face Wav2Vec2FeatureExtractor's zero-mean unit-variance normalization."""
    x = x.astype(np.float32)
    return ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)


def export_onnx(wrapper, path: Path, all_layers: bool, test_len: int):
    out_name = "hidden_states" if all_layers else "hidden_state"
    x = torch.randn(1, test_len)
    with torch.no_grad():
        kwargs = dict(
            input_names=["input_values"],
            output_names=[out_name],
            dynamic_axes={"input_values": {1: "samples"}, out_name: {1: "frames"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
        try:
            torch.onnx.export(wrapper, (x,), str(path), dynamo=False, **kwargs)
        except TypeError:  # older torch without the dynamo switch
            torch.onnx.export(wrapper, (x,), str(path), **kwargs)
    return out_name


def quantize_int8(src: Path, dst: Path, per_channel: bool):
    """Dynamic int8 quantization: MatMul → MatMulInteger, Conv → ConvInteger (see README.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Conv"],
        per_channel=per_channel,
        # The first conv sees the raw waveform (one channel, 10 taps): tiny cost,
        # and quantizing its input hurts most, so it stays in f32.
        nodes_to_exclude=first_conv_nodes(src),
        extra_options={"MatMulConstBOnly": True},
    )


def first_conv_nodes(path: Path):
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    convs = [n.name for n in m.graph.node if n.op_type == "Conv"]
    return convs[:1]


def ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input_values": x[None, :]})[0]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(-1, a.shape[-1]).astype(np.float64)
    b = b.reshape(-1, b.shape[-1]).astype(np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-30)


def write_sidecar(path: Path, meta: dict):
    path.write_text(json.dumps(meta, indent=2) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="local Hugging Face checkpoint folder (config.json + weights)")
    src.add_argument("--tiny", action="store_true", help="tiny randomly initialised model (tests)")
    src.add_argument("--random-config", choices=["tiny", "base", "large"], help="random weights, real geometry")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--layer", type=int, help="output the hidden state of transformer layer L (0 = input)")
    what.add_argument("--all-layers", action="store_true", help="output every layer: [layers+1, frames, dim]")
    p.add_argument("--out", required=True, help="output .onnx path (sidecar: same name with .json)")
    p.add_argument("--int8", action="store_true", help="also write OUT.int8.onnx (dynamic int8 quantization)")
    p.add_argument("--per-channel", action="store_true", help="per-channel weight scales for --int8")
    p.add_argument("--normalize", choices=["yes", "no"], help="override the checkpoint's do_normalize")
    p.add_argument("--seed", type=int, default=1234, help="seed for random weights")
    p.add_argument("--no-check", action="store_true", help="skip the PyTorch/onnxruntime comparison")
    args = p.parse_args(argv)
    if args.random_config == "tiny":
        args.tiny = True

    model, source, normalize = load_model(args)
    config = model.config
    n_layers = len(encoder_of(model).layers)
    dim = config.hidden_size
    if args.layer is not None and not 0 <= args.layer <= n_layers:
        sys.exit(f"error: --layer {args.layer} out of range: this model has layers 0..={n_layers}")
    hop, rf = geometry(config)

    # Reference for the check: the full model's hidden_states[L], before cutting.
    check_len = 16000 + 321
    rng = np.random.default_rng(args.seed)
    check_x = normalize_wave(rng.standard_normal(check_len).astype(np.float32) * 0.1)
    with torch.no_grad():
        full = model(torch.from_numpy(check_x)[None], output_hidden_states=True).hidden_states
        if args.all_layers:
            ref = torch.stack(full, 0)[:, 0].numpy()
        else:
            ref = full[args.layer].numpy()

    if args.layer is not None:
        cut_model(model, args.layer)
    wrapper = LayerOutput(model, None if args.all_layers else args.layer).eval()

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out_name = export_onnx(wrapper, out, args.all_layers, 16000)

    meta = {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "model_type": config.model_type,
        "source": source,
        "layer": None if args.all_layers else args.layer,
        "all_layers": bool(args.all_layers),
        "num_layers": n_layers,
        "dim": dim,
        "sample_rate": 16000,
        "hop": hop,
        "receptive_field": rf,
        "frame_rate": 16000 / hop,
        "normalize_waveform": normalize,
        "feat_extract_norm": getattr(config, "feat_extract_norm", None),
        "stable_layer_norm": bool(getattr(config, "do_stable_layer_norm", False)),
        "input_name": "input_values",
        "output_name": out_name,
        "quantization": "none",
        "opset": OPSET,
    }
    write_sidecar(out.with_suffix(".json"), meta)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) + {out.with_suffix('.json').name}")

    files = [(out, "none")]
    if args.int8:
        q = out.with_suffix(".int8.onnx")
        quantize_int8(out, q, args.per_channel)
        qmeta = dict(meta, quantization="dynamic-int8-per-channel" if args.per_channel else "dynamic-int8")
        write_sidecar(q.with_suffix(".json"), qmeta)
        print(f"wrote {q} ({q.stat().st_size / 1e6:.2f} MB) + {q.with_suffix('.json').name}")
        files.append((q, qmeta["quantization"]))

    if not args.no_check:
        t = frames_for(check_len, config)
        for f, quant in files:
            y = ort_run(f, check_x)
            if y.shape[-2] != t:
                sys.exit(f"error: {f}: {y.shape[-2]} frames for {check_len} samples, expected {t}")
            scale = float(np.abs(ref).max())
            err = float(np.abs(y - ref).max()) / scale
            cos = cosine_rows(y, ref)
            print(
                f"check {f.name} ({quant}): onnxruntime vs PyTorch full model: "
                f"max|diff|/max|ref| = {err:.2e}, per-frame cosine min {cos.min():.5f} mean {cos.mean():.5f}"
            )
            if quant == "none" and err > 1e-4:
                sys.exit(f"error: {f}: fp32 export differs from PyTorch ({err:.2e} relative)")


if __name__ == "__main__":
    main()
