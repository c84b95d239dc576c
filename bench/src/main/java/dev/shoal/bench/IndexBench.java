package dev.shoal.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.shoal.api.document.DocumentText;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.encoder.onnx.OrtRuntime;
import dev.shoal.eval.BeirDataset;
import dev.shoal.indexnode.IndexNode;
import dev.shoal.indexnode.IndexNodeConfig;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.manager.ShardManager;
import dev.shoal.manager.ShardManagerConfig;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.LocalCluster;
import java.io.IOException;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Indexing throughput: documents/s without embeddings (a new index node replaying
 * {@code shoal.docs.enriched} of an existing demo), next to the baseline measured in the same
 * run, the shard store fed directly from memory (Lucene + RocksDB, no Kafka); and with embeddings
 * ({@code shoal.docs} → enricher → index node, a fresh cluster), next to ONNX Runtime alone
 * embedding the same passages the way the enricher batches them. The replay and its baseline
 * run after one warm-up pass of the shard store over the same records, so both are timed on
 * compiled code; the enricher is timed from the first record produced to its last transaction
 * committed, and again to searchable. Writes a Markdown table.
 */
public final class IndexBench {

  /**
   * @param dataDir   a demo data directory whose enriched topic is replayed
   * @param dataset   the BEIR folder the with-embeddings run takes its first documents from
   * @param embedDocs documents for the with-embeddings run
   */
  public record Options(Path dataDir, Path dataset, int embedDocs, Path output) {
  }

  private static final long TIMEOUT_MINUTES = 30;
  /** The enricher's records per transaction and the cluster's encoder sub-batch and workers (LocalCluster). */
  private static final int ENRICHER_BATCH = 64;
  private static final int SUB_BATCH = 16;
  private static final int THREADS = 2;
  private static final int SHARDS = 4;

  private IndexBench() {
  }

