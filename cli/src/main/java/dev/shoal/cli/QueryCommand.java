package dev.shoal.cli;

import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.ingest.IngestGrpcService;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
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

  @Override
  public Integer call() throws Exception {
    IngestGrpcService ingest = new IngestGrpcService(bootstrap);
    QueryServiceConfig config = QueryServiceConfig.defaults(bootstrap, ranker).withAddress(host, grpcPort, httpPort)
        .withTls(tls.files());
    QueryService query = new QueryService(apiKeys == null ? config : config.withApiKeyFile(apiKeys), new Metrics(),
        List.of(ingest)).start();
    return UntilStopped.serve("query service gRPC " + host + ":" + query.grpcPort() + " HTTP " + (tls.files() == null ? "http" : "https") + "://" + host + ":"
        + query.httpPort(), List.of(ingest, query), query.loops());
  }
}
