package dev.shoal.manager.internal;

import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.manager.Election;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leader election among shard managers on Kafka's group membership: every manager subscribes
 * to the one partition of {@link Topics#MANAGER_ELECTION} in one consumer group; the group
 * coordinator gives it to exactly one member, which leads. A leader that dies or stops
 * heartbeating is removed after the session timeout and the partition goes to a standby.
 *
 * <p>Each leadership term has the group generation it was granted in, which grows with every
 * rebalance: the manager puts it in the high bits of its assignment epochs, so any assignment
 * of a deposed leader is older than every assignment of its successor.
 *
 * <p>Not thread-safe: {@link #poll} from the manager's loop thread only ({@link #wakeup} from
 * any thread).
 */
public final class ManagerElection implements Election {

  private static final Logger LOG = LoggerFactory.getLogger(ManagerElection.class);
  private static final TopicPartition PARTITION = new TopicPartition(Topics.MANAGER_ELECTION, 0);

  private final String managerId;
  private final KafkaConsumer<String, byte[]> consumer;
  private boolean leading;
  private int generation = -1;

  /** @param sessionTimeoutMs how long a silent leader keeps leading (the broker allows 6 s and up) */
  public ManagerElection(String bootstrap, String managerId, int sessionTimeoutMs) {
    this.managerId = managerId;
    Properties p = KafkaSettings.consumer(bootstrap, "shoal-shard-managers");
    p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, Integer.toString(sessionTimeoutMs));
    // a standby learns of the rebalance at its next heartbeat: every half second, not every second
    p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Integer.toString(Math.max(250, sessionTimeoutMs / 12)));
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "shard-manager-" + managerId);
    this.consumer = new KafkaConsumer<>(p);
    consumer.subscribe(List.of(Topics.MANAGER_ELECTION), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        if (partitions.contains(PARTITION)) {
          stepDown("revoked");
        }
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> partitions) {
        if (partitions.contains(PARTITION)) {
          stepDown("lost (session expired)");
        }
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        if (partitions.contains(PARTITION)) {
          leading = true;
          generation = consumer.groupMetadata().generationId();
          LOG.info("shard manager {} leads (group generation {})", managerId, generation);
        }
      }
    });
  }

  private void stepDown(String why) {
    if (leading) {
      LOG.info("shard manager {} no longer leads: partition {}", managerId, why);
    }
    leading = false;
  }

  /** Keeps the membership alive and applies rebalances; returns whether this manager leads now. */
  @Override
  public boolean poll(Duration timeout) {
    try {
      consumer.poll(timeout); // the topic is never written; this is the group heartbeat and rebalance
    } catch (WakeupException e) {
      // closing
    }
    return leading;
  }

  public boolean leading() {
    return leading;
  }

  /** The group generation of the current term (meaningful while {@link #leading()}). */
  @Override
  public int generation() {
    return generation;
  }

  @Override
  public void wakeup() {
    consumer.wakeup();
  }

  /** Leaves the group at once, so a standby takes over without waiting for the session timeout. */
  @Override
  public void close() {
    leading = false;
    consumer.close(Duration.ofSeconds(2));
  }
}
