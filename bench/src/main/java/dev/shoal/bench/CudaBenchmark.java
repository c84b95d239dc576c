package dev.shoal.bench;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.cuda.CudaEncoder;
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
 * beside {@code bench_torch.py}): passages/s and achieved TFLOP/s of the CUDA backend at
 * sequence 128/256/512 and batch 1..256 on synthetic full-length sequences, and ONNX Runtime on
 * the machine's CPUs for the smaller cells. Writes TSV rows to the file named by the first
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
    try (CudaEncoder cuda = new CudaEncoder(spec, 256)) {
      System.out.println("GPU: " + cuda.deviceName());
      for (int seq : seqs) {
        for (int batch : batches) {
          int[][] ids = synthetic(batch, seq, w);
          cuda.embedIds(ids); // warm-up, allocates this shape's buffers
          double pps = rate(() -> cuda.embedIds(ids), batch, seconds);
          rows.add(row("shoal-cuda", seq, batch, pps, flopsPerPassage(w, seq)));
          System.out.println(rows.getLast());
        }
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
