package dev.shoal.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.shoal.encoder.BatchingEncoder;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.encoder.onnx.OrtRuntime;
import dev.shoal.eval.BeirDataset;
import dev.shoal.internal.v1.Candidate;
import dev.shoal.internal.v1.EmbedKind;
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.Vector;
import dev.shoal.ranker.RankerServer;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Embeddings/s through the Ranker service (gRPC Embed → dynamic batcher → ONNX Runtime) next to
 * ONNX Runtime alone on the same token ids, measured in the same run, and the latency of Score
 * with 100 stored vectors. Writes a Markdown file. Not thread-safe; one run at a time.
 */
public final class RankerBench {

  /**
   * @param seconds measuring time per cell
   * @param threads cores used by both paths
   * @param dataset texts come from this corpus
   */
  public record Options(String model, double seconds, int threads, Path dataset, Path output) {
  }

  private final String model;
  private final double seconds;
  private final int threads;
  private final Path dataset;
  private final Path output;

  public RankerBench(Options o) {
    this.model = o.model();
    this.seconds = o.seconds();
    this.threads = o.threads();
    this.dataset = o.dataset();
    this.output = o.output();
  }

  public void run() throws Exception {
    ModelSpec spec = ModelSpec.resolve(model, 384, ModelSpec.Pooling.CLS, "", "", 512);
    List<String> words = new ArrayList<>();
    new BeirDataset(dataset).docs().stream().limit(200)
        .forEach(d -> words.addAll(Arrays.asList(d.text().split("\\s+"))));
    StringBuilder md = new StringBuilder("# Ranker benchmark\n\nmodel " + spec.name() + ", " + threads
        + " threads, " + seconds + " s per cell, " + Runtime.getRuntime().availableProcessors() + " CPUs\n\n"
        + "| seq len | batch | ONNX Runtime alone (emb/s) | Shoal Embed over gRPC (emb/s) | overhead ratio |\n"
        + "|---:|---:|---:|---:|---:|\n");
    System.out.printf("%7s %6s %14s %14s %9s%n", "seq", "batch", "ORT emb/s", "service emb/s", "ratio");
    try (OnnxEncoder encoder = new OnnxEncoder(spec, threads, 32);
         BatchingEncoder batcher = new BatchingEncoder(encoder, 64, 0);
         RankerServer server = new RankerServer("127.0.0.1", 0, batcher)) {
      server.start();
      ManagedChannel ch = ManagedChannelBuilder.forTarget(server.address()).usePlaintext()
          .maxInboundMessageSize(64 << 20).build();
      var stub = RankerGrpc.newBlockingStub(ch);
      OrtEnvironment env = OrtRuntime.environment();
      OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
      opts.setIntraOpNumThreads(threads);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      try (OrtSession ort = env.createSession(ModelFiles.readAll(spec.onnx()), opts)) {
        for (int seq : new int[] {32, 256}) {
          List<String> texts = textsOfLength(encoder, words, seq, 64);
          for (int batch : new int[] {1, 8, 32}) {
            double direct = ortAlone(env, ort, encoder, texts, batch);
            double service = serviceEmbed(stub, texts, batch);
            double ratio = direct / service;
            System.out.printf(Locale.ROOT, "%7d %6d %14.1f %14.1f %9.2f%n", seq, batch, direct, service, ratio);
            md.append(String.format(Locale.ROOT, "| %d | %d | %.1f | %.1f | %.2f |%n", seq, batch, direct, service,
                ratio));
          }
        }
      }
      md.append("\nratio = ONNX Runtime alone / service; 1.0 means no overhead. ONNX Runtime alone runs one "
          + "session with " + threads + " intra-op threads on pre-tokenised ids; the service path tokenises, "
          + "batches, runs " + threads + " single-threaded ONNX Runtime calls, pools and serialises.\n\n");
      md.append(scoreLatency(stub, encoder, words));
      ch.shutdownNow();
    }
    Files.writeString(output, md.toString());
    System.out.println("results written to " + output);
  }

