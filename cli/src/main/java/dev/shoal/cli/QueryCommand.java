package dev.shoal.cli;

import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.ingest.IngestGrpcService;
import dev.shoal.query.AdmissionLimits;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.query.WarmupSettings;
import dev.shoal.server.HealthEndpoint;
import dev.shoal.server.Metrics;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code shoal query}: a query service (SearchService and IngestService over gRPC, HTTP/JSON,
 * /metrics) as its own process. Stateless: run as many as the load needs.
 */
@Command(name = "query", mixinStandardHelpOptions = true, description = "Run a query service.")
final class QueryCommand implements Callable<Integer> {

  @Option(names = "--kafka", required = true, description = "Kafka bootstrap servers")
  String bootstrap;

  @Option(names = "--ranker", required = true, description = "Ranker address host:port")
  String ranker;

  @Option(names = "--host", defaultValue = "127.0.0.1")
  String host;

  @Option(names = "--grpc-port", defaultValue = "0", description = "gRPC port (0 = any free port)")
  int grpcPort;

  @Option(names = "--http-port", defaultValue = "0", description = "HTTP/JSON port (0 = any free port)")
  int httpPort;

  @Option(names = "--api-keys", description = "require API keys (authorization: Bearer <key>) on every call but "
      + "health, from this key file (re-read when it changes; `shoal keys add` writes it); default: open")
  java.nio.file.Path apiKeys;

  @Mixin
  TlsOptions tls;

  @Option(names = "--health-port", defaultValue = "-1", description = "also serve gRPC health in plaintext on this "
      + "port, for probes that cannot speak TLS (Kubernetes'); SERVING once the routing table and the heartbeats "
      + "are read and the warm-up has run (-1: none, 0: any free port)")
  int healthPort;

  @Option(names = "--rate-per-key", defaultValue = "200", description = "searches and gets per second one API key "
      + "may send, sustained; 0 = no limit (default: ${DEFAULT-VALUE})")
  double ratePerKey;

  @Option(names = "--burst-per-key", defaultValue = "400", description = "requests one key may send at once above "
      + "its rate (default: ${DEFAULT-VALUE})")
  int burstPerKey;

  @Option(names = "--max-expensive", description = "expensive searches (offset + k or rerank depth over 100, more "
      + "than 8 filters) running at once; more get RESOURCE_EXHAUSTED / 429 (default: half the cores)")
  Integer maxExpensive;

  @Option(names = "--log-query-text", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "let logs hold the text of a failed query; --no-log-query-text where queries are personal data "
          + "(default: ${DEFAULT-VALUE})")
  boolean logQueryText;

  @Option(names = "--warmup-searches", defaultValue = "400", description = "searches the service runs through "
      + "the shards and the ranker before it reports SERVING, so its first users do not meet a cold JIT and cold "
      + "connections; 4 at a time, at most --warmup-seconds (0: none; default: ${DEFAULT-VALUE})")
  int warmupSearches;

  @Option(names = "--warmup-seconds", defaultValue = "30", description = "the longest the warm-up may hold SERVING "
      + "back (default: ${DEFAULT-VALUE})")
  int warmupSeconds;

  @Option(names = "--slow-query-ms", defaultValue = "1000", description = "log every search that takes at least "
      + "this long, with its shape, stage timings and trace id (0: off; default: ${DEFAULT-VALUE})")
  long slowQueryMillis;

  @Override
  public Integer call() throws Exception {
    IngestGrpcService ingest = new IngestGrpcService(bootstrap);
    QueryServiceConfig config = QueryServiceConfig.defaults(bootstrap, ranker).withAddress(host, grpcPort, httpPort)
        .withTls(tls.files());
    AdmissionLimits admission = AdmissionLimits.defaults().withRatePerKey(ratePerKey, burstPerKey);
    if (maxExpensive != null) {
      admission = admission.withMaxExpensiveInFlight(maxExpensive);
    }
    config = config.withAdmission(admission).withQueryTextInLogs(logQueryText)
        .withSlowQueryMillis(slowQueryMillis)
        .withWarmup(new WarmupSettings(warmupSearches, WarmupSettings.defaults().clients(), warmupSeconds * 1000L));
    QueryService query = new QueryService(apiKeys == null ? config : config.withApiKeyFile(apiKeys), new Metrics(),
        List.of(ingest)).start();
    List<AutoCloseable> parts = new java.util.ArrayList<>(List.of(ingest, query));
    String probe = "";
    if (healthPort >= 0) {
      HealthEndpoint health = HealthEndpoint.start(host, healthPort, query::ready);
      parts.add(health);
      probe = ", plaintext health on " + health.address();
    }
    return UntilStopped.serve("query service gRPC " + host + ":" + query.grpcPort() + " HTTP "
        + (tls.files() == null ? "http" : "https") + "://" + host + ":" + query.httpPort() + probe, parts,
        query.loops());
  }
}
