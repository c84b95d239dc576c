package dev.shoal.cluster;

import dev.shoal.internal.v1.NodeHeartbeat;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a node's heartbeat to {@code shoal.cluster.heartbeats} (key = node id, its one
 * partition) every {@link ClusterTimings#heartbeatMillis()}: the one writer of the heartbeat
 * protocol. What the heartbeat says comes from the node at each tick. A failed send is logged and
 * the next tick tries again; receivers treat a node silent past the freshness window as unknown.
 * Lifecycle: {@link #start()}, then {@link #close()}. Thread-safe.
 */
public final class HeartbeatPublisher implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(HeartbeatPublisher.class);
  private final Producer<String, byte[]> producer;
  private final ClusterTimings timings;
  private final Supplier<NodeHeartbeat> heartbeat;
  private final ScheduledExecutorService ticks;

  public HeartbeatPublisher(String bootstrap, ClusterTimings timings, Supplier<NodeHeartbeat> heartbeat) {
    this(new KafkaProducer<>(KafkaSettings.producer(bootstrap)), timings, heartbeat);
  }

  /** With a given producer (Kafka's MockProducer in unit tests). */
  public HeartbeatPublisher(Producer<String, byte[]> producer, ClusterTimings timings,
                            Supplier<NodeHeartbeat> heartbeat) {
    this.producer = producer;
    this.timings = timings;
    this.heartbeat = heartbeat;
    this.ticks = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "heartbeat");
      t.setDaemon(true);
      return t;
    });
  }

  public HeartbeatPublisher start() {
    ticks.scheduleWithFixedDelay(this::beat, 0, timings.heartbeatMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  /** Sends one heartbeat now. */
  public void beat() {
    try {
      NodeHeartbeat hb = heartbeat.get();
      producer.send(new ProducerRecord<>(Topics.HEARTBEATS, 0, hb.getNodeId(), hb.toByteArray()));
    } catch (RuntimeException e) {
      LOG.warn("heartbeat failed: {}", e.toString());
    }
  }

  @Override
  public void close() {
    ticks.shutdownNow();
    try {
      ticks.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    producer.close(Duration.ofSeconds(1));
  }
}
