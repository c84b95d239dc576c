package dev.shoal.cli;

import dev.shoal.cli.internal.DemoSecrets;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.server.auth.Scope;
import dev.shoal.testkit.DemoLoader;
import dev.shoal.testkit.LocalCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code shoal demo}: an embedded broker and every service in one JVM, a BEIR dataset streamed
 * through Kafka, searchable when it prints "ready". State lives in the data directory; a
 * second run reuses it (the dataset is produced once, shards recover from their commits).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run Shoal on one machine with an embedded Kafka and index a BEIR dataset.")
final class DemoCommand implements Callable<Integer> {

  @Option(names = "--dataset", description = "BEIR folder to index (default: ${DEFAULT-VALUE})",
      defaultValue = "testdata/scifact")
  Path dataset;

  @Option(names = "--data-dir", description = "where Kafka and the shards keep state (default: ${DEFAULT-VALUE})",
      defaultValue = ".shoal-data/demo")
  Path dataDir;

  @Option(names = "--shards", description = "shards = partitions of the document topics (default: ${DEFAULT-VALUE})",
      defaultValue = "4")
  int shards;

  @Mixin
  ModelOptions modelOptions;

  @Mixin
  CrossEncoderOptions crossEncoderOptions;

  @Option(names = "--grpc-port", defaultValue = "50051", description = "SearchService gRPC port (default: ${DEFAULT-VALUE})")
  int grpcPort;

  @Option(names = "--http-port", defaultValue = "8080", description = "HTTP/JSON port (default: ${DEFAULT-VALUE})")
  int httpPort;

  @Option(names = "--ranker-port", defaultValue = "50052", description = "Ranker gRPC port (default: ${DEFAULT-VALUE})")
  int rankerPort;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to bind (default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--threads", defaultValue = "2", description = "encoder threads (default: ${DEFAULT-VALUE})")
  int threads;

  @Option(names = "--secure", description = "TLS on gRPC and HTTP (mutual between services) and API keys required, "
      + "from a CA, a certificate and one key per scope made under the data directory; without it the demo is open "
      + "and binds to the loopback only (default: off)", defaultValue = "false")
  boolean secure;

  @Option(names = "--exit-when-ready", description = "stop once ready instead of serving, for scripts and tests (default: off)",
      defaultValue = "false")
  boolean exitWhenReady;

  @Override
  public Integer call() throws Exception {
    long started = System.nanoTime();
    BeirDataset data = new BeirDataset(dataset);
    Files.createDirectories(dataDir);
    ModelSpec spec = modelOptions.spec();
    boolean loopback;
    try {
      loopback = java.net.InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      loopback = false;
    }
    if (!secure && !loopback) {
      System.err.println("shoal demo: --host " + host + " would open an unencrypted, keyless demo to the network; "
          + "add --secure (TLS and API keys) or bind to 127.0.0.1");
      return 2;
    }
    System.out.printf("shoal demo: dataset %s, model %s (%s), data in %s%n", data.dir(), spec.name(),
        modelOptions.maxWindows == 1 ? "passages truncated to " + modelOptions.maxTokens + " tokens"
            : "passages as up to " + modelOptions.maxWindows + " windows of " + modelOptions.maxTokens + " tokens",
        dataDir.toAbsolutePath());
    LocalCluster.Options options = new LocalCluster.Options(dataDir, null, shards, spec, host, grpcPort,
        httpPort, rankerPort, threads).withMaxWindows(modelOptions.maxWindows);
    if (crossEncoderOptions.spec() != null) {
      options = options.withCrossEncoder(crossEncoderOptions.spec());
      System.out.println("cross-encoder " + options.crossEncoder().name() + " served for the cross-encoder rescorer");
    }
    DemoSecrets secrets = null;
    if (secure) {
      secrets = DemoSecrets.under(dataDir.resolve("secure"), host);
      options = options.secured(secrets.tls(), secrets.apiKeyFile());
      System.out.println("CA certificate: " + secrets.ca().toAbsolutePath());
      for (Scope scope : Scope.values()) {
        System.out.println(scope.name().toLowerCase(Locale.ROOT) + " key: "
            + secrets.keyFiles().get(scope).toAbsolutePath());
      }
    }
    LocalCluster cluster = new LocalCluster(options);
    CountDownLatch stop = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      System.out.println("\nshutting down: committing shards, stopping services and Kafka...");
      cluster.close();
      stop.countDown();
    }, "shoal-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    cluster.start();
    String scheme = secure ? "https" : "http";
    System.out.printf("Kafka bootstrap   %s%nSearchService    gRPC %s:%d%nHTTP/JSON         %s://%s:%d/v1/search?q=...%n"
            + "Ranker            gRPC %s%n", cluster.bootstrap(), host, cluster.grpcPort(), scheme, host,
        cluster.httpPort(), cluster.rankerAddress());
    System.out.println(secure
        ? "Security          TLS on gRPC and HTTP (mutual TLS between services), API keys required; the embedded "
            + "Kafka is plaintext on " + cluster.bootstrap()
        : "Security          open: no TLS, no API keys (bound to " + host + ", reachable from this machine only; "
            + "--secure for TLS and keys)");

    DemoLoader.load(data, dataDir, cluster, System.out, started);
    double secs = (System.nanoTime() - started) / 1e9;
    String q = exampleQuery(data);
    if (secrets == null) {
      System.out.printf("ready: %d documents searchable after %.1f s. Try:%n  bin/shoal search \"%s\"%n"
          + "  curl 'http://%s:%d/v1/search?q=%s&k=5'%n  the search page: http://%s:%d/?q=%s&compare=bm25%n",
          cluster.searchableDocs(), secs, q, host, cluster.httpPort(), q.replace(' ', '+'), host, cluster.httpPort(),
          q.replace(' ', '+'));
    } else {
      Path ca = secrets.ca().toAbsolutePath();
      Path key = secrets.keyFiles().get(Scope.SEARCH).toAbsolutePath();
      System.out.printf("ready: %d documents searchable after %.1f s. Try:%n"
              + "  bin/shoal search --target %s:%d --tls-ca %s --key-file %s \"%s\"%n"
              + "  curl --cacert %s -H \"authorization: Bearer $(cat %s)\" 'https://%s:%d/v1/search?q=%s&k=5'%n"
              + "  the search page: https://%s:%d/ (trust the CA in the browser; it asks for the search key)%n",
          cluster.searchableDocs(), secs, host, cluster.grpcPort(), ca, key, q, ca, key, host, cluster.httpPort(),
          q.replace(' ', '+'), host, cluster.httpPort());
    }
    if (exitWhenReady) {
      Runtime.getRuntime().removeShutdownHook(hook);
      cluster.close();
      return 0;
    }
    stop.await();
    return 0;
  }

  private static String exampleQuery(BeirDataset data) {
    var qs = data.queries();
    return qs.isEmpty() ? "protein folding" : qs.getFirst().text().replace("\"", "");
  }
}
