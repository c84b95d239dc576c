"""PyTorch fp16 baseline for the GPU benchmark: the same BERT (bge-small-en-v1.5) with the same
weights, read from the fp16 weights file the GPU staging ships (Shoal's HalfWeights: a magic line,
a JSON header line, then each tensor as little-endian fp16), or from the ONNX file (initializers
named after the node that consumes them, as Shoal's BertWeights does); attention through
scaled_dot_product_attention. Prints and writes TSV rows: backend, seq, batch, passages/s,
TFLOP/s (same FLOP count as CudaBenchmark).

usage: python3 bench_torch.py MODEL.f16|MODEL.onnx OUT.tsv [seconds]
"""
import json
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_half(path):
    with open(path, "rb") as f:
        if f.readline().decode().strip() != "shoal-bert-f16 1":
            raise SystemExit(path + " is not a Shoal fp16 weights file")
        header = json.loads(f.readline())
        w = {}
        for name, dims in header["tensors"]:
            n = int(np.prod(dims))
            a = np.frombuffer(f.read(2 * n), dtype="<f2").reshape(dims)
            w[name] = torch.tensor(a.astype(np.float16)).cuda()
    return w, header["heads"]


def load(path):
    if path.endswith(".f16"):
        return load_half(path)
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    consumers = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    named = {}
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        if t.name.startswith(("embeddings.", "encoder.")):
            named[t.name] = a
            continue
        for n in consumers.get(t.name, []):
            g = re.match(r"^/(encoder/layer\.\d+/.+)/MatMul$", n.name)
            if n.op_type == "MatMul" and g:
                named[g.group(1).replace("/", ".") + ".weight"] = a
    # the ONNX file does not say the head count; every model benchmarked here has heads of 32
    w = {k: torch.tensor(v).cuda().half() for k, v in named.items() if v.dtype.kind == "f"}
    return w, w["embeddings.word_embeddings.weight"].shape[1] // 32


def forward(w, ids, layers, heads, eps=1e-12):
    b, s = ids.shape
    h = w["embeddings.word_embeddings.weight"].shape[1]
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:s]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = F.layer_norm(x, (h,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    d = h // heads
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q = (x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"]).view(b, s, heads, d).transpose(1, 2)
        k = (x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"]).view(b, s, heads, d).transpose(1, 2)
        v = (x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"]).view(b, s, heads, d).transpose(1, 2)
        ctx = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, s, h)
        a = ctx @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"] + x
        a = F.layer_norm(a, (h,), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        inter = F.gelu(a @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
        x = inter @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"] + a
        x = F.layer_norm(x, (h,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return F.normalize(x[:, 0].float(), dim=-1)


def main():
    path, out = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    w, heads = load(path)
    layers = len({k.split(".")[2] for k in w if k.startswith("encoder.layer.")})
    h = w["embeddings.word_embeddings.weight"].shape[1]
    inter = w["encoder.layer.0.intermediate.dense.weight"].shape[1]
    rows = ["backend\tseq\tbatch\tpassages_per_s\ttflops"]
    print("GPU:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    with torch.inference_mode():
        for s in (128, 256, 512):
            for bsz in (1, 8, 32, 64, 128, 256):
                ids = torch.randint(1000, 30000, (bsz, s), device="cuda")
                forward(w, ids, layers, heads)
                torch.cuda.synchronize()
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < seconds:
                    forward(w, ids, layers, heads)
                    n += 1
                torch.cuda.synchronize()
                pps = n * bsz / (time.perf_counter() - t0)
                flops = layers * (2.0 * s * (4 * h * h + 2 * h * inter) + 4.0 * s * s * h)
                rows.append(f"pytorch-eager-fp16\t{s}\t{bsz}\t{pps:.1f}\t{pps * flops / 1e12:.2f}")
                print(rows[-1], flush=True)
    open(out, "w").write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
