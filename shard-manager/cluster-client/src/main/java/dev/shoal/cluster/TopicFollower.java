package dev.shoal.cluster;

import dev.shoal.server.ServiceLoop;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Follows one partition of a cluster-state topic without a consumer group, from its beginning
 * (a compacted table, e.g. assignments), its end, or a look-back (a stream whose recent past
 * matters, e.g. heartbeats: {@link #startAt}), and hands every record to {@link #handle}. Owns
 * its consumer: created, polled and closed on the loop thread.
 */
public abstract class TopicFollower extends ServiceLoop {

  private final String bootstrap;
  private final TopicPartition partition;
  private final boolean fromBeginning;
  private KafkaConsumer<String, byte[]> consumer;
  private volatile boolean caughtUp;
  private long endAtStart;

  protected TopicFollower(String name, String bootstrap, String topic, boolean fromBeginning) {
    super(name);
    this.bootstrap = bootstrap;
    this.partition = new TopicPartition(topic, 0);
    this.fromBeginning = fromBeginning;
  }

  /** Called on the loop thread for each record, in offset order. */
  protected abstract void handle(ConsumerRecord<String, byte[]> record);

  @Override
  protected void onStart() {
    consumer = new KafkaConsumer<>(KafkaSettings.consumer(bootstrap, null));
    consumer.assign(List.of(partition));
    endAtStart = consumer.endOffsets(List.of(partition)).get(partition);
    if (fromBeginning) {
      consumer.seekToBeginning(List.of(partition));
    } else {
      long since = startAt();
      OffsetAndTimestamp at = since == Long.MAX_VALUE ? null
          : consumer.offsetsForTimes(Map.of(partition, since)).get(partition);
      if (at == null) {
        consumer.seekToEnd(List.of(partition));
      } else {
        consumer.seek(partition, at.offset());
      }
    }
  }

  /**
   * For a follower that does not start at the beginning: the record timestamp (epoch millis) to
   * start reading at, or {@code Long.MAX_VALUE} (the default) for the end. Called once, on start.
   */
  protected long startAt() {
    return Long.MAX_VALUE;
  }

  /** Whether a record was already on the topic when this follower started (read while catching up). */
  protected final boolean replayed(ConsumerRecord<String, byte[]> record) {
    return record.offset() < endAtStart;
  }

  @Override
  protected void runOnce() {
    try {
      for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
        handle(r);
      }
      // against the end when this follower started, not the moving end: a stream written all the
      // time (heartbeats) may keep one record ahead of a busy reader for as long as it likes
      if (!caughtUp) {
        caughtUp = consumer.position(partition) >= endAtStart;
      }
    } catch (WakeupException e) {
      // closing
    }
  }

  /** Whether everything on the topic when this follower started has been handled. */
  public boolean caughtUp() {
    return caughtUp;
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
