#!/usr/bin/env bash
# The GPU suite and benchmark, on a GPU machine, from the repository root. Needs the parts from
# ranker-gpu/gpu/stage.sh in PARTS (default /tmp/shoal-parts), a CUDA driver, Python with
# NumPy and PyTorch. Writes into OUT (default ./gpu-out): gpu-tests.log, cuda-bench.tsv,
# torch-bench.tsv, gpu-bench.md.
#
# With the device tool (a warm machine; one part per call, each call carrying .gpu-stage/part-NN):
#   mkdir -p /tmp/shoal-parts && cp .gpu-stage/part-00 /tmp/shoal-parts/      (repeat per part)
#   ranker-gpu/gpu/run-suite.sh                                                (last call; OUT=$OUT)
set -uo pipefail
PARTS="${PARTS:-/tmp/shoal-parts}"
OUT="${OUT:-$PWD/gpu-out}"
DIR=/tmp/shoal-gpu
mkdir -p "$OUT"
if [ ! -x "$DIR/bundle/jre/bin/java" ]; then
  rm -rf "$DIR" && mkdir -p "$DIR"
  if command -v xz >/dev/null 2>&1; then unxz() { xz -dc; }; else
    unxz() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)'; }
  fi
  cat "$PARTS"/part-* | unxz | tar -x -C "$DIR" || { echo "incomplete parts in $PARTS" >&2; exit 1; }
fi
J="$DIR/bundle/jre/bin/java"
CP="$(ls "$DIR"/bundle/lib/*.jar | tr '\n' ':')$DIR/bundle/models"
M="$DIR/bundle/models"
FLAGS=(--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector --sun-misc-unsafe-memory-access=allow
  -Djava.io.tmpdir=/tmp -Dshoal.repo.root="$PWD" -Dshoal.gpu.reference="$M" -Xmx16g)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"

"$J" "${FLAGS[@]}" -jar "$DIR"/bundle/tools/junit-platform-console-standalone-*.jar execute \
  --class-path "$CP" --select-class dev.shoal.encoder.cuda.CudaEncoderGpuTest --include-tag gpu --details=tree \
  2>&1 | tee "$OUT/gpu-tests.log"
tests=${PIPESTATUS[0]}

"$J" "${FLAGS[@]}" -Dshoal.gpu.weights="$M/bge-small-en-v1.5.f16" -cp "$CP" dev.shoal.bench.CudaBenchmark \
  "$OUT/cuda-bench.tsv" 2 2>&1 | tail -40
python3 ranker-gpu/gpu/bench_torch.py "$M/bge-small-en-v1.5.f16" "$OUT/torch-bench.tsv" 2
python3 ranker-gpu/gpu/merge_bench.py "$OUT/cuda-bench.tsv" "$OUT/torch-bench.tsv" "$OUT/gpu.txt" > "$OUT/gpu-bench.md"
cat "$OUT/gpu-bench.md"
exit "$tests"
