#!/usr/bin/env bash
# Compiles the CUDA kernels with nvcc (a register spill or local-memory use is an error) into the fatbin that ships as a resource (SASS for sm_80
# and sm_90, PTX for compute_90, so newer GPUs JIT it), so that users need a driver but no CUDA
# toolkit. The committed fatbin carries the SHA-256 of the source it was built from.
#
#   build.sh check       (the Maven build runs this) without nvcc: nothing to do. With nvcc:
#                        compile (the kernels must build) and fail if the committed fatbin was
#                        built from another source.
#   build.sh regenerate  compile and replace the committed fatbin and its source hash.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$HERE/shoal_encoder.cu"
OUT="$HERE/../resources/cuda/shoal_encoder.fatbin"
STAMP="$OUT.source-sha256"
MODE="${1:-check}"
SHA="$(sha256sum "$SRC" | cut -d' ' -f1)"

if ! command -v nvcc >/dev/null 2>&1; then
  echo "cuda: nvcc not on PATH; using the committed fatbin (built from source $(cat "$STAMP" 2>/dev/null || echo '?'))"
  [ "$MODE" = "regenerate" ] && { echo "cuda: regenerate needs nvcc" >&2; exit 1; }
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
nvcc -O3 -std=c++17 -fatbin -Xptxas -warn-spills,-warn-lmem-usage,-Werror \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90 \
  -o "$TMP/shoal_encoder.fatbin" "$SRC"

case "$MODE" in
  regenerate)
    mkdir -p "$(dirname "$OUT")"
    cp "$TMP/shoal_encoder.fatbin" "$OUT"
    echo "$SHA" > "$STAMP"
    echo "cuda: wrote $(wc -c < "$OUT") bytes to $OUT (source $SHA)"
    ;;
  check)
    if [ ! -f "$OUT" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$SHA" ]; then
      echo "cuda: the committed fatbin is stale: $SRC changed since it was built." >&2
      echo "cuda: run ranker-gpu/encoder-cuda/src/main/cuda/build.sh regenerate and commit the result." >&2
      exit 1
    fi
    echo "cuda: kernels compile; committed fatbin is current (source $SHA)"
    ;;
  *) echo "usage: build.sh check|regenerate" >&2; exit 2 ;;
esac
