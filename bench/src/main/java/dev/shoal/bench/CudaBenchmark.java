package dev.shoal.bench;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.cuda.CudaCrossEncoder;
import dev.shoal.encoder.cuda.CudaEncoder;
import dev.shoal.encoder.cuda.CudaKernelSet;
import dev.shoal.encoder.model.BertClassifierGraph;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.onnx.OnnxEncoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The GPU benchmark's Java side (run by {@code ranker-gpu/gpu/run-suite.sh} on the GPU machine,
 * beside {@code bench_torch.py}): passages/s and achieved TFLOP/s of the CUDA backend, tiled and
 * simple kernel sets, at sequence 128/256/512 and batch 1..256 on synthetic full-length
 * sequences; the p50 latency of one 24-token query and of a MiniLM-L6-shaped cross-encoder over
 * 100 pairs of 256 tokens; and ONNX Runtime on the machine's CPUs for the smaller cells when it
 * is on the class path (not in the staged GPU run). Writes TSV rows to the file named by the first
 * argument. FLOPs count the multiply-adds of the GEMMs and of attention (2 per multiply-add).
 */
public final class CudaBenchmark {

  private CudaBenchmark() {
  }

  public static void main(String[] args) throws IOException {
    Path out = Path.of(args.length > 0 ? args[0] : "cuda-bench.tsv");
    double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 2.0;
    ModelSpec onnxSpec = ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(512);
    // the GPU staging ships fp16 weights instead of the ONNX file (-Dshoal.gpu.weights=FILE.f16)
    String staged = System.getProperty("shoal.gpu.weights", "");
    ModelSpec spec = staged.isEmpty() ? onnxSpec : new ModelSpec(onnxSpec.name(), staged, onnxSpec.tokenizer(),
        onnxSpec.dimension(), onnxSpec.pooling(), onnxSpec.queryPrefix(), onnxSpec.passagePrefix(),
        onnxSpec.maxTokens());
    BertWeights w = BertWeights.load(spec.onnx());
    List<String> rows = new ArrayList<>();
    rows.add("backend\tseq\tbatch\tpassages_per_s\ttflops");
    int[] seqs = {128, 256, 512};
    int[] batches = {1, 8, 32, 64, 128, 256};
    for (CudaKernelSet set : CudaKernelSet.values()) {
      String name = "shoal-cuda-" + set.name().toLowerCase(Locale.ROOT);
      try (CudaEncoder cuda = new CudaEncoder(spec, 256, set)) {
        System.out.println("GPU: " + cuda.deviceName() + ", " + cuda.backend());
        for (int seq : seqs) {
          for (int batch : batches) {
            int[][] ids = synthetic(batch, seq, w);
            cuda.embedIds(ids); // warm-up
            double pps = rate(() -> cuda.embedIds(ids), batch, seconds);
            rows.add(row(name, seq, batch, pps, flopsPerPassage(w, seq)));
            System.out.println(rows.getLast());
          }
        }
        // a query: batch 1 of 24 tokens, the latency a search waits for (p50 of 500 calls)
        int[][] query = synthetic(1, 24, w);
        rows.add(String.format(Locale.ROOT, "%s-query-p50-ms	24	1	%.3f	0", name, p50Millis(() ->
            cuda.embedIds(query), 500)));
        System.out.println(rows.getLast());
      }
      // a cross-encoder of MiniLM-L6's shape (random weights: the cost is the shape's), 100 pairs
      // of 256 tokens, the head of one query (p50 of 50 calls)
      Path dir = Files.createTempDirectory("cross-encoder");
      Files.write(dir.resolve("model.onnx"), BertClassifierGraph.build(new BertClassifierGraph.Config(
          w.wordEmbeddings().length / w.hidden(), 384, 12, 6, 1536, 512, 1, 7)));
      try (var tok = ModelFiles.open(onnxSpec.tokenizer())) {
        Files.copy(tok, dir.resolve("tokenizer.json"));
      }
      try (CudaCrossEncoder ce = new CudaCrossEncoder(CrossEncoderSpec.fromDirectory(dir, 256), 128, set)) {
        WordPieceTokenizer.Pair[] pairs = new WordPieceTokenizer.Pair[100];
        int[][] ids = synthetic(100, 256, w);
        for (int i = 0; i < pairs.length; i++) {
          int[] types = new int[256];
          java.util.Arrays.fill(types, 24, 256, 1);
          pairs[i] = new WordPieceTokenizer.Pair(ids[i], types);
        }
        ce.scoreTokens(pairs);
        rows.add(String.format(Locale.ROOT, "%s-cross-encoder-100x256-p50-ms	256	100	%.3f	0", name,
            p50Millis(() -> ce.scoreTokens(pairs), 50)));
        System.out.println(rows.getLast());
      }
    }
    if (!onnxRuntimePresent() || !staged.isEmpty()) {
      // the staged GPU run carries neither ONNX Runtime nor the ONNX file; PyTorch is its baseline
      System.out.println("ONNX Runtime CPU column skipped: not staged for the GPU machine");
      Files.write(out, rows);
      return;
    }
    try (OnnxEncoder cpu = new OnnxEncoder(spec, Runtime.getRuntime().availableProcessors(), 64)) {
      for (int seq : seqs) {
        for (int batch : new int[] {1, 8, 32}) {
          List<String> texts = new ArrayList<>();
          for (int i = 0; i < batch; i++) {
            texts.add("word ".repeat(seq - 2)); // with [CLS] and [SEP]: seq tokens
          }
          cpu.embed(texts, Encoder.Kind.PASSAGE);
          double pps = rate(() -> cpu.embed(texts, Encoder.Kind.PASSAGE), batch, seconds);
          rows.add(row("onnxruntime-cpu", seq, batch, pps, flopsPerPassage(w, seq)));
          System.out.println(rows.getLast());
        }
      }
    }
    Files.write(out, rows);
  }

