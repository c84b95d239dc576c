package dev.shoal.enricher;

import dev.shoal.api.document.DocumentJson;
import dev.shoal.api.document.DocumentText;
import dev.shoal.api.document.InvalidDocumentException;
import dev.shoal.api.document.SourceRecord;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Shards;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.PassageWindows;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.server.Metrics;
import dev.shoal.server.ServiceLoop;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consume-transform-produce from {@code shoal.docs} to {@code shoal.docs.enriched}: validates
 * each record, embeds the valid upserts in one batch (a passage longer than the model's window as
 * overlapping windows pooled into its one vector, {@link PassageWindows}), and writes the enriched records (each with
 * its version: source partition and offset), the rejected ones (to {@code shoal.docs.dlq} with
 * the reason) and the consumed offsets in one Kafka transaction. A crash anywhere either commits
 * all of a batch or none of it, so each document is embedded and written once as far as any
 * {@code read_committed} reader can tell.
 *
 * <p>Per-id order: a record must be keyed by its id and sit in the partition Kafka's default
 * partitioner gives that key (so every version of a document passes through one partition, in
 * order); a keyless record, or one in another partition, is dead-lettered with how to key it.
 *
 * <p>Error policy: a malformed record never stops the loop (DLQ). A failure aborts the
 * transaction and the batch is retried from memory (the consumer's position is already past it;
 * nothing is fetched again and no coordinator call is needed). When the records may be to blame
 * (the encoder failed on them, Kafka refused one as too large), a batch that fails
 * {@value #ATTEMPTS_BEFORE_SPLIT} times is split in two and each half retried, so a record that
 * keeps failing ends up alone and is dead-lettered with the failure as its reason while the rest
 * flows; when Kafka itself is unavailable the batch is retried as it is until Kafka is back, and
 * nothing is dead-lettered for it. Partitions revoked by a rebalance drop their pending records: their new owner
 * starts from the committed offsets. A fenced producer (another enricher took over the same
 * transactional id) is fatal.
 */
public final class Enricher extends ServiceLoop {

  /** Failed transactions of one batch before it is split in two. */
  static final int ATTEMPTS_BEFORE_SPLIT = 2;
  private static final Logger LOG = LoggerFactory.getLogger(Enricher.class);

  /** The Kafka clients an enricher uses; tests pass Kafka's MockConsumer and MockProducer. */
  public record Clients(Supplier<Consumer<String, byte[]>> consumer, Supplier<Producer<String, byte[]>> producer) {
    /** Real clients for the configuration: read_committed group consumer, transactional producer. */
    public static Clients kafka(EnricherConfig config) {
      return new Clients(() -> {
        Properties c = KafkaSettings.consumer(config.bootstrap(), "shoal-enricher");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(config.maxBatch()));
        // a crashed enricher's partitions go to a live one within 10 s, not Kafka's default 45 s
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "3000");
        return new KafkaConsumer<>(c);
      }, () -> {
        Properties p = KafkaSettings.producer(config.bootstrap());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, config.transactionalId());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(config.maxRequestBytes()));
        return new KafkaProducer<>(p);
      });
    }
  }

  /**
   * Records to enrich in one transaction, with the failed attempts so far that the records may
   * have caused, and the others (Kafka unavailable), which only lengthen the back-off.
   */
  private record Batch(List<ConsumerRecord<String, byte[]>> records, int attempts, int unavailable) {
    Batch(List<ConsumerRecord<String, byte[]>> records, int attempts) {
      this(records, attempts, 0);
    }
  }

  /** The encoder failed on a batch: something in these records may be to blame. */
  private static final class EncoderFailure extends RuntimeException {
    EncoderFailure(RuntimeException cause) {
      super("encoder failed: " + cause, cause);
    }
  }

  /**
   * Whether the records may be to blame for a failure: the encoder failed on them, or Kafka
   * refused one (too large, unserialisable, invalid). Only those count toward splitting the
   * batch and dead-lettering a record. Kafka being unavailable, a coordinator moving or a
   * transaction timing out is no record's doing: the batch is retried as it is, however long it
   * takes, and nothing is dead-lettered for it.
   */
  static boolean recordsMayBeToBlame(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof EncoderFailure || t instanceof RecordTooLargeException || t instanceof RecordBatchTooLargeException
          || t instanceof SerializationException || t instanceof InvalidRecordException) {
        return true;
      }
    }
    return false;
  }

  private final Clients clients;
  private final Encoder encoder;
  private final AtomicLong enriched = new AtomicLong();
  private final AtomicLong deadLettered = new AtomicLong();
  private final Metrics.Counter enrichedMetric;
  private final Metrics.Counter deadLetterMetric;
  private final Metrics.Histogram batchSizes;
  private final Metrics.Histogram embedSeconds;
  private final Metrics.Counter windowsMetric;
  private final PassageWindows windows;
  private final Deque<Batch> pending = new ArrayDeque<>();
  private Consumer<String, byte[]> consumer;
  private Producer<String, byte[]> producer;
  private int partitions;

  public Enricher(EnricherConfig config, Encoder encoder) {
    this(config, encoder, new Metrics());
  }

  public Enricher(EnricherConfig config, Encoder encoder, Metrics metrics) {
    this(Clients.kafka(config), encoder, PassageWindows.forModel(encoder.model(), config.windowOverlap(),
        config.maxWindows()), metrics);
  }

  public Enricher(Clients clients, Encoder encoder, Metrics metrics) {
    this(clients, encoder, PassageWindows.forModel(encoder.model()), metrics);
  }

  /**
   * @param windows how passages longer than the model's window are embedded (windows of the
   *                encoder's model, pooled into one vector)
   */
  public Enricher(Clients clients, Encoder encoder, PassageWindows windows, Metrics metrics) {
    super("enricher");
    this.clients = clients;
    this.encoder = encoder;
    this.windows = windows;
    this.enrichedMetric = metrics.counter("shoal_enricher_records_total",
        "Records consumed from shoal.docs, by outcome.", "outcome", "enriched");
    this.deadLetterMetric = metrics.counter("shoal_enricher_records_total",
        "Records consumed from shoal.docs, by outcome.", "outcome", "dead_lettered");
    this.batchSizes = metrics.histogram("shoal_enricher_embed_batch_size", "Passages per embedding batch.",
        Metrics.SIZES);
    this.embedSeconds = metrics.histogram("shoal_enricher_embed_seconds", "Time to embed one batch.",
        Metrics.LATENCY_SECONDS);
    this.windowsMetric = metrics.counter("shoal_enricher_windows_total",
        "Model windows embedded; above the documents enriched when passages are longer than one window.");
  }

  public long enrichedCount() {
    return enriched.get();
  }

  public long deadLetterCount() {
    return deadLettered.get();
  }

  @Override
  protected void onStart() {
    consumer = clients.consumer().get();
    producer = clients.producer().get();
    producer.initTransactions();
    consumer.subscribe(List.of(Topics.DOCS), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
        drop(revoked);
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> lost) {
        drop(lost);
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
      }
    });
  }

  /** A new owner of these partitions starts from the committed offsets: what is pending for them is not ours. */
  private void drop(Collection<TopicPartition> gone) {
    List<Batch> kept = new ArrayList<>();
    for (Batch b : pending) {
      List<ConsumerRecord<String, byte[]>> rs = b.records().stream()
          .filter(r -> !gone.contains(new TopicPartition(r.topic(), r.partition()))).toList();
      if (!rs.isEmpty()) {
        kept.add(new Batch(rs, b.attempts()));
      }
    }
    pending.clear();
    pending.addAll(kept);
  }

  @Override
  protected void runOnce() throws InterruptedException {
    if (pending.isEmpty()) {
      ConsumerRecords<String, byte[]> records;
      try {
        records = consumer.poll(Duration.ofMillis(500));
      } catch (WakeupException e) {
        return;
      }
      if (records.isEmpty()) {
        return;
      }
      List<ConsumerRecord<String, byte[]>> all = new ArrayList<>(records.count());
      records.forEach(all::add);
      pending.add(new Batch(all, 0));
    }
    Batch batch = pending.peekFirst();
    try {
      long[] counts = transaction(batch.records(), null);
      pending.removeFirst();
      count(counts);
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      throw e;
    } catch (RuntimeException e) {
      abort();
      keepMembership();
      if (pending.peekFirst() != batch) {
        return; // a rebalance revoked some or all of its partitions: what is left of it is retried as it is now
      }
      pending.removeFirst();
      if (!recordsMayBeToBlame(e)) {
        int unavailable = batch.unavailable() + 1;
        LOG.warn("enrichment of {} records failed, not for anything in them; retrying as they are ({}): {}",
            batch.records().size(), unavailable, e.toString());
        pending.addFirst(new Batch(batch.records(), batch.attempts(), unavailable));
        Thread.sleep(Math.min(2_000, 100L * unavailable));
        return;
      }
      int attempts = batch.attempts() + 1;
      LOG.warn("enrichment of {} records failed (attempt {}): {}", batch.records().size(), attempts, e.toString());
      if (attempts < ATTEMPTS_BEFORE_SPLIT) {
        pending.addFirst(new Batch(batch.records(), attempts));
      } else if (batch.records().size() > 1) {
        List<ConsumerRecord<String, byte[]>> rs = batch.records();
        int half = rs.size() / 2;
        pending.addFirst(new Batch(rs.subList(half, rs.size()), 0));
        pending.addFirst(new Batch(rs.subList(0, half), 0));
      } else {
        deadLetterAlone(batch.records().getFirst(), e);
      }
      Thread.sleep(Math.min(2_000, 100L * attempts));
    }
  }

  /**
   * Between attempts the consumer stays in its group and fetches nothing new: all its partitions
   * are paused for one poll, which runs a pending rebalance (the listener drops what was revoked,
   * the failed batch included) and returns only records of partitions assigned in it, queued
   * behind. Without this a batch retried through a long outage would keep the consumer from its
   * group (no poll), the group would move on without it, and every retry would fail for that.
   */
  private void keepMembership() {
    consumer.pause(consumer.assignment());
    try {
      ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ZERO);
      if (!records.isEmpty()) {
        List<ConsumerRecord<String, byte[]>> all = new ArrayList<>(records.count());
        records.forEach(all::add);
        pending.addLast(new Batch(all, 0));
      }
    } catch (WakeupException e) {
      // closing
    } finally {
      Set<TopicPartition> paused = new HashSet<>(consumer.paused());
      paused.retainAll(consumer.assignment()); // a revoked partition cannot be resumed
      consumer.resume(paused);
    }
  }

  /**
   * A record that failed alone {@value #ATTEMPTS_BEFORE_SPLIT} times goes to the DLQ with the
   * failure; if Kafka refuses even that copy (the DLQ topic's size limit, say), it goes without
   * its value, the reason saying so.
   */
  private void deadLetterAlone(ConsumerRecord<String, byte[]> r, RuntimeException failure) {
    String reason = "enrichment failed " + ATTEMPTS_BEFORE_SPLIT + " times: " + failure;
    try {
      count(transaction(List.of(r), reason, true));
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      throw e;
    } catch (RuntimeException e) {
      abort();
      if (recordsMayBeToBlame(e)) {
        LOG.warn("the DLQ refused {}-{}@{} ({}); dead-lettering it without its value", r.topic(), r.partition(),
            r.offset(), e.toString());
        try {
          count(transaction(List.of(r), reason + "; the original value (" + (r.value() == null ? 0 : r.value().length)
              + " bytes) was refused by the DLQ too and is not copied: " + e, false));
          return;
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException fatal) {
          throw fatal;
        } catch (RuntimeException again) {
          abort();
        }
      }
      LOG.warn("dead-lettering {}-{}@{} failed, retrying it: {}", r.topic(), r.partition(), r.offset(), e.toString());
      pending.addFirst(new Batch(List.of(r), ATTEMPTS_BEFORE_SPLIT));
    }
  }

  /**
   * Aborts the failed transaction. When even that fails (the producer is in an error state, e.g.
   * after a broker restart timed a transaction out), the producer is replaced by a new one with
   * the same transactional id: its initTransactions aborts whatever the old one left open.
   */
  private void abort() {
    try {
      producer.abortTransaction();
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException fatal) {
      throw fatal;
    } catch (KafkaException | IllegalStateException abortFailure) {
      LOG.warn("abort failed ({}); replacing the producer", abortFailure.toString());
      try {
        producer.close(Duration.ZERO);
      } catch (RuntimeException ignored) {
        // it is being replaced
      }
      producer = clients.producer().get();
      producer.initTransactions();
    }
  }

  /** Counted once committed, so an aborted and retried batch is not counted twice. */
  private void count(long[] counts) {
    enriched.addAndGet(counts[0]);
    deadLettered.addAndGet(counts[1]);
    enrichedMetric.add(counts[0]);
    deadLetterMetric.add(counts[1]);
  }

  @Override
  protected boolean isFatal(Exception e) {
    return e instanceof ProducerFencedException || e instanceof OutOfOrderSequenceException
        || e instanceof AuthorizationException;
  }

  /**
   * One transaction: the records enriched (or all dead-lettered with {@code deadLetterReason}), and
   * their offsets. Returns {enriched, dead-lettered}.
   */
  private long[] transaction(List<ConsumerRecord<String, byte[]>> records, String deadLetterReason) {
    return transaction(records, deadLetterReason, true);
  }

  private long[] transaction(List<ConsumerRecord<String, byte[]>> records, String deadLetterReason, boolean withValues) {
    producer.beginTransaction();
    long[] counts = deadLetterReason == null ? process(records) : deadLetterAll(records, deadLetterReason, withValues);
    producer.sendOffsetsToTransaction(nextOffsets(records), consumer.groupMetadata());
    producer.commitTransaction();
    return counts;
  }

  private long[] deadLetterAll(List<ConsumerRecord<String, byte[]>> records, String reason, boolean withValues) {
    for (ConsumerRecord<String, byte[]> r : records) {
      producer.send(deadLetter(r, reason, withValues));
    }
    return new long[] {0, records.size()};
  }

  private long[] process(List<ConsumerRecord<String, byte[]>> records) {
    List<ConsumerRecord<String, byte[]>> upserts = new ArrayList<>();
    List<Document> docs = new ArrayList<>();
    List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
    long rejected = 0;
    for (ConsumerRecord<String, byte[]> r : records) {
      SourceRecord parsed;
      try {
        checkKey(r);
        parsed = DocumentJson.parse(r.key().getBytes(StandardCharsets.UTF_8), r.value());
      } catch (InvalidDocumentException e) {
        out.add(deadLetter(r, e.getMessage()));
        rejected++;
        continue;
      }
      if (parsed.op() == Operation.DELETE) {
        out.add(enrichedRecord(r, EnrichedDocument.newBuilder().setOp(Operation.DELETE)
            .setDocument(parsed.document()).build()));
      } else {
        upserts.add(r);
        docs.add(parsed.document());
        out.add(null); // placeholder keeps Kafka order within the partition
      }
    }
    long embedStart = System.nanoTime();
    float[][] vectors = new float[docs.size()][];
    try {
      List<List<PassageWindows.Window>> split = new ArrayList<>(docs.size());
      List<String> texts = new ArrayList<>(docs.size());
      for (Document d : docs) {
        List<PassageWindows.Window> w = windows.split(DocumentText.passage(d));
        split.add(w);
        w.forEach(x -> texts.add(x.text()));
      }
      float[][] embedded = encoder.embed(texts, Encoder.Kind.PASSAGE);
      int at = 0;
      for (int i = 0; i < vectors.length; i++) {
        int n = split.get(i).size();
        vectors[i] = PassageWindows.pool(split.get(i), List.of(embedded).subList(at, at + n));
        at += n;
      }
      windowsMetric.add(texts.size());
    } catch (RuntimeException e) {
      throw new EncoderFailure(e);
    }
    if (!docs.isEmpty()) {
      embedSeconds.observeSince(embedStart);
      batchSizes.observe(docs.size());
    }
    int next = 0;
    for (int i = 0; i < out.size(); i++) {
      if (out.get(i) == null) {
        EnrichedDocument.Builder e = EnrichedDocument.newBuilder().setOp(Operation.UPSERT)
            .setDocument(docs.get(next)).setModel(encoder.model().name());
        for (float x : vectors[next]) {
          e.addEmbedding(x);
        }
        out.set(i, enrichedRecord(upserts.get(next), e.build()));
        next++;
      }
    }
    for (ProducerRecord<String, byte[]> r : out) {
      producer.send(r);
    }
    return new long[] {out.size() - rejected, rejected};
  }

  /**
   * Every version of a document must pass through one partition, in order: the record is keyed by
   * its id and sits where Kafka's default partitioner puts that key.
   */
  private void checkKey(ConsumerRecord<String, byte[]> r) throws InvalidDocumentException {
    if (r.key() == null) {
      throw new InvalidDocumentException("record has no key: key every record by its document id, so that all "
          + "versions of a document go through one partition in order");
    }
    int n = partitionCount();
    int expected = Shards.of(r.key(), n);
    if (r.partition() != expected) {
      throw new InvalidDocumentException("record for id '" + abbreviate(r.key()) + "' is in partition "
          + r.partition() + ", but Kafka's default partitioner puts that key in partition " + expected + " of " + n
          + ": produce with the key as it is and the default partitioner (murmur2; librdkafka clients such as "
          + "Python's, Go's and C's: partitioner=murmur2_random)");
    }
  }

  private int partitionCount() {
    if (partitions == 0) {
      partitions = consumer.partitionsFor(Topics.DOCS).size();
    }
    return partitions;
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }

  private static ProducerRecord<String, byte[]> enrichedRecord(ConsumerRecord<String, byte[]> src, EnrichedDocument e) {
    EnrichedDocument withSource = e.toBuilder().setSourcePartition(src.partition()).setSourceOffset(src.offset()).build();
    return new ProducerRecord<>(Topics.ENRICHED, e.getDocument().getId(), withSource.toByteArray());
  }

  private static ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> r, String reason) {
    return deadLetter(r, reason, true);
  }

  private static ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> r, String reason,
                                                           boolean withValue) {
    ProducerRecord<String, byte[]> dlq = new ProducerRecord<>(Topics.DLQ, r.key(), withValue ? r.value() : null);
    dlq.headers().add(Topics.H_REASON, reason.getBytes(StandardCharsets.UTF_8));
    dlq.headers().add(Topics.H_SOURCE_TOPIC, r.topic().getBytes(StandardCharsets.UTF_8));
    dlq.headers().add(Topics.H_SOURCE_PARTITION, Integer.toString(r.partition()).getBytes(StandardCharsets.UTF_8));
    dlq.headers().add(Topics.H_SOURCE_OFFSET, Long.toString(r.offset()).getBytes(StandardCharsets.UTF_8));
    LOG.info("dead-lettered {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), reason);
    return dlq;
  }

  private static Map<TopicPartition, OffsetAndMetadata> nextOffsets(List<ConsumerRecord<String, byte[]>> records) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      offsets.merge(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1),
          (a, b) -> a.offset() >= b.offset() ? a : b);
    }
    return offsets;
  }

  @Override
  protected void interrupt() {
    if (consumer != null) {
      consumer.wakeup();
    }
  }

  @Override
  protected void onStop() {
    if (consumer != null) {
      consumer.close(Duration.ofSeconds(2));
    }
    if (producer != null) {
      producer.close(Duration.ofSeconds(2));
    }
  }
}
