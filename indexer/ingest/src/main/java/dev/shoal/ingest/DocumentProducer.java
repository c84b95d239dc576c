package dev.shoal.ingest;

import dev.shoal.api.document.DocumentJson;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Writes documents to {@code shoal.docs} exactly as any pipeline would: JSON, key = id,
 * acks=all, idempotent. {@link #flush()} returns once Kafka acknowledged every record sent, or
 * throws the first failure. Single-threaded use.
 */
public final class DocumentProducer implements AutoCloseable {

  private final KafkaProducer<String, byte[]> producer;
  private final AtomicLong acknowledged = new AtomicLong();
  private final AtomicReference<Exception> failure = new AtomicReference<>();

  public DocumentProducer(String bootstrap) {
    this.producer = new KafkaProducer<>(KafkaSettings.producer(bootstrap));
  }

  /** An upsert of the whole document. */
  public void send(Document doc) {
    send(doc, Operation.UPSERT);
  }

  public void send(Document doc, Operation op) {
    sendRaw(doc.getId(), DocumentJson.write(doc, op));
  }

  /** Sends bytes as they are, for pipelines that bring their own JSON. */
  public void sendRaw(String key, byte[] json) {
    producer.send(new ProducerRecord<>(Topics.DOCS, key, json), (meta, e) -> {
      if (e != null) {
        failure.compareAndSet(null, e);
      } else {
        acknowledged.incrementAndGet();
      }
    });
  }

  public long acknowledged() {
    return acknowledged.get();
  }

  public void flush() {
    producer.flush();
    Exception e = failure.get();
    if (e != null) {
      throw new IllegalStateException("Kafka refused a document: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
