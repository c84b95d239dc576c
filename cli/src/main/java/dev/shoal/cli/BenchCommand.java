package dev.shoal.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.shoal.internal.v1.Candidate;
import dev.shoal.internal.v1.EmbedKind;
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.Vector;
import dev.shoal.eval.BeirDataset;
import dev.shoal.encoder.BatchingEncoder;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.onnx.OrtRuntime;
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
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code shoal bench}: benchmarks that compare Shoal's path with the bare library in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (not tests).",
    subcommands = {BenchCommand.Ranker.class, BenchCommand.Index.class, SearchBenchCommand.class,
        SearchBenchCommand.Client.class})
final class BenchCommand implements Runnable {

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /**
   * Indexing throughput: documents/s with embeddings (shoal.docs → enricher → index node, a
   * fresh cluster) and without (a new index node replaying shoal.docs.enriched of an existing
   * demo), next to the shard store fed directly from memory (Lucene + RocksDB, no Kafka).
   */
  @Command(name = "index", mixinStandardHelpOptions = true,
      description = "Indexing docs/s with and without embeddings, next to the shard store alone.")
  static final class Index implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = ".shoal-data/demo",
        description = "a demo data directory whose enriched topic is replayed (run bin/shoal demo once first)")
    Path dataDir;

    @Option(names = "--dataset", defaultValue = "testdata/scifact")
    Path dataset;

    @Option(names = "--embed-docs", defaultValue = "300", description = "documents for the with-embeddings run")
    int embedDocs;

    @Option(names = {"-o", "--output"}, defaultValue = "bench-index.md")
    Path output;

    @Override
    public Integer call() throws Exception {
      Path tmp = Files.createTempDirectory("shoal-bench-index");
      StringBuilder md = new StringBuilder("# Indexing benchmark\n\n| path | documents | seconds | docs/s |\n"
          + "|---|---:|---:|---:|\n");
      // 1. without embeddings: replay the demo's enriched topic into a new node
      List<dev.shoal.internal.v1.EnrichedDocument> records = new ArrayList<>();
      try (dev.shoal.testkit.EmbeddedKafka kafka = new dev.shoal.testkit.EmbeddedKafka(
          dataDir.resolve("kafka")).start()) {
        String bootstrap = kafka.bootstrap();
        long t0 = System.nanoTime();
        long replayed;
        try (dev.shoal.manager.ShardManager manager = new dev.shoal.manager.ShardManager(bootstrap, "bench", 4, 1,
            60_000);
             dev.shoal.indexnode.IndexNode node = new dev.shoal.indexnode.IndexNode(
                 dev.shoal.indexnode.IndexNodeConfig.defaults("bench-" + System.nanoTime(), tmp.resolve("replay"),
                     bootstrap))) {
          // a fresh assignment epoch for a node the demo never saw; the old epochs name node-1
          manager.start();
          node.start();
          while (true) {
            long n = 0;
            boolean done = node.shards().size() == 4;
            for (dev.shoal.indexnode.shard.ShardStore s : node.shards().values()) {
              n += s.docCount();
              done &= s.lag() == 0 && s.visibleOffset() == s.appliedOffset();
            }
            if (done && n > 0) {
              replayed = n;
              break;
            }
            Thread.sleep(50);
          }
          for (dev.shoal.indexnode.shard.ShardStore s : node.shards().values()) {
            // keep the documents for the in-memory baseline below
            try (var c = new org.apache.kafka.clients.consumer.KafkaConsumer<String, byte[]>(
                dev.shoal.cluster.KafkaSettings.consumer(bootstrap, null))) {
              var tp = new org.apache.kafka.common.TopicPartition(dev.shoal.cluster.Topics.ENRICHED, s.shard());
              c.assign(List.of(tp));
              c.seekToBeginning(List.of(tp));
              long end = c.endOffsets(List.of(tp)).get(tp);
              while (c.position(tp) < end) {
                for (var r : c.poll(java.time.Duration.ofMillis(500))) {
                  records.add(dev.shoal.internal.v1.EnrichedDocument.parseFrom(r.value()));
                }
              }
            }
          }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        row(md, "new index node replaying shoal.docs.enriched (no embedding), 4 shards", replayed, secs);
      }
      // 2. the shard store alone, fed from memory: Lucene + RocksDB, one shard, no Kafka
      try (dev.shoal.indexnode.shard.ShardStore store = new dev.shoal.indexnode.shard.ShardStore(0, tmp.resolve("alone"))) {
        long t0 = System.nanoTime();
        List<Map.Entry<Long, dev.shoal.internal.v1.EnrichedDocument>> batch = new ArrayList<>();
        long offset = 0;
        for (var e : records) {
          batch.add(Map.entry(offset++, e));
          if (batch.size() == 500) {
            store.apply(batch, offset);
            batch.clear();
          }
        }
        store.apply(batch, offset);
        store.refresh();
        store.commit();
        row(md, "shard store alone (Lucene + RocksDB from memory, one shard)", store.docCount(),
            (System.nanoTime() - t0) / 1e9);
      }
      // 3. with embeddings: a fresh cluster, documents through shoal.docs and the enricher
      BeirDataset data = new BeirDataset(dataset);
      List<BeirDataset.Doc> docs = data.docs().subList(0, embedDocs);
      try (dev.shoal.testkit.LocalCluster cluster = new dev.shoal.testkit.LocalCluster(
          new dev.shoal.testkit.LocalCluster.Options(tmp.resolve("fresh"), null, 4,
              ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2)).start()) {
        long t0 = System.nanoTime();
        try (dev.shoal.ingest.DocumentProducer p = new dev.shoal.ingest.DocumentProducer(
            cluster.bootstrap())) {
          docs.forEach(d -> p.send(d.document()));
          p.flush();
        }
        while (!(cluster.searchableDocs() == docs.size() && cluster.caughtUp())) {
          Thread.sleep(50);
        }
        row(md, "shoal.docs → enricher (bge-small-en-v1.5, 256 tokens) → index node, 4 shards", docs.size(),
            (System.nanoTime() - t0) / 1e9);
      }
      md.append("\nMeasured on ").append(Runtime.getRuntime().availableProcessors()).append(" CPUs; SciFact.\n");
      Files.writeString(output, md.toString());
      System.out.print(md);
      return 0;
    }

    private static void row(StringBuilder md, String what, long n, double secs) {
      md.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.0f |%n", what, n, secs, n / secs));
    }
  }

  /**
   * Embeddings/s through the Ranker service (gRPC Embed → dynamic batcher → ONNX Runtime) next
   * to ONNX Runtime alone on the same token ids, and the latency of Score with 100 stored vectors.
   */
  @Command(name = "ranker", mixinStandardHelpOptions = true,
      description = "Embeddings/s: service path vs ONNX Runtime alone; Score latency for 100 candidates.")
  static final class Ranker implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "bge-small-en-v1.5")
    String model;

    @Option(names = "--seconds", defaultValue = "6", description = "measuring time per cell (default: 6)")
    double seconds;

    @Option(names = "--threads", defaultValue = "2", description = "cores used by both paths (default: 2)")
    int threads;

    @Option(names = "--dataset", defaultValue = "testdata/scifact", description = "texts come from this corpus")
    Path dataset;

    @Option(names = {"-o", "--output"}, defaultValue = "bench-ranker.md", description = "results file")
    Path output;

    @Override
    public Integer call() throws Exception {
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
           BatchingEncoder batcher = new BatchingEncoder(encoder, 64, 2_000);
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
      return 0;
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
}
