package dev.shoal.cluster;

import dev.shoal.cluster.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;

/**
 * Creates Shoal's topics if they are missing. The source and enriched topics get the same
 * partition count, so a document keyed by id lands in partition = shard on both.
 */
public final class ClusterTopics {

  private ClusterTopics() {
  }

  /**
   * Every topic Shoal uses, as it is created: the document topics with one partition per shard,
   * the enriched topic (the system of record) and the routing table compacted, heartbeats kept an
   * hour. Deployments that declare topics themselves (Strimzi's KafkaTopic) declare these.
   */
  public static List<NewTopic> topics(int partitions, short replication) {
    return List.of(
        new NewTopic(Topics.DOCS, partitions, replication),
        new NewTopic(Topics.ENRICHED, partitions, replication)
            .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(16 << 20))),
        new NewTopic(Topics.DLQ, partitions, replication),
        new NewTopic(Topics.HEARTBEATS, 1, replication)
            .configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, "3600000")),
        new NewTopic(Topics.ASSIGNMENTS, 1, replication)
            .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)),
        new NewTopic(Topics.MANAGER_ELECTION, 1, replication));
  }

  /** Creates what {@link #topics} lists and is missing; refuses existing document topics with another partition count. */
  public static void ensure(String bootstrap, int partitions, short replication) {
    Properties p = KafkaSettings.common(bootstrap);
    try (Admin admin = Admin.create(p)) {
      Set<String> existing = admin.listTopics().names().get();
      List<NewTopic> missing = new ArrayList<>();
      for (NewTopic t : topics(partitions, replication)) {
        add(missing, existing, t);
      }
      if (!missing.isEmpty()) {
        admin.createTopics(missing).all().get();
      }
      int actual = partitionCount(admin, partitions);
      if (actual != partitions) {
        throw new IllegalStateException("topics exist with " + actual + " partitions, but " + partitions
            + " shards were asked for; shard count is fixed when the topics are created");
      }
    } catch (ExecutionException e) {
      throw new IllegalStateException("cannot create Shoal's topics on " + bootstrap + ": " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** How long a topic just created may stay unknown to the broker's metadata before that is an error. */
  private static final long VISIBLE_WITHIN_MILLIS = 10_000;

  /**
   * The fewest partitions of the document topics. A topic created a moment ago can still be
   * unknown to the broker that answers (its metadata cache lags the controller: seen in CI on a
   * fresh broker), so that answer is retried for a short while.
   */
  private static int partitionCount(Admin admin, int partitions) throws ExecutionException, InterruptedException {
    long until = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(VISIBLE_WITHIN_MILLIS);
    while (true) {
      try {
        return admin.describeTopics(List.of(Topics.DOCS, Topics.ENRICHED)).allTopicNames().get()
            .values().stream().mapToInt(d -> d.partitions().size()).min().orElse(partitions);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)
            || System.nanoTime() > until) {
          throw e;
        }
        Thread.sleep(50);
      }
    }
  }

  private static void add(List<NewTopic> missing, Set<String> existing, NewTopic t) {
    if (!existing.contains(t.name())) {
      missing.add(t);
    }
  }
}
