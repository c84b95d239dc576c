package dev.shoal.cli;

import dev.shoal.cli.internal.UntilStopped;
import dev.shoal.indexnode.IndexNode;
import dev.shoal.indexnode.IndexNodeConfig;
import dev.shoal.server.HealthEndpoint;
import dev.shoal.server.Metrics;
import dev.shoal.server.MetricsHttpServer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code shoal node}: one index node as its own process, against a Kafka address. It hosts
 * whatever shards the routing table gives it; SIGTERM/Ctrl-C commits every shard and stops.
 */
@Command(name = "node", mixinStandardHelpOptions = true, description = "Run an index node.")
final class NodeCommand implements Callable<Integer> {

  @Option(names = "--kafka", required = true, description = "Kafka bootstrap servers")
  String bootstrap;

  @Option(names = "--node-id", required = true, description = "stable node name")
  String nodeId;

  @Option(names = "--data-dir", required = true, description = "where its shards live")
  Path dataDir;

  @Option(names = "--host", defaultValue = "127.0.0.1")
  String host;

  @Option(names = "--port", defaultValue = "0", description = "ShardSearch port (0 = any free port)")
  int port;

  @Option(names = "--metrics-port", defaultValue = "0", description = "port of GET /metrics (0 = any free port)")
  int metricsPort;

  @Option(names = "--commit-docs", defaultValue = "10000", description = "durable commit after this many documents")
  long commitDocs;

  @Mixin
  TlsOptions tls;

  @Option(names = "--advertise-host", description = "the host other services reach this node by, in its heartbeats "
      + "(a pod's DNS name in Kubernetes); default: --host")
  String advertiseHost;

  @Option(names = "--zone", defaultValue = "", description = "the node's zone (or rack): replicas of a shard are "
      + "spread over zones (default: none)")
  String zone;

  @Option(names = "--health-port", defaultValue = "-1", description = "also serve gRPC health in plaintext on this "
      + "port, for probes that cannot speak TLS (Kubernetes'); SERVING when every hosted shard is LIVE (-1: none, "
      + "0: any free port)")
  int healthPort;

  @Option(names = "--commit-ms", defaultValue = "30000", description = "durable commit at least this often")
  long commitMs;

  @Option(names = "--compact-after-ms", defaultValue = "5000", description = "a shard with no write for this long "
      + "merges its small segments into one (0: never; default: ${DEFAULT-VALUE})")
  long compactAfterMs;

  @Override
  public Integer call() throws Exception {
    IndexNodeConfig config = IndexNodeConfig.defaults(nodeId, dataDir, bootstrap).withHost(host).withPort(port)
        .withCommits(commitMs, commitDocs).withCompaction(compactAfterMs).withTls(tls.files())
        .withAdvertisement(advertiseHost == null ? host : advertiseHost, zone);
    Metrics metrics = new Metrics();
    IndexNode node = new IndexNode(config, metrics).start();
    MetricsHttpServer metricsServer = new MetricsHttpServer(host, metricsPort, metrics);
    System.out.println("node " + nodeId + " metrics on http://" + host + ":" + metricsServer.port() + "/metrics");
    List<AutoCloseable> parts = new java.util.ArrayList<>(List.of(metricsServer, node));
    String probe = "";
    if (healthPort >= 0) {
      HealthEndpoint health = HealthEndpoint.start(host, healthPort, node::allShardsLive);
      parts.add(health);
      probe = ", plaintext health on " + health.address();
    }
    return UntilStopped.serve("node " + nodeId + " serving ShardSearch on " + node.address() + probe, parts,
        node.loops());
  }
}
