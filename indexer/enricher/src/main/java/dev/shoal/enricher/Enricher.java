package dev.shoal.enricher;

import dev.shoal.api.document.DocumentJson;
import dev.shoal.api.document.DocumentText;
import dev.shoal.api.document.InvalidDocumentException;
import dev.shoal.api.document.SourceRecord;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.Encoder;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.server.Metrics;
import dev.shoal.server.ServiceLoop;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consume-transform-produce from {@code shoal.docs} to {@code shoal.docs.enriched}: validates
 * each record, embeds the valid upserts in one batch, and writes the enriched records, the
 * rejected ones (to {@code shoal.docs.dlq} with the reason) and the consumed offsets in one
 * Kafka transaction. A crash anywhere either commits all of a batch or none of it, so each
 * document is embedded and written once as far as any {@code read_committed} reader can tell.
 *
 * <p>Error policy: a malformed record never stops the loop (DLQ). A failure of the encoder or
 * of Kafka aborts the transaction and rewinds to the last committed offsets; the batch is
 * retried. A fenced producer (another enricher took over the same transactional id) is fatal.
 */
public final class Enricher extends ServiceLoop {

  private static final Logger LOG = LoggerFactory.getLogger(Enricher.class);
  private final EnricherConfig config;
  private final Encoder encoder;
  private final AtomicLong enriched = new AtomicLong();
  private final AtomicLong deadLettered = new AtomicLong();
  private final Metrics.Counter enrichedMetric;
  private final Metrics.Counter deadLetterMetric;
  private final Metrics.Histogram batchSizes;
  private final Metrics.Histogram embedSeconds;
  private KafkaConsumer<String, byte[]> consumer;
  private KafkaProducer<String, byte[]> producer;

  public Enricher(EnricherConfig config, Encoder encoder) {
    this(config, encoder, new Metrics());
  }

  public Enricher(EnricherConfig config, Encoder encoder, Metrics metrics) {
    super("enricher");
    this.config = config;
    this.encoder = encoder;
    this.enrichedMetric = metrics.counter("shoal_enricher_records_total",
        "Records consumed from shoal.docs, by outcome.", "outcome", "enriched");
    this.deadLetterMetric = metrics.counter("shoal_enricher_records_total",
        "Records consumed from shoal.docs, by outcome.", "outcome", "dead_lettered");
    this.batchSizes = metrics.histogram("shoal_enricher_embed_batch_size", "Passages per embedding batch.",
        Metrics.SIZES);
    this.embedSeconds = metrics.histogram("shoal_enricher_embed_seconds", "Time to embed one batch.",
        Metrics.LATENCY_SECONDS);
  }

  private long pendingEnriched;
  private long pendingDeadLettered;

  public long enrichedCount() {
    return enriched.get();
  }

  public long deadLetterCount() {
    return deadLettered.get();
  }

  @Override
  protected void onStart() {
    Properties c = KafkaSettings.consumer(config.bootstrap(), "shoal-enricher");
    c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(config.maxBatch()));
    consumer = new KafkaConsumer<>(c);
    Properties p = KafkaSettings.producer(config.bootstrap());
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, config.transactionalId());
    p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(config.maxRequestBytes()));
    producer = new KafkaProducer<>(p);
    producer.initTransactions();
    consumer.subscribe(List.of(Topics.DOCS));
  }

  @Override
  protected void runOnce() {
    ConsumerRecords<String, byte[]> records;
    try {
      records = consumer.poll(Duration.ofMillis(500));
    } catch (WakeupException e) {
      return;
    }
    if (records.isEmpty()) {
      return;
    }
    try {
      producer.beginTransaction();
      process(records);
      producer.sendOffsetsToTransaction(nextOffsets(records), consumer.groupMetadata());
      producer.commitTransaction();
      // counted once committed, so an aborted and retried batch is not counted twice
      enriched.addAndGet(pendingEnriched);
      deadLettered.addAndGet(pendingDeadLettered);
      enrichedMetric.add(pendingEnriched);
      deadLetterMetric.add(pendingDeadLettered);
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      throw e;
    } catch (RuntimeException e) {
      LOG.warn("enrichment of {} records failed, aborting and retrying: {}", records.count(), e.toString());
      try {
        producer.abortTransaction();
      } catch (KafkaException abortFailure) {
        LOG.warn("abort failed: {}", abortFailure.toString());
      }
      rewind(records);
      throw e;
    }
  }

  @Override
  protected boolean isFatal(Exception e) {
    return e instanceof ProducerFencedException || e instanceof OutOfOrderSequenceException
        || e instanceof AuthorizationException;
  }

  private void process(ConsumerRecords<String, byte[]> records) {
    List<ConsumerRecord<String, byte[]>> upserts = new ArrayList<>();
    List<Document> docs = new ArrayList<>();
    List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
    long rejected = 0;
    for (ConsumerRecord<String, byte[]> r : records) {
      SourceRecord parsed;
      try {
        parsed = DocumentJson.parse(r.key() == null ? null : r.key().getBytes(StandardCharsets.UTF_8), r.value());
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
    float[][] vectors = encoder.embed(docs.stream().map(DocumentText::passage).toList(), Encoder.Kind.PASSAGE);
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
    pendingEnriched = out.size() - rejected;
    pendingDeadLettered = rejected;
  }

  private static ProducerRecord<String, byte[]> enrichedRecord(ConsumerRecord<String, byte[]> src, EnrichedDocument e) {
    EnrichedDocument withSource = e.toBuilder().setSourcePartition(src.partition()).setSourceOffset(src.offset()).build();
    return new ProducerRecord<>(Topics.ENRICHED, e.getDocument().getId(), withSource.toByteArray());
  }

  private static ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> r, String reason) {
    ProducerRecord<String, byte[]> dlq = new ProducerRecord<>(Topics.DLQ, r.key(), r.value());
    dlq.headers().add(Topics.H_REASON, reason.getBytes(StandardCharsets.UTF_8));
    dlq.headers().add(Topics.H_SOURCE_TOPIC, r.topic().getBytes(StandardCharsets.UTF_8));
    dlq.headers().add(Topics.H_SOURCE_PARTITION,
        Integer.toString(r.partition()).getBytes(StandardCharsets.UTF_8));
    dlq.headers().add(Topics.H_SOURCE_OFFSET,
        Long.toString(r.offset()).getBytes(StandardCharsets.UTF_8));
    LOG.info("dead-lettered {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), reason);
    return dlq;
  }

  private static Map<TopicPartition, OffsetAndMetadata> nextOffsets(ConsumerRecords<String, byte[]> records) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<String, byte[]>> rs = records.records(tp);
      offsets.put(tp, new OffsetAndMetadata(rs.getLast().offset() + 1));
    }
    return offsets;
  }

  private void rewind(ConsumerRecords<String, byte[]> records) {
    Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(records.partitions());
    for (TopicPartition tp : records.partitions()) {
      OffsetAndMetadata c = committed.get(tp);
      consumer.seek(tp, c == null ? records.records(tp).getFirst().offset() : c.offset());
    }
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
