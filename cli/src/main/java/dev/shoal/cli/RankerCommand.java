package dev.shoal.cli;

import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.encoder.BatchingCrossEncoder;
import dev.shoal.encoder.BatchingEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.Encoders;
import dev.shoal.ranker.RankerServer;
import dev.shoal.server.HealthEndpoint;
import dev.shoal.server.Metrics;
import dev.shoal.server.MetricsHttpServer;
import dev.shoal.server.tls.Tls;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code shoal ranker}: the Ranker gRPC service (Embed, Score) over one encoder, and a
 * cross-encoder when given one, as its own process.
 */
@Command(name = "ranker", mixinStandardHelpOptions = true, description = "Run the ranker service.")
final class RankerCommand implements Callable<Integer> {

  @Mixin
  ModelOptions model;

  @Option(names = "--host", defaultValue = "127.0.0.1")
  String host;

  @Option(names = "--port", defaultValue = "0", description = "Ranker gRPC port (0 = any free port)")
  int port;

  @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu, cuda: the encoder's and the "
      + "cross-encoder's (default: ${DEFAULT-VALUE})")
  String backend;

  @Option(names = "--threads", defaultValue = "2", description = "encoder threads (default: ${DEFAULT-VALUE})")
  int threads;

  @Mixin
  CrossEncoderOptions crossEncoderOptions;

  @Mixin
  TlsOptions tls;

  @Option(names = "--health-port", defaultValue = "-1", description = "also serve gRPC health in plaintext on this "
      + "port, for probes that cannot speak TLS (Kubernetes'); SERVING once the model is loaded (-1: none, "
      + "0: any free port)")
  int healthPort;

  @Option(names = "--metrics-port", defaultValue = "-1", description = "port of GET /metrics: gRPC server and JVM "
      + "metrics (-1: none, 0: any free port; default: ${DEFAULT-VALUE})")
  int metricsPort;

  @Override
  public Integer call() throws Exception {
    Encoder encoder = Encoders.create(model.spec(), backend, threads, 16);
    BatchingEncoder batcher = new BatchingEncoder(encoder, 64, 0);
    CrossEncoderSpec crossSpec = crossEncoderOptions.spec();
    BatchingCrossEncoder crossEncoder = crossSpec == null ? null
        : new BatchingCrossEncoder(Encoders.createCrossEncoder(crossSpec, backend, threads, 32), 64, 0);
    Tls serverTls = Tls.of(tls.files());
    Metrics metrics = new Metrics();
    RankerServer server = new RankerServer(host, port, batcher, crossEncoder,
        dev.shoal.ranker.RankerService.QUERY_CACHE_SIZE, serverTls, metrics);
    server.start();
    List<AutoCloseable> parts = new java.util.ArrayList<>(List.of(encoder, batcher, server, serverTls));
    if (crossEncoder != null) {
      parts.add(1, crossEncoder);
    }
    String probe = "";
    if (metricsPort >= 0) {
      MetricsHttpServer metricsServer = new MetricsHttpServer(host, metricsPort, metrics);
      parts.addFirst(metricsServer);
      probe += ", metrics on http://" + host + ":" + metricsServer.port() + "/metrics";
    }
    if (healthPort >= 0) {
      HealthEndpoint health = HealthEndpoint.start(host, healthPort, () -> true);
      parts.add(health);
      probe += ", plaintext health on " + health.address();
    }
    String second = crossEncoder == null ? "" : ", cross-encoder " + crossSpec.name() + " on "
        + crossEncoder.backend();
    return UntilStopped.serve("ranker " + model.spec().name() + " on " + encoder.backend() + second + " serving on "
        + server.address() + probe, parts);
  }
}
