package dev.shoal.cli;

import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.Encoders;
import dev.shoal.enricher.Enricher;
import dev.shoal.enricher.EnricherConfig;
import dev.shoal.server.HealthEndpoint;
import dev.shoal.server.Metrics;
import dev.shoal.server.MetricsHttpServer;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code shoal enricher}: validates and embeds shoal.docs into shoal.docs.enriched, as its own
 * process with its own encoder (passage batches never queue in front of queries). Several may
 * run with distinct {@code --id}s; Kafka splits the partitions between them.
 */
@Command(name = "enricher", mixinStandardHelpOptions = true, description = "Run an enricher.")
final class EnricherCommand implements Callable<Integer> {

  @Mixin
  ModelOptions model;

  @Option(names = "--kafka", required = true, description = "Kafka bootstrap servers")
  String bootstrap;

  @Option(names = "--id", defaultValue = "shoal-enricher-1", description = "transactional id; unique per enricher")
  String id;

  @Option(names = "--threads", defaultValue = "2", description = "encoder threads (default: ${DEFAULT-VALUE})")
  int threads;

  @Option(names = "--metrics-port", defaultValue = "0", description = "port of GET /metrics (0 = any free port)")
  int metricsPort;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "address the health and metrics ports bind "
      + "(0.0.0.0 in a container; default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--health-port", defaultValue = "0", description = "port of gRPC health, SERVING while the "
      + "enricher runs (0 = any free port)")
  int healthPort;

  @Override
  public Integer call() throws Exception {
    Metrics metrics = new Metrics();
    Encoder encoder = Encoders.create(model.spec(), "auto", threads, 16);
    Enricher enricher = new Enricher(EnricherConfig.defaults(bootstrap, id)
        .withMaxWindows(model.maxWindows), encoder, metrics);
    enricher.start();
    MetricsHttpServer metricsServer = new MetricsHttpServer(host, metricsPort, metrics);
    HealthEndpoint health = HealthEndpoint.start(host, healthPort, enricher::isReady);
    return UntilStopped.serve("enricher " + id + " running (" + encoder.backend() + "), metrics on http://" + host + ":"
        + metricsServer.port() + "/metrics, health on " + health.address(),
        List.of(encoder, enricher, metricsServer, health), List.of(enricher));
  }
}