  public static String run(Options o) throws Exception {
    Path tmp = Files.createTempDirectory("shoal-bench-index");
    StringBuilder md = new StringBuilder("# Indexing benchmark\n\n| path | documents | seconds | docs/s |\n"
        + "|---|---:|---:|---:|\n");
    List<EnrichedDocument> records = new ArrayList<>();
    double replayRate;
    try (EmbeddedKafka kafka = new EmbeddedKafka(o.dataDir().resolve("kafka")).start()) {
      String bootstrap = kafka.bootstrap();
      for (int shard = 0; shard < SHARDS; shard++) {
        records.addAll(readPartition(bootstrap, shard)); // the in-memory baseline replays the same records
      }
      // the replay and the baseline below both run on a JIT that has indexed these records once
      // (Lucene's vector and postings code is slow until C2 compiles it); "start to caught up"
      // still shows what a new node pays in all
      storeAlone(records, tmp.resolve("warm-up"));
      long t0 = System.nanoTime();
      long[] opened = {0};
      long replayed;
      // a fresh assignment epoch for a node the demo never saw; the old epochs name node-1
      try (ShardManager manager = new ShardManager(ShardManagerConfig.defaults(bootstrap, "bench", SHARDS).withReplicas(1)
          .withFailureTimeoutMillis(60_000));
           IndexNode node = new IndexNode(IndexNodeConfig.defaults("bench-" + System.nanoTime(), tmp.resolve("replay"),
               bootstrap))) {
        manager.start();
        node.start();
        await(() -> {
          if (opened[0] == 0 && node.shards().size() == SHARDS) {
            opened[0] = System.nanoTime(); // assigned, shards open, replay starts
          }
          return caughtUp(node);
        }, "the replaying node to catch up");
        long done = System.nanoTime();
        replayed = node.shards().values().stream().mapToLong(ShardStore::docCount).sum();
        row(md, "new index node replaying shoal.docs.enriched (no embedding), 4 shards: start to caught up", replayed,
            (done - t0) / 1e9);
        replayRate = row(md, "the same, shards opened to caught up (the replay itself)", replayed,
            (done - opened[0]) / 1e9);
      }
    }
    double aloneRate = row(md, "shard store alone (Lucene + RocksDB from memory, one shard)", records.size(),
        storeAlone(records, tmp.resolve("alone")));
    List<BeirDataset.Doc> docs = new BeirDataset(o.dataset()).docs().subList(0, o.embedDocs());
    double enrichRate;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(tmp.resolve("fresh"), null, SHARDS,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2)).start()) {
      long t0 = System.nanoTime();
      try (DocumentProducer p = new DocumentProducer(cluster.bootstrap())) {
        docs.forEach(d -> p.send(d.document()));
        p.flush();
      }
      long[] committed = {0};
      await(() -> {
        if (committed[0] == 0 && cluster.enricher().enrichedCount() >= docs.size()) {
          committed[0] = System.nanoTime(); // the enricher's last transaction committed
        }
        return cluster.searchableDocs() == docs.size() && cluster.caughtUp();
      }, "the enriched documents");
      long searchable = System.nanoTime();
      row(md, "shoal.docs → enricher (bge-small-en-v1.5, 256 tokens) → index node, 4 shards: produced to searchable",
          docs.size(), (searchable - t0) / 1e9);
      enrichRate = row(md, "the same, produced to the enricher's last transaction committed (the enricher itself)",
          docs.size(), (committed[0] - t0) / 1e9);
    }
    double ortRate = row(md, "ONNX Runtime alone on the same passages, batches of " + ENRICHER_BATCH + " (the enricher's) in sub-batches "
        + "of " + SUB_BATCH + " by length, " + THREADS + " threads", docs.size(), ortAlone(docs));
    md.append(String.format(Locale.ROOT, "%nreplay / shard store alone: %.2f; enricher / ONNX Runtime alone: "
        + "%.2f%n", replayRate / aloneRate, enrichRate / ortRate));
    md.append("\nMeasured on ").append(Runtime.getRuntime().availableProcessors()).append(" CPUs; SciFact.\n");
    Files.writeString(o.output(), md.toString());
    return md.toString();
  }

  /** Seconds one shard store takes to apply the records from memory (batches of 500), refresh and commit. */
  private static double storeAlone(List<EnrichedDocument> records, Path dir) throws IOException {
    try (ShardStore store = new ShardStore(0, dir)) {
      long t0 = System.nanoTime();
      List<ShardStore.Record> batch = new ArrayList<>();
      long offset = 0;
      for (EnrichedDocument e : records) {
        batch.add(ShardStore.Record.of(offset++, e));
        if (batch.size() == 500) {
          store.apply(batch, offset);
          batch.clear();
        }
      }
      store.apply(batch, offset);
      store.refresh();
      store.commit();
      return (System.nanoTime() - t0) / 1e9;
    }
  }

  /**
   * Seconds ONNX Runtime alone takes to embed the documents' passages as the enricher's encoder
   * does (tokenised beforehand, so only the model is timed): the enricher's poll batches, each
   * sorted by length and cut into sub-batches padded to their longest, on one session with as
   * many intra-op threads as the cluster's encoder has workers.
   */
  private static double ortAlone(List<BeirDataset.Doc> docs) throws Exception {
    ModelSpec spec = ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256);
    List<int[]> ids = new ArrayList<>();
    try (OnnxEncoder tokenizer = new OnnxEncoder(spec, 1, 1)) {
      for (BeirDataset.Doc d : docs) {
        ids.add(tokenizer.tokenize(DocumentText.passage(d.document()), Encoder.Kind.PASSAGE));
      }
    }
    OrtEnvironment env = OrtRuntime.environment();
    OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
    opts.setIntraOpNumThreads(THREADS);
    opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    try (OrtSession ort = env.createSession(ModelFiles.readAll(spec.onnx()), opts)) {
      long t0 = System.nanoTime();
      for (int from = 0; from < ids.size(); from += ENRICHER_BATCH) {
        List<int[]> batch = new ArrayList<>(ids.subList(from, Math.min(ids.size(), from + ENRICHER_BATCH)));
        batch.sort(Comparator.comparingInt(a -> a.length));
        for (int s = 0; s < batch.size(); s += SUB_BATCH) {
          run(env, ort, batch.subList(s, Math.min(batch.size(), s + SUB_BATCH)));
        }
      }
      return (System.nanoTime() - t0) / 1e9;
    }
  }

  private static void run(OrtEnvironment env, OrtSession ort, List<int[]> rows) throws Exception {
    int t = rows.stream().mapToInt(r -> r.length).max().orElseThrow();
    long[] ids = new long[rows.size() * t];
    long[] mask = new long[rows.size() * t];
    for (int i = 0; i < rows.size(); i++) {
      int[] r = rows.get(i);
      for (int j = 0; j < r.length; j++) {
        ids[i * t + j] = r[j];
        mask[i * t + j] = 1;
      }
    }
    long[] shape = {rows.size(), t};
    try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
         OnnxTensor b = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
         OnnxTensor c = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape);
         OrtSession.Result r = ort.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
      r.get(0);
    }
  }

  private static boolean caughtUp(IndexNode node) {
    if (node.shards().size() != SHARDS) {
      return false;
    }
    long n = 0;
    for (ShardStore s : node.shards().values()) {
      if (node.lag(s.shard()) != 0 || s.visibleOffset() != s.appliedOffset()) {
        return false;
      }
      n += s.docCount();
    }
    return n > 0;
  }

  /** Every record of one partition of the enriched topic, in offset order. */
  static List<EnrichedDocument> readPartition(String bootstrap, int shard) throws IOException {
    List<EnrichedDocument> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaSettings.consumer(bootstrap, null))) {
      TopicPartition tp = new TopicPartition(Topics.ENRICHED, shard);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      long end = c.endOffsets(List.of(tp)).get(tp);
      while (c.position(tp) < end) {
        for (var r : c.poll(Duration.ofMillis(500))) {
          out.add(EnrichedDocument.parseFrom(r.value()));
        }
      }
    }
    return out;
  }

  private static void await(BooleanSupplier done, String what) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(TIMEOUT_MINUTES);
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > until) {
        throw new IllegalStateException("gave up waiting for " + what + " after " + TIMEOUT_MINUTES + " min");
      }
      Thread.sleep(50);
    }
  }

  /** Appends a row and returns its documents/s. */
  private static double row(StringBuilder md, String what, long n, double secs) {
    md.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.0f |%n", what, n, secs, n / secs));
    return n / secs;
  }
}
