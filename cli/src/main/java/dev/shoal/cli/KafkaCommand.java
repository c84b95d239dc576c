package dev.shoal.cli;

import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.server.HealthEndpoint;
import dev.shoal.testkit.EmbeddedKafka;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code shoal kafka}: a single KRaft broker (Kafka's own server classes) as its own process,
 * with Shoal's topics created. For local clusters; production runs a real Kafka cluster.
 */
@Command(name = "kafka", mixinStandardHelpOptions = true, description = "Run a local single-broker Kafka.")
final class KafkaCommand implements Callable<Integer> {

  @Option(names = "--data-dir", required = true, description = "the broker's logs and metadata")
  Path dataDir;

  @Option(names = "--shards", defaultValue = "4", description = "partitions of the document topics (default: ${DEFAULT-VALUE})")
  int shards;

  @Option(names = "--port", defaultValue = "0", description = "the broker's port on a first start (0 = any free "
      + "port); later starts keep the first one, which the broker's metadata holds")
  int port;

  @Option(names = "--health-port", defaultValue = "0", description = "port of gRPC health, SERVING once the "
      + "broker and Shoal's topics are up (0 = any free port)")
  int healthPort;

  @Override
  public Integer call() throws Exception {
    EmbeddedKafka kafka = new EmbeddedKafka(dataDir, port).start();
    ClusterTopics.ensure(kafka.bootstrap(), shards, (short) 1);
    HealthEndpoint health = HealthEndpoint.start("127.0.0.1", healthPort, () -> true);
    return UntilStopped.serve("kafka bootstrap " + kafka.bootstrap() + ", health on " + health.address(),
        List.of(kafka, health));
  }
}
