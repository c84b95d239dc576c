package dev.shoal.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.api.json.Topics;
import dev.shoal.api.server.ServiceLoop;
import dev.shoal.api.v1.ShardAssignment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the routing table on {@code shoal.cluster.assignments} and hands every newer epoch
 * to its listeners. An assignment whose epoch is not above the newest seen is ignored: that is
 * how a deposed shard manager is fenced.
 *
 * <p>Listeners run on the watcher's thread and must return quickly. {@link #current()} is
 * safe from any thread.
 */
public final class AssignmentWatcher extends ServiceLoop {

  private static final Logger LOG = LoggerFactory.getLogger(AssignmentWatcher.class);
  private final String bootstrap;
  private final AtomicReference<ShardAssignment> current = new AtomicReference<>();
  private final List<Consumer<ShardAssignment>> listeners = new CopyOnWriteArrayList<>();
  private KafkaConsumer<String, byte[]> consumer;

  public AssignmentWatcher(String bootstrap) {
    super("assignment-watcher");
    this.bootstrap = bootstrap;
  }

  public AssignmentWatcher onAssignment(Consumer<ShardAssignment> listener) {
    listeners.add(listener);
    ShardAssignment a = current.get();
    if (a != null) {
      listener.accept(a);
    }
    return this;
  }

  /** The newest routing table seen, or null before the first. */
  public ShardAssignment current() {
    return current.get();
  }

  @Override
  protected void onStart() {
    consumer = new KafkaConsumer<>(KafkaSettings.consumer(bootstrap, null));
    TopicPartition tp = new TopicPartition(Topics.ASSIGNMENTS, 0);
    consumer.assign(List.of(tp));
    consumer.seekToBeginning(List.of(tp));
  }

  @Override
  protected void runOnce() {
    try {
      for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
        try {
          offer(ShardAssignment.parseFrom(r.value()));
        } catch (InvalidProtocolBufferException e) {
          LOG.warn("ignoring unreadable assignment at offset {}: {}", r.offset(), e.getMessage());
        }
      }
    } catch (WakeupException e) {
      // closing
    }
  }

  /** Applies an assignment if it is newer than any seen; returns whether it was. */
  public boolean offer(ShardAssignment a) {
    ShardAssignment prev;
    do {
      prev = current.get();
      if (prev != null && a.getEpoch() <= prev.getEpoch()) {
        if (a.getEpoch() < prev.getEpoch()) {
          LOG.info("ignoring assignment epoch {} from {}: epoch {} already applied", a.getEpoch(),
              a.getManagerId(), prev.getEpoch());
        }
        return false;
      }
    } while (!current.compareAndSet(prev, a));
    for (Consumer<ShardAssignment> l : listeners) {
      l.accept(a);
    }
    return true;
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
      consumer.close(Duration.ofSeconds(1));
    }
  }
}