  private static boolean onnxRuntimePresent() {
    try {
      Class.forName("ai.onnxruntime.OrtEnvironment", false, CudaBenchmark.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException e) {
      return false;
    }
  }

  /** Multiply-adds ×2 per passage of {@code seq} tokens. */
  static double flopsPerPassage(BertWeights w, int seq) {
    double h = w.hidden();
    double gemm = 2.0 * seq * (4 * h * h + 2 * h * w.intermediate());
    double attention = 2.0 * 2 * seq * (double) seq * h;
    return w.layers().size() * (gemm + attention);
  }

  private static int[][] synthetic(int batch, int seq, BertWeights w) {
    Random r = new Random(seq * 1000L + batch);
    int vocab = w.wordEmbeddings().length / w.hidden();
    int[][] ids = new int[batch][seq];
    for (int[] s : ids) {
      for (int i = 0; i < seq; i++) {
        s[i] = 1000 + r.nextInt(vocab - 1000);
      }
      s[0] = 101;
      s[seq - 1] = 102;
    }
    return ids;
  }

  private static double p50Millis(Runnable call, int calls) {
    double[] ms = new double[calls];
    for (int i = 0; i < calls; i++) {
      long t0 = System.nanoTime();
      call.run();
      ms[i] = (System.nanoTime() - t0) / 1e6;
    }
    java.util.Arrays.sort(ms);
    return ms[calls / 2];
  }

  private static double rate(Runnable call, int batch, double seconds) {
    long start = System.nanoTime();
    long n = 0;
    while ((System.nanoTime() - start) / 1e9 < seconds) {
      call.run();
      n++;
    }
    return n * batch / ((System.nanoTime() - start) / 1e9);
  }

  private static String row(String backend, int seq, int batch, double pps, double flopsPerPassage) {
    return String.format(Locale.ROOT, "%s\t%d\t%d\t%.1f\t%.2f", backend, seq, batch, pps, pps * flopsPerPassage / 1e12);
  }
}