  /** Texts whose token count (with [CLS] and [SEP]) is exactly {@code seq}. */
  private static List<String> textsOfLength(OnnxEncoder e, List<String> words, int seq, int n) {
    List<String> out = new ArrayList<>();
    int w = 0;
    while (out.size() < n) {
      StringBuilder sb = new StringBuilder();
      while (e.tokenize(sb.toString(), Encoder.Kind.PASSAGE).length < seq) {
        sb.append(words.get(w++ % words.size())).append(' ');
      }
      // long words can overshoot: trim characters until the count fits, then pad with "a"
      String t = sb.toString();
      while (e.tokenize(t, Encoder.Kind.PASSAGE).length > seq) {
        t = t.substring(0, t.lastIndexOf(' ', t.length() - 2) + 1);
      }
      while (e.tokenize(t, Encoder.Kind.PASSAGE).length < seq) {
        t = t + "a ";
      }
      out.add(t);
    }
    return out;
  }

  private double ortAlone(OrtEnvironment env, OrtSession ort, OnnxEncoder e, List<String> texts, int batch)
      throws Exception {
    int seq = e.tokenize(texts.getFirst(), Encoder.Kind.PASSAGE).length;
    long[] ids = new long[batch * seq];
    for (int i = 0; i < batch; i++) {
      int[] t = e.tokenize(texts.get(i % texts.size()), Encoder.Kind.PASSAGE);
      for (int j = 0; j < seq; j++) {
        ids[i * seq + j] = t[j];
      }
    }
    long[] mask = new long[batch * seq];
    Arrays.fill(mask, 1);
    long[] shape = {batch, seq};
    return perSecond(batch, () -> {
      try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
           OnnxTensor b = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
           OnnxTensor c = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[batch * seq]), shape);
           OrtSession.Result r = ort.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
        r.get(0);
      }
    });
  }

  private double serviceEmbed(RankerGrpc.RankerBlockingStub stub, List<String> texts, int batch) throws Exception {
    int[] at = {0};
    return perSecond(batch, () -> {
      EmbedRequest.Builder req = EmbedRequest.newBuilder().setKind(EmbedKind.PASSAGE);
      for (int i = 0; i < batch; i++) {
        req.addTexts(texts.get(at[0]++ % texts.size()));
      }
      stub.embed(req.build());
    });
  }

  /** One call of the measured path, for {@link #perSecond}. */
  private interface Step {
    void run() throws Exception;
  }

  /** Items per second of {@code step} (each handles {@code items}): 1 s warm-up, then {@link #seconds}. */
  private double perSecond(int items, Step step) throws Exception {
    long warmUntil = System.nanoTime() + 1_000_000_000L;
    while (System.nanoTime() < warmUntil) {
      step.run();
    }
    long done = 0;
    long from = System.nanoTime();
    while (true) {
      step.run();
      done += items;
      long now = System.nanoTime();
      if (now - from >= seconds * 1e9) {
        return done / ((now - from) / 1e9);
      }
    }
  }

  /** Score with 100 stored vectors after the query was embedded (as the query service calls it). */
  private String scoreLatency(RankerGrpc.RankerBlockingStub stub, OnnxEncoder e, List<String> words) {
    List<String> docs = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      docs.add(String.join(" ", words.subList(i * 20, i * 20 + 20)));
    }
    float[][] vectors = e.embed(docs, Encoder.Kind.PASSAGE);
    ScoreRequest.Builder base = ScoreRequest.newBuilder();
    for (int i = 0; i < vectors.length; i++) {
      Vector.Builder v = Vector.newBuilder();
      for (float x : vectors[i]) {
        v.addValues(x);
      }
      base.addCandidates(Candidate.newBuilder().setId("d" + i).setVector(v));
    }
    int n = 300;
    long[] lat = new long[n];
    for (int i = -30; i < n; i++) {
      String q = words.get((i + 30) * 7 % words.size()) + " " + words.get((i + 31) * 11 % words.size()) + " q" + i;
      stub.embed(EmbedRequest.newBuilder().addTexts(q).setKind(EmbedKind.QUERY).build());
      long t0 = System.nanoTime();
      stub.score(base.setQuery(q).build());
      if (i >= 0) {
        lat[i] = System.nanoTime() - t0;
      }
    }
    Arrays.sort(lat);
    double p50 = lat[n / 2] / 1e6;
    double p99 = lat[(int) (n * 0.99)] / 1e6;
    System.out.printf(Locale.ROOT, "Score, 100 stored vectors, query embedded just before: p50 %.2f ms, p99 %.2f ms%n",
        p50, p99);
    return String.format(Locale.ROOT, "Score with 100 stored vectors (%d calls; the query was embedded by Embed "
        + "just before, as the query service does, so it comes from the cache): p50 %.2f ms, p99 %.2f ms%n", n, p50,
        p99);
  }
}
