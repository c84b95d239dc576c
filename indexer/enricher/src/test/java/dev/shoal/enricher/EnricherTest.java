package dev.shoal.enricher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.document.DocumentText;
import dev.shoal.cluster.Shards;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.Encoders;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.PassageWindows;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.server.Metrics;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The enricher's failure paths against Kafka's MockConsumer and MockProducer (which keep
 * committed and aborted transactions apart) and the real MiniLM model on ONNX Runtime. The
 * faults are injected on purpose: a failed offset commit, an encoder that throws on one text.
 */
class EnricherTest {

  private static final int PARTITIONS = 3;
  private static Encoder model;

  private MockConsumer<String, byte[]> consumer;
  private MockProducer<String, byte[]> producer;
  private final Map<TopicPartition, Long> nextOffset = new HashMap<>();

  @BeforeAll
  static void loadModel() {
    model = Encoders.create(ModelSpec.ALL_MINILM_L6_V2, "cpu", 1, 16);
  }

  @AfterAll
  static void closeModel() {
    model.close();
  }

  @BeforeEach
  void clients() {
    consumer = new MockConsumer<>("earliest");
    producer = new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
    List<PartitionInfo> infos = new ArrayList<>();
    for (int p = 0; p < PARTITIONS; p++) {
      infos.add(new PartitionInfo(Topics.DOCS, p, null, null, null));
    }
    consumer.updatePartitions(Topics.DOCS, infos);
  }

  private Enricher start(Encoder encoder) throws Exception {
    return start(encoder, new Enricher.Clients(() -> consumer, () -> producer));
  }

  private Enricher start(Encoder encoder, Enricher.Clients clients) throws Exception {
    return start(encoder, clients, PassageWindows.forModel(encoder.model()));
  }

  /** An enricher on these clients, started, owning every partition from offset 0. */
  private Enricher start(Encoder encoder, Enricher.Clients clients, PassageWindows windows) throws Exception {
    Enricher e = new Enricher(clients, encoder, windows, new Metrics());
    e.onStart();
    List<TopicPartition> all = IntStream.range(0, PARTITIONS).mapToObj(p -> new TopicPartition(Topics.DOCS, p)).toList();
    consumer.rebalance(all);
    Map<TopicPartition, Long> beginning = new HashMap<>();
    all.forEach(tp -> beginning.put(tp, 0L));
    consumer.updateBeginningOffsets(beginning);
    return e;
  }

  /** Adds a record where the default partitioner puts its id (or to {@code partition} when given). */
  private void add(String id, String text, Integer partition, boolean keyed) {
    int p = partition != null ? partition : Shards.of(id, PARTITIONS);
    TopicPartition tp = new TopicPartition(Topics.DOCS, p);
    long offset = nextOffset.merge(tp, 1L, Long::sum) - 1;
    String json = "{\"id\":\"" + id + "\",\"title\":\"t " + id + "\",\"text\":\"" + text + "\"}";
    consumer.addRecord(new ConsumerRecord<>(Topics.DOCS, p, offset, keyed ? id : null,
        json.getBytes(StandardCharsets.UTF_8)));
  }

  private void add(String id, String text) {
    add(id, text, null, true);
  }

  private static void runUntil(Enricher e, long records) throws Exception {
    for (int i = 0; i < 500 && e.enrichedCount() + e.deadLetterCount() < records; i++) {
      e.runOnce();
    }
  }

  private List<EnrichedDocument> committedEnriched() throws Exception {
    List<EnrichedDocument> out = new ArrayList<>();
    for (ProducerRecord<String, byte[]> r : producer.history()) {
      if (r.topic().equals(Topics.ENRICHED)) {
        out.add(EnrichedDocument.parseFrom(r.value()));
      }
    }
    return out;
  }

  private List<ProducerRecord<String, byte[]>> committedDeadLetters() {
    return producer.history().stream().filter(r -> r.topic().equals(Topics.DLQ)).toList();
  }

  private Map<TopicPartition, OffsetAndMetadata> lastCommittedOffsets() {
    Map<TopicPartition, OffsetAndMetadata> last = new HashMap<>();
    for (Map<String, Map<TopicPartition, OffsetAndMetadata>> tx : producer.consumerGroupOffsetsHistory()) {
      tx.values().forEach(last::putAll);
    }
    return last;
  }

  private static String reason(ProducerRecord<String, byte[]> r) {
    return new String(r.headers().lastHeader(Topics.H_REASON).value(), StandardCharsets.UTF_8);
  }

