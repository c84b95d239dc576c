package dev.shoal.cli;

import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.cluster.ClusterTopics;
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

  @Override
  public Integer call() throws Exception {
    EmbeddedKafka kafka = new EmbeddedKafka(dataDir).start();
    ClusterTopics.ensure(kafka.bootstrap(), shards, (short) 1);
    return UntilStopped.serve("kafka bootstrap " + kafka.bootstrap(), List.of(kafka));
  }
}
