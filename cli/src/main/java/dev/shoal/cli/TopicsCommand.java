package dev.shoal.cli;

import dev.shoal.cluster.ClusterTopics;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code shoal topics}: creates Shoal's topics on a Kafka cluster. The partition count of
 * {@code shoal.docs} and {@code shoal.docs.enriched} is the shard count, fixed from then on.
 */
@Command(name = "topics", mixinStandardHelpOptions = true, description = "Create Shoal's Kafka topics.")
final class TopicsCommand implements Callable<Integer> {

  @Option(names = "--kafka", required = true, description = "Kafka bootstrap servers")
  String bootstrap;

  @Option(names = "--partitions", defaultValue = "16", description = "shards (default: ${DEFAULT-VALUE})")
  int partitions;

  @Option(names = "--replication-factor", defaultValue = "3", description = "Kafka replicas per partition "
      + "(default: ${DEFAULT-VALUE}; 1 for a single broker)")
  short replication;

  @Override
  public Integer call() {
    ClusterTopics.ensure(bootstrap, partitions, replication);
    System.out.printf("topics ready on %s: %d partitions, replication factor %d%n", bootstrap, partitions, replication);
    return 0;
  }
}
