package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.indexnode.IndexNode;
import dev.shoal.indexnode.IndexNodeConfig;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.internal.v1.VectorLeg;
import dev.shoal.testkit.LocalCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ingestion on real parts: 50 malformed records among 1,000 good ones (all good ones searchable,
 * every bad one in the dead-letter topic with its reason, nothing lost), and a second index node
 * that rebuilds every shard from offset 0 and must end up with the same documents and the same
 * top 10 for 20 queries as the live shards.
 */
class IngestionIT {

  @TempDir
  static Path dir;
  static LocalCluster cluster;
  static List<BeirDataset.Doc> good;
  static Map<String, String> badReasonByKey = new HashMap<>();
  static Map<String, String> badValueByKey = new HashMap<>();

  @BeforeAll
  static void start() throws Exception {
    String root = System.getProperty("shoal.repo.root", "..");
    BeirDataset scifact = new BeirDataset(Path.of(root, "testdata", "scifact"));
    good = scifact.docs().subList(0, 1_000);
    cluster = new LocalCluster(new LocalCluster.Options(dir, null, 4, ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(64),
        "127.0.0.1", 0, 0, 0, 2)).start();
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    ObjectMapper json = new ObjectMapper();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < good.size(); i++) {
        BeirDataset.Doc d = good.get(i);
        producer.send(new ProducerRecord<>(Topics.DOCS, d.id(), json.writeValueAsString(
            Map.of("id", d.id(), "title", d.title(), "text", d.text()))));
        if (i % 20 == 10) {
          int k = i / 20;
          bad(producer, k);
        }
      }
      producer.flush();
    }
    assertEquals(50, badValueByKey.size());
    long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (!(cluster.searchableDocs() == good.size() && cluster.caughtUp()
        && cluster.enricher().deadLetterCount() == 50)) {
      if (System.nanoTime() > until) {
        throw new AssertionError("searchable " + cluster.searchableDocs() + ", dead-lettered "
            + cluster.enricher().deadLetterCount());
      }
      Thread.sleep(200);
    }
  }

  /** The k-th malformed record: ten kinds, five of each. */
  private static void bad(KafkaProducer<String, String> producer, int k) {
    String key = "bad-" + k;
    String[] kinds = {
        "{not json",
        "{\"title\": \"no id here\"}",
        "{\"id\": {\"nested\": 1}}",
        "{\"id\": \"" + key + "\", \"title\": 5}",
        "{\"id\": \"" + key + "\", \"fields\": {\"x\": {\"y\": 1}}}",
        "{\"id\": \"" + key + "\", \"op\": \"merge\"}",
        "{\"id\": \"someone-else\", \"title\": \"key mismatch\"}",
        "{\"id\": \"" + key + "\", \"title\": \"" + "t".repeat(5_000) + "\"}",
        "[1, 2, 3]",
        "{\"id\": \"" + key + "\", \"fields\": {\"n\": [\"a\", 2]}}"};
    String[] reasons = {"not JSON", "missing 'id'", "'id' must be a string", "'title' must be a string",
        "field 'x' must be", "'op' must be", "differs from id", "the limit is 4096", "expected a JSON object",
        "strings only"};
    String value = kinds[k % kinds.length];
    badValueByKey.put(key, value);
    badReasonByKey.put(key, reasons[k % reasons.length]);
    producer.send(new ProducerRecord<>(Topics.DOCS, key, value));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void allGoodDocumentsAreSearchableAndEveryBadOneIsDeadLetteredWithItsReason() {
    ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", cluster.grpcPort()).usePlaintext().build();
    try {
      var stub = SearchServiceGrpc.newBlockingStub(ch);
      for (BeirDataset.Doc d : good) {
        assertEquals(d.title(), stub.withDeadlineAfter(5, TimeUnit.SECONDS)
            .get(GetRequest.newBuilder().setId(d.id()).build()).getDocument().getTitle());
      }
    } finally {
      ch.shutdownNow();
    }
    assertEquals(good.size(), cluster.searchableDocs());

    List<ConsumerRecord<String, byte[]>> dlq = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaSettings.consumer(cluster.bootstrap(),
        "ingestion-it-dlq"))) {
      consumer.subscribe(List.of(Topics.DLQ));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (dlq.size() < 50 && System.nanoTime() < until) {
        consumer.poll(Duration.ofMillis(500)).forEach(dlq::add);
      }
      // one more poll: anything beyond the 50 would be a duplicate
      consumer.poll(Duration.ofSeconds(1)).forEach(dlq::add);
    }
    assertEquals(50, dlq.size(), "each malformed record exactly once");
    Set<String> keys = new HashSet<>();
    for (ConsumerRecord<String, byte[]> r : dlq) {
      assertTrue(keys.add(r.key()), "no duplicates: " + r.key());
      assertEquals(badValueByKey.get(r.key()), new String(r.value(), StandardCharsets.UTF_8), "original bytes");
      String reason = new String(r.headers().lastHeader(Topics.H_REASON).value(), StandardCharsets.UTF_8);
      assertTrue(reason.contains(badReasonByKey.get(r.key())), r.key() + ": " + reason);
      assertTrue(r.headers().lastHeader(Topics.H_SOURCE_OFFSET) != null);
      assertTrue(r.headers().lastHeader(Topics.H_SOURCE_PARTITION) != null);
    }
    assertEquals(badValueByKey.keySet(), keys);
  }

  @Test
  void aShardRebuiltFromOffsetZeroEqualsTheLiveShard() throws Exception {
    IndexNode live = cluster.indexNode();
    try (IndexNode rebuilt = new IndexNode(IndexNodeConfig.defaults("rebuild", dir.resolve("rebuild"),
        cluster.bootstrap())).start()) {
      long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
      while (!caughtUp(rebuilt, live)) {
        if (System.nanoTime() > until) {
          throw new AssertionError("the rebuilt node did not catch up");
        }
        Thread.sleep(200);
      }
      List<String> queries = new BeirDataset(Path.of(System.getProperty("shoal.repo.root", ".."), "testdata",
          "scifact")).queries().stream().limit(20).map(BeirDataset.Query::text).toList();
      float[][] vectors = cluster.encoder().embed(queries, Encoder.Kind.QUERY);
      int compared = 0;
      for (int shard = 0; shard < 4; shard++) {
        ShardStore a = live.shards().get(shard);
        ShardStore b = rebuilt.shards().get(shard);
        assertEquals(0, b.recoveredOffset(), "rebuilt from offset 0");
        assertEquals(a.docCount(), b.docCount(), "shard " + shard);
        for (int q = 0; q < queries.size(); q++) {
          VectorLeg.Builder knn = VectorLeg.newBuilder();
          for (float x : vectors[q]) {
            knn.addVector(x);
          }
          ShardSearchRequest.Builder req = ShardSearchRequest.newBuilder().setShard(shard)
              .addLegs(Leg.newBuilder().setName("bm25").setK(10).setLexical(LexicalLeg.newBuilder()
                  .setText(queries.get(q))))
              .addLegs(Leg.newBuilder().setName("dense").setK(10).setVector(knn));
          List<ShardHit> ha = a.search(req.build()).getHitsList();
          List<ShardHit> hb = b.search(req.build()).getHitsList();
          assertEquals(ids(ha), ids(hb), "shard " + shard + " query " + q);
          for (int i = 0; i < ha.size(); i++) {
            assertEquals(ha.get(i).getSignalsOrDefault("bm25", 0), hb.get(i).getSignalsOrDefault("bm25", 0), 1e-5);
            assertEquals(ha.get(i).getSignalsOrDefault("dense", 0), hb.get(i).getSignalsOrDefault("dense", 0), 1e-5);
          }
          compared += ha.isEmpty() ? 0 : 1;
        }
      }
      assertTrue(compared >= 60, "most shard/query pairs have hits: " + compared);
    }
  }

  private static List<String> ids(List<ShardHit> hits) {
    // in the order the shard lists them (each leg's list in rank order) with the legs that found each
    return hits.stream().map(h -> h.getId() + "#" + new java.util.TreeSet<>(h.getSignalsMap().keySet())).toList();
  }

  private static boolean caughtUp(IndexNode rebuilt, IndexNode live) {
    if (rebuilt.shards().size() < 4) {
      return false;
    }
    for (ShardStore s : rebuilt.shards().values()) {
      if (rebuilt.state(s.shard()) != ShardState.LIVE || rebuilt.lag(s.shard()) != 0 || s.visibleOffset() != s.appliedOffset()
          || s.docCount() != live.shards().get(s.shard()).docCount()) {
        return false;
      }
    }
    return true;
  }
}
