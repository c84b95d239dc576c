package dev.shoal.bench;

import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.ModelSpec;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Indexing throughput: documents/s without embeddings (a new index node replaying
 * {@code shoal.docs.enriched} of an existing demo), next to the baseline measured in the same
 * run, the shard store fed directly from memory (Lucene + RocksDB, no Kafka); and with embeddings
 * ({@code shoal.docs} → enricher → index node, a fresh cluster). Writes a Markdown table.
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

  private IndexBench() {
  }

  public static String run(Options o) throws Exception {
    Path tmp = Files.createTempDirectory("shoal-bench-index");
    StringBuilder md = new StringBuilder("# Indexing benchmark\n\n| path | documents | seconds | docs/s |\n"
        + "|---|---:|---:|---:|\n");
    List<EnrichedDocument> records = new ArrayList<>();
    try (EmbeddedKafka kafka = new EmbeddedKafka(o.dataDir().resolve("kafka")).start()) {
      String bootstrap = kafka.bootstrap();
      long t0 = System.nanoTime();
      long replayed;
      // a fresh assignment epoch for a node the demo never saw; the old epochs name node-1
      try (ShardManager manager = new ShardManager(ShardManagerConfig.defaults(bootstrap, "bench", 4).withReplicas(1)
          .withFailureTimeoutMillis(60_000));
           IndexNode node = new IndexNode(IndexNodeConfig.defaults("bench-" + System.nanoTime(), tmp.resolve("replay"),
               bootstrap))) {
        manager.start();
        node.start();
        await(() -> caughtUp(node), "the replaying node to catch up");
        replayed = node.shards().values().stream().mapToLong(ShardStore::docCount).sum();
        for (int shard : node.shards().keySet()) {
          records.addAll(readPartition(bootstrap, shard)); // the in-memory baseline replays the same records
        }
      }
      row(md, "new index node replaying shoal.docs.enriched (no embedding), 4 shards", replayed,
          (System.nanoTime() - t0) / 1e9);
    }
    try (ShardStore store = new ShardStore(0, tmp.resolve("alone"))) {
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
      row(md, "shard store alone (Lucene + RocksDB from memory, one shard)", store.docCount(),
          (System.nanoTime() - t0) / 1e9);
    }
    List<BeirDataset.Doc> docs = new BeirDataset(o.dataset()).docs().subList(0, o.embedDocs());
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(tmp.resolve("fresh"), null, 4,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2)).start()) {
      long t0 = System.nanoTime();
      try (DocumentProducer p = new DocumentProducer(cluster.bootstrap())) {
        docs.forEach(d -> p.send(d.document()));
        p.flush();
      }
      await(() -> cluster.searchableDocs() == docs.size() && cluster.caughtUp(), "the enriched documents");
      row(md, "shoal.docs → enricher (bge-small-en-v1.5, 256 tokens) → index node, 4 shards", docs.size(),
          (System.nanoTime() - t0) / 1e9);
    }
    md.append("\nMeasured on ").append(Runtime.getRuntime().availableProcessors()).append(" CPUs; SciFact.\n");
    Files.writeString(o.output(), md.toString());
    return md.toString();
  }

  private static boolean caughtUp(IndexNode node) {
    if (node.shards().size() != 4) {
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

  private static List<EnrichedDocument> readPartition(String bootstrap, int shard) throws IOException {
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

  private static void row(StringBuilder md, String what, long n, double secs) {
    md.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.0f |%n", what, n, secs, n / secs));
  }
}
