package dev.shoal.cli;

import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.manager.ShardManager;
import dev.shoal.manager.ShardManagerConfig;
import dev.shoal.server.HealthEndpoint;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code shoal manager}: one shard manager as its own process. Run two or more for high
 * availability: they elect a leader through Kafka; the others stand by. SIGTERM/Ctrl-C leaves
 * the election at once, so a standby takes over without waiting for the session timeout.
 */
@Command(name = "manager", mixinStandardHelpOptions = true, description = "Run a shard manager.")
final class ManagerCommand implements Callable<Integer> {

  @Option(names = "--kafka", required = true, description = "Kafka bootstrap servers")
  String bootstrap;

  @Option(names = "--manager-id", required = true, description = "a name for logs and assignments")
  String managerId;

  @Option(names = "--shards", defaultValue = "4", description = "shards = partitions (default: ${DEFAULT-VALUE})")
  int shards;

  @Option(names = "--replicas", defaultValue = "2", description = "replicas per shard (default: ${DEFAULT-VALUE})")
  int replicas;

  @Option(names = "--failure-timeout-ms", defaultValue = "5000",
      description = "a node silent this long loses its shards (default: ${DEFAULT-VALUE})")
  long failureTimeoutMs;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "address the health and metrics ports bind "
      + "(0.0.0.0 in a container; default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--replication-factor", defaultValue = "1", description = "Kafka replicas of each topic it "
      + "creates when missing (existing topics are left as they are; default: ${DEFAULT-VALUE})")
  short replicationFactor;

  @Option(names = "--health-port", defaultValue = "0", description = "port of gRPC health, SERVING while the "
      + "manager runs (0 = any free port)")
  int healthPort;

  @Override
  public Integer call() throws Exception {
    ClusterTopics.ensure(bootstrap, shards, replicationFactor);
    ShardManager manager = new ShardManager(ShardManagerConfig.defaults(bootstrap, managerId, shards)
        .withReplicas(replicas).withFailureTimeoutMillis(failureTimeoutMs));
    manager.start();
    HealthEndpoint health = HealthEndpoint.start(host, healthPort, manager::isReady);
    return UntilStopped.serve("shard manager " + managerId + " started (" + shards + " shards, " + replicas
        + " replicas), health on " + health.address(), List.of(manager, health), List.of(manager));
  }
}
