"""Merges CudaBenchmark's and bench_torch.py's TSV rows into Markdown: one table of passages/s
and TFLOP/s per sequence length and batch (Shoal's tiled and simple kernel sets beside PyTorch
eager fp16), then the latency rows (one query; a cross-encoder over 100 pairs)."""
import sys

rows = {}
latency = []
for path in sys.argv[1:3]:
    for line in open(path).read().splitlines()[1:]:
        backend, seq, batch, value, tflops = line.split("\t")
        if backend.endswith("-ms"):
            latency.append((backend, int(seq), int(batch), float(value)))
        else:
            rows[(backend, int(seq), int(batch))] = (float(value), float(tflops))
gpu = open(sys.argv[3]).read().splitlines()[-1] if len(sys.argv) > 3 else "?"
print(f"# GPU encoder benchmark\n\nbge-small-en-v1.5, full-length synthetic sequences; GPU: {gpu}\n")
print("| seq | batch | Shoal tiled passages/s | TFLOP/s | Shoal simple passages/s | PyTorch eager fp16 passages/s "
      "| TFLOP/s | tiled / PyTorch | ONNX Runtime CPU passages/s |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for seq in (128, 256, 512):
    for batch in (1, 8, 32, 64, 128, 256):
        s = rows.get(("shoal-cuda-tiled", seq, batch))
        o = rows.get(("shoal-cuda-simple", seq, batch))
        t = rows.get(("pytorch-eager-fp16", seq, batch))
        c = rows.get(("onnxruntime-cpu", seq, batch))
        if not s and not t:
            continue
        ratio = f"{s[0] / t[0]:.2f}" if s and t else ""
        print(f"| {seq} | {batch} | {s[0] if s else ''} | {s[1] if s else ''} | {o[0] if o else ''} | "
              f"{t[0] if t else ''} | {t[1] if t else ''} | {ratio} | {c[0] if c else ''} |")
if latency:
    print("\n| measurement | tokens | batch | p50 ms |\n|---|---:|---:|---:|")
    for name, seq, batch, ms in latency:
        print(f"| {name} | {seq} | {batch} | {ms:.3f} |")