  @Test
  void failedOffsetCommitRetriesTheSameBatchFromMemoryAndWritesEachDocumentOnce() throws Exception {
    Enricher e = start(model);
    for (int i = 0; i < 12; i++) {
      add("doc-" + i, "passage number " + i + " about coral reefs");
    }
    producer.sendOffsetsToTransactionException = new KafkaException("coordinator not available (injected)");
    e.runOnce();
    assertTrue(producer.transactionAborted(), "the failed transaction is aborted");
    assertEquals(0, producer.history().size(), "nothing of the aborted transaction is visible");
    assertEquals(0, e.enrichedCount());

    producer.sendOffsetsToTransactionException = null;
    runUntil(e, 12);

    List<EnrichedDocument> written = committedEnriched();
    assertEquals(12, written.size(), "every record written once, none lost and none twice");
    assertEquals(12, written.stream().map(d -> d.getDocument().getId()).distinct().count());
    assertEquals(12, e.enrichedCount(), "an aborted attempt is not counted");
    for (EnrichedDocument d : written) {
      assertEquals(ModelSpec.ALL_MINILM_L6_V2.dimension(), d.getEmbeddingCount());
      assertEquals(ModelSpec.ALL_MINILM_L6_V2.name(), d.getModel());
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = lastCommittedOffsets();
    nextOffset.forEach((tp, next) -> assertEquals(next, offsets.get(tp).offset(), "offset committed for " + tp));
  }

  @Test
  void aRecordTheEncoderKeepsFailingOnIsDeadLetteredAloneAndTheRestFlowsInOrder() throws Exception {
    Encoder poisoned = new FailingOn("POISON", model);
    Enricher e = start(poisoned);
    int n = 20;
    for (int i = 0; i < n; i++) {
      add("doc-" + i, i == 13 ? "POISON pill passage" : "passage number " + i);
    }
    runUntil(e, n);

    assertEquals(n - 1, e.enrichedCount());
    assertEquals(1, e.deadLetterCount());
    List<ProducerRecord<String, byte[]>> dlq = committedDeadLetters();
    assertEquals(1, dlq.size());
    assertEquals("doc-13", dlq.getFirst().key());
    assertTrue(reason(dlq.getFirst()).contains("enrichment failed") && reason(dlq.getFirst()).contains("POISON"),
        "the reason says what failed: " + reason(dlq.getFirst()));
    List<EnrichedDocument> written = committedEnriched();
    assertEquals(n - 1, written.size());
    Map<Integer, Long> lastOffset = new HashMap<>();
    for (EnrichedDocument d : written) {
      Long before = lastOffset.put(d.getSourcePartition(), d.getSourceOffset());
      assertTrue(before == null || before < d.getSourceOffset(), "per-partition order kept across the split");
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = lastCommittedOffsets();
    nextOffset.forEach((tp, next) -> assertEquals(next, offsets.get(tp).offset(), "offset committed for " + tp));
  }

  @Test
  void keylessAndMispartitionedRecordsAreDeadLetteredWithHowToKeyThem() throws Exception {
    Enricher e = start(model);
    add("good-1", "a passage");
    add("keyless", "a passage", null, false);
    int wrong = (Shards.of("misplaced", PARTITIONS) + 1) % PARTITIONS;
    add("misplaced", "a passage", wrong, true);
    add("good-2", "another passage");
    runUntil(e, 4);

    assertEquals(2, e.enrichedCount());
    List<String> ids = committedEnriched().stream().map(d -> d.getDocument().getId()).sorted().toList();
    assertEquals(List.of("good-1", "good-2"), ids);
    Map<String, String> reasons = new HashMap<>();
    for (ProducerRecord<String, byte[]> r : committedDeadLetters()) {
      String value = new String(r.value(), StandardCharsets.UTF_8);
      reasons.put(value.contains("keyless") ? "keyless" : "misplaced", reason(r));
    }
    assertTrue(reasons.get("keyless").contains("no key"), reasons.get("keyless"));
    assertTrue(reasons.get("misplaced").contains("partition " + wrong)
        && reasons.get("misplaced").contains("partition " + Shards.of("misplaced", PARTITIONS)),
        reasons.get("misplaced"));
  }

  @Test
  void recordsOfARevokedPartitionAreDroppedFromThePendingBatch() throws Exception {
    Enricher e = start(model);
    List<String> ids = IntStream.range(0, 30).mapToObj(i -> "doc-" + i).toList();
    ids.forEach(id -> add(id, "passage " + id));
    producer.sendOffsetsToTransactionException = new KafkaException("injected");
    e.runOnce();
    producer.sendOffsetsToTransactionException = null;

    TopicPartition revoked = new TopicPartition(Topics.DOCS, 0);
    consumer.rebalance(List.of(new TopicPartition(Topics.DOCS, 1), new TopicPartition(Topics.DOCS, 2)));
    long kept = ids.stream().filter(id -> Shards.of(id, PARTITIONS) != 0).count();
    assertTrue(kept < ids.size() && kept > 0, "the ids spread over the partitions");
    runUntil(e, kept);

    List<EnrichedDocument> written = committedEnriched();
    assertEquals(kept, written.size());
    assertTrue(written.stream().noneMatch(d -> d.getSourcePartition() == 0),
        "the new owner of partition 0 enriches its records, not this enricher");
    assertTrue(!lastCommittedOffsets().containsKey(revoked), "no offset committed for a partition no longer owned");
  }

  /** A producer whose abort fails too (an error state, as after a broker restart) is replaced; nothing is lost. */
  @Test
  void aProducerThatCannotEvenAbortIsReplacedAndTheBatchIsWrittenOnceByItsSuccessor() throws Exception {
    List<MockProducer<String, byte[]>> made = new ArrayList<>();
    Enricher e = start(model, new Enricher.Clients(() -> consumer, () -> {
      MockProducer<String, byte[]> p = new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
      made.add(p);
      return p;
    }));
    for (int i = 0; i < 8; i++) {
      add("doc-" + i, "passage " + i);
    }
    made.getFirst().sendOffsetsToTransactionException = new KafkaException("transaction timed out (injected)");
    made.getFirst().abortTransactionException = new KafkaException("producer in error state (injected)");
    runUntil(e, 8);
    assertEquals(2, made.size(), "a second producer replaced the first");
    assertTrue(made.get(1).transactionInitialized());
    assertEquals(0, made.getFirst().history().size());
    assertEquals(8, made.get(1).history().stream().filter(r -> r.topic().equals(Topics.ENRICHED)).count());
    assertEquals(8, e.enrichedCount());
  }

  /** Kafka unavailable for a long time is nobody's record's fault: nothing is dead-lettered for it. */
  @Test
  void aLongKafkaOutageDeadLettersNothingAndEveryRecordIsWrittenOnceAfterIt() throws Exception {
    Enricher e = start(model);
    for (int i = 0; i < 10; i++) {
      add("doc-" + i, "passage " + i);
    }
    producer.sendOffsetsToTransactionException = new org.apache.kafka.common.errors.TimeoutException(
        "coordinator unreachable (injected)");
    for (int i = 0; i < 12; i++) {
      e.runOnce();
    }
    assertEquals(0, e.deadLetterCount(), "an outage is not the records' fault");
    assertEquals(0, e.enrichedCount());
    producer.sendOffsetsToTransactionException = null;
    runUntil(e, 10);
    assertEquals(10, e.enrichedCount());
    assertEquals(0, committedDeadLetters().size());
    assertEquals(10, committedEnriched().size());
  }

  /**
   * A record Kafka refuses as too large is isolated and dead-lettered; when the DLQ refuses its
   * copy too, it is dead-lettered without its value, the reason saying so (the review's example).
   */
  @Test
  void aRecordTooLargeEvenForTheDlqIsDeadLetteredWithoutItsValue() throws Exception {
    producer = new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer()) {
      @Override
      public synchronized java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata> send(
          ProducerRecord<String, byte[]> r, org.apache.kafka.clients.producer.Callback cb) {
        if ("huge".equals(r.key()) && r.value() != null) {
          throw new org.apache.kafka.common.errors.RecordTooLargeException("over max.message.bytes (injected)");
        }
        return super.send(r, cb);
      }
    };
    Enricher e = start(model);
    for (int i = 0; i < 6; i++) {
      add(i == 3 ? "huge" : "doc-" + i, "passage " + i);
    }
    runUntil(e, 6);
    assertEquals(5, e.enrichedCount());
    assertEquals(1, e.deadLetterCount());
    ProducerRecord<String, byte[]> dlq = committedDeadLetters().getFirst();
    assertEquals("huge", dlq.key());
    assertEquals(null, dlq.value());
    assertTrue(reason(dlq).contains("not copied") && reason(dlq).contains("RecordTooLarge"), reason(dlq));
  }

  /**
   * The fault campaign's stall: a batch retried through an outage must not keep the consumer from
   * its group. A rebalance that arrives meanwhile is taken between attempts (a paused poll), the
   * revoked partition's records are dropped, and nothing new is fetched while the batch waits.
   */
  @Test
  void aRebalanceDuringAnOutageIsTakenBetweenAttemptsAndNothingNewIsFetched() throws Exception {
    Enricher e = start(model);
    List<String> ids = IntStream.range(0, 30).mapToObj(i -> "doc-" + i).toList();
    ids.forEach(id -> add(id, "passage " + id));
    producer.sendOffsetsToTransactionException = new org.apache.kafka.common.errors.TimeoutException("injected");
    e.runOnce(); // polls the 30 records; the transaction fails
    consumer.schedulePollTask(() -> consumer.rebalance(List.of(new TopicPartition(Topics.DOCS, 1),
        new TopicPartition(Topics.DOCS, 2))));
    add("late-1", "arrives while the batch waits");
    e.runOnce(); // fails again; the group's rebalance runs in the paused poll
    assertEquals(java.util.Set.of(new TopicPartition(Topics.DOCS, 1), new TopicPartition(Topics.DOCS, 2)),
        consumer.assignment(), "the consumer took part in the rebalance while retrying");
    producer.sendOffsetsToTransactionException = null;
    long kept = ids.stream().filter(id -> Shards.of(id, PARTITIONS) != 0).count();
    runUntil(e, kept);
    List<EnrichedDocument> written = committedEnriched();
    assertTrue(written.stream().noneMatch(d -> d.getSourcePartition() == 0), "partition 0 went to its new owner");
    assertEquals(kept, written.stream().filter(d -> d.getDocument().getId().startsWith("doc-")).count());
  }

  @Test
  void aPassageLongerThanTheModelWindowIsEmbeddedAsItsPooledWindowsAndAShortOneAsBefore() throws Exception {
    PassageWindows windows = PassageWindows.forModel(model.model(), 64, 8);
    Enricher e = start(model, new Enricher.Clients(() -> consumer, () -> producer), windows);
    StringBuilder text = new StringBuilder();
    for (int i = 0; text.length() < 4_000; i++) {
      text.append("sentence ").append(i).append(" says coral reefs bleach when the sea warms and recover slowly. ");
    }
    add("long", text.toString());
    add("short", "coral reefs bleach");
    runUntil(e, 2);
    Map<String, EnrichedDocument> byId = new HashMap<>();
    committedEnriched().forEach(d -> byId.put(d.getDocument().getId(), d));

    String longPassage = DocumentText.passage(byId.get("long").getDocument());
    List<PassageWindows.Window> split = windows.split(longPassage);
    assertTrue(split.size() > 2, "about 900 tokens make several 254-token windows, got " + split.size());
    float[] expected = PassageWindows.pool(split,
        List.of(model.embed(split.stream().map(PassageWindows.Window::text).toList(), Encoder.Kind.PASSAGE)));
    // the enricher ran both documents in one padded batch: equal up to float rounding
    assertArrayEquals(expected, vector(byId.get("long")), 1e-5f);
    float[] truncated = model.embed(List.of(longPassage), Encoder.Kind.PASSAGE)[0];
    assertTrue(dot(truncated, vector(byId.get("long"))) < 0.9999, "the pooled vector is not the first window's");

    String shortPassage = DocumentText.passage(byId.get("short").getDocument());
    assertArrayEquals(model.embed(List.of(shortPassage), Encoder.Kind.PASSAGE)[0], vector(byId.get("short")), 1e-5f,
        "a passage that fits is embedded as without windows");
  }

  private static float[] vector(EnrichedDocument d) {
    float[] v = new float[d.getEmbeddingCount()];
    for (int i = 0; i < v.length; i++) {
      v[i] = d.getEmbedding(i);
    }
    return v;
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  /** Delegates to a real encoder but throws whenever a text contains the marker: a poison record. */
  private record FailingOn(String marker, Encoder delegate) implements Encoder {
    @Override
    public ModelSpec model() {
      return delegate.model();
    }

    @Override
    public float[][] embed(List<String> texts, Kind kind) {
      for (String t : texts) {
        if (t.contains(marker)) {
          throw new IllegalStateException("encoder failed on a text containing " + marker + " (injected)");
        }
      }
      return delegate.embed(texts, kind);
    }

    @Override
    public String backend() {
      return delegate.backend();
    }

    @Override
    public void close() {
    }
  }
}
