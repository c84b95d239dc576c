"""Merges CudaBenchmark's and bench_torch.py's TSV rows into one Markdown table per sequence length."""
import sys

rows = {}
for path in sys.argv[1:3]:
    for line in open(path).read().splitlines()[1:]:
        backend, seq, batch, pps, tflops = line.split("\t")
        rows[(backend, int(seq), int(batch))] = (float(pps), float(tflops))
gpu = open(sys.argv[3]).read().splitlines()[-1] if len(sys.argv) > 3 else "?"
print(f"# GPU encoder benchmark\n\nbge-small-en-v1.5, full-length synthetic sequences; GPU: {gpu}\n")
print("| seq | batch | Shoal CUDA passages/s | TFLOP/s | PyTorch eager fp16 passages/s | TFLOP/s | Shoal / PyTorch | ONNX Runtime CPU passages/s |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for seq in (128, 256, 512):
    for batch in (1, 8, 32, 64, 128, 256):
        s = rows.get(("shoal-cuda", seq, batch))
        t = rows.get(("pytorch-eager-fp16", seq, batch))
        c = rows.get(("onnxruntime-cpu", seq, batch))
        if not s and not t:
            continue
        ratio = f"{s[0] / t[0]:.2f}" if s and t else ""
        print(f"| {seq} | {batch} | {s[0] if s else ''} | {s[1] if s else ''} | {t[0] if t else ''} | "
              f"{t[1] if t else ''} | {ratio} | {c[0] if c else ''} |")
