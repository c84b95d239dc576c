package dev.shoal.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.ShardAssignment;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
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
public final class AssignmentWatcher extends TopicFollower {

  private static final Logger LOG = LoggerFactory.getLogger(AssignmentWatcher.class);
  private final AtomicReference<ShardAssignment> current = new AtomicReference<>();
  private final List<Consumer<ShardAssignment>> listeners = new CopyOnWriteArrayList<>();

  public AssignmentWatcher(String bootstrap) {
    super("assignment-watcher", bootstrap, Topics.ASSIGNMENTS, true);
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
  protected void handle(ConsumerRecord<String, byte[]> r) {
    try {
      offer(ShardAssignment.parseFrom(r.value()));
    } catch (InvalidProtocolBufferException e) {
      LOG.warn("ignoring unreadable assignment at offset {}: {}", r.offset(), e.getMessage());
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

}
