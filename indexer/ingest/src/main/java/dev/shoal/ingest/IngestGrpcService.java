package dev.shoal.ingest;

import dev.shoal.api.document.DocumentJson;
import dev.shoal.api.document.InvalidDocumentException;
import dev.shoal.api.v1.IndexRequest;
import dev.shoal.api.v1.IndexResponse;
import dev.shoal.api.v1.IngestServiceGrpc;
import dev.shoal.api.v1.Operation;
import dev.shoal.api.v1.Rejection;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * {@code shoal.v1.IngestService}: documents over gRPC to {@code shoal.docs}, for clients
 * without a Kafka client. Each document is checked against the document format first (the
 * same rules the enricher applies) and rejected with the reason if it breaks them; the others
 * are written as the JSON a pipeline would write, keyed by id. The single response comes after
 * the client half-closes and counts only what Kafka acknowledged; a document Kafka refused is
 * reported as rejected with Kafka's error. Thread-safe (one producer shared by all streams).
 */
public final class IngestGrpcService extends IngestServiceGrpc.IngestServiceImplBase implements AutoCloseable {

  /** Most documents accepted in one stream before the call is failed as too large. */
  public static final int MAX_DOCUMENTS_PER_STREAM = 100_000;
  private final KafkaProducer<String, byte[]> producer;

  public IngestGrpcService(String bootstrap) {
    this.producer = new KafkaProducer<>(KafkaSettings.producer(bootstrap));
  }

  @Override
  public StreamObserver<IndexRequest> index(StreamObserver<IndexResponse> response) {
    return new StreamObserver<>() {
      private final List<Future<RecordMetadata>> sent = new ArrayList<>();
      private final List<String> sentIds = new ArrayList<>();
      private final List<Long> sentPositions = new ArrayList<>();
      private final IndexResponse.Builder out = IndexResponse.newBuilder();
      private long position;
      private boolean failed;

      @Override
      public void onNext(IndexRequest r) {
        long at = position++;
        if (failed) {
          return;
        }
        if (sent.size() >= MAX_DOCUMENTS_PER_STREAM) {
          failed = true;
          response.onError(Status.RESOURCE_EXHAUSTED.withDescription("at most " + MAX_DOCUMENTS_PER_STREAM
              + " documents per stream: split the upload").asRuntimeException());
          return;
        }
        Operation op = r.getOp() == Operation.DELETE ? Operation.DELETE : Operation.UPSERT;
        String id = r.getDocument().getId();
        byte[] json = DocumentJson.write(r.getDocument(), op);
        try {
          DocumentJson.parse(id.getBytes(StandardCharsets.UTF_8), json);
        } catch (InvalidDocumentException e) {
          out.addRejected(Rejection.newBuilder().setId(id).setPosition(at).setReason(e.getMessage()));
          return;
        }
        sent.add(producer.send(new ProducerRecord<>(Topics.DOCS, id, json)));
        sentIds.add(id);
        sentPositions.add(at);
      }

      @Override
      public void onError(Throwable t) {
        failed = true; // the client went away; what was sent stays sent, as with any producer
      }

      @Override
      public void onCompleted() {
        if (failed) {
          return;
        }
        producer.flush();
        long acked = 0;
        for (int i = 0; i < sent.size(); i++) {
          try {
            sent.get(i).get();
            acked++;
          } catch (ExecutionException e) {
            out.addRejected(Rejection.newBuilder().setId(sentIds.get(i)).setPosition(sentPositions.get(i))
                .setReason("Kafka refused it: " + e.getCause()));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            response.onError(Status.CANCELLED.withDescription("interrupted").asRuntimeException());
            return;
          }
        }
        response.onNext(out.setAcknowledged(acked).build());
        response.onCompleted();
      }
    };
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
