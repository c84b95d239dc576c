package dev.shoal.cli;

import dev.shoal.testkit.DemoLoader;
import dev.shoal.testkit.LocalCluster;
import dev.shoal.bench.SearchLoad;
import dev.shoal.testkit.ShoalJvm;
import dev.shoal.eval.BeirDataset;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.encoder.ModelSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code shoal bench search}: the end-to-end load benchmark. This process runs the cluster
 * (embedded Kafka, ranker, one index node with the shards, query service) on a demo data
 * directory, with the result cache and the query-embedding cache off so every query takes the
 * full path. The load comes from a second JVM ({@link Client}), which also runs the baselines
 * on the same shards' last commits: raw Lucene for {@code bm25}, and for {@code neural} the
 * same work without the distributed system (ONNX Runtime query embedding + Lucene BM25 + kNN +
 * RRF in one process).
 */
@Command(name = "search", mixinStandardHelpOptions = true,
    description = "End-to-end search load (client in its own JVM) next to raw Lucene on the same shards.")
final class SearchBenchCommand implements Callable<Integer> {

  @Option(names = "--data-dir", defaultValue = ".shoal-data/demo",
      description = "a demo data directory (indexed by bin/shoal demo; loaded here if it is not)")
  Path dataDir;

  @Option(names = "--dataset", defaultValue = "testdata/scifact", description = "the data and its queries")
  Path dataset;

  @Option(names = "--clients", defaultValue = "1,4,16", split = ",", description = "concurrent clients per cell")
  List<Integer> clients;

  @Option(names = "--profiles", defaultValue = "bm25,neural", split = ",")
  List<String> profiles;

  @Option(names = "--seconds", defaultValue = "15", description = "measuring time per cell (default: 15)")
  int seconds;

  @Option(names = "--warmup", defaultValue = "5", description = "warm-up time per cell, not measured (default: 5)")
  int warmup;

  @Option(names = {"-k", "--top-k"}, defaultValue = "10")
  int topK;

  @Option(names = "--server-warmup", defaultValue = "20", description = "before the cells, seconds of load per "
      + "profile and path, so every JIT is warm (default: ${DEFAULT-VALUE})")
  int serverWarmup;

  @Option(names = {"-o", "--output"}, defaultValue = "bench-search.md", description = "results file (Markdown; "
      + "raw numbers beside it as .tsv)")
  Path output;

  @Override
  public Integer call() throws Exception {
    BeirDataset data = new BeirDataset(dataset);
    LocalCluster.Options options = new LocalCluster.Options(dataDir, null, 4,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2).withoutCaches();
    try (LocalCluster cluster = new LocalCluster(options).start()) {
      long docs = DemoLoader.load(data, dataDir, cluster, System.out, System.nanoTime());
      List<String> shardDirs = new ArrayList<>();
      for (ShardStore s : cluster.indexNode().shards().values()) {
        s.commit(); // the baseline opens the last commit
        shardDirs.add(dataDir.resolve("node-1").resolve("shard-" + s.shard()).resolve("lucene").toString());
      }
      System.out.printf("%d documents in %d shards; query service on 127.0.0.1:%d%n", docs, shardDirs.size(),
          cluster.grpcPort());
      List<String> cmd = ShoalJvm.shoal("-Xmx2g", Path.of(System.getProperty("java.io.tmpdir")), null, new ArrayList<>(
          List.of("bench", "search-client",
          "--target", "127.0.0.1:" + cluster.grpcPort(), "--dataset", dataset.toString(),
          "--seconds", Integer.toString(seconds), "--warmup", Integer.toString(warmup), "-k", Integer.toString(topK),
          "--server-warmup", Integer.toString(serverWarmup),
          "--clients", join(clients), "--profiles", String.join(",", profiles), "-o", output.toString())));
      for (String d : shardDirs) {
        cmd.add("--shard-dir");
        cmd.add(d);
      }
      Process client = new ProcessBuilder(cmd).inheritIO().start();
      if (!client.waitFor(2, TimeUnit.HOURS)) {
        client.destroyForcibly();
        throw new IllegalStateException("the load client did not finish");
      }
      return client.exitValue();
    }
  }

  private static String join(List<Integer> xs) {
    return String.join(",", xs.stream().map(String::valueOf).toList());
  }

  /** The load client, in its own JVM: the service cells, then the in-process baselines. */
  @Command(name = "search-client", hidden = true, description = "The search benchmark's load client.")
  static final class Client implements Callable<Integer> {
    @Option(names = "--target", required = true)
    String target;

    @Option(names = "--dataset", required = true)
    Path dataset;

    @Option(names = "--shard-dir", required = true, description = "a shard's Lucene directory (repeat)")
    List<Path> shardDirs;

    @Option(names = "--clients", split = ",", required = true)
    List<Integer> clients;

    @Option(names = "--profiles", split = ",", required = true)
    List<String> profiles;

    @Option(names = "--seconds", required = true)
    int seconds;

    @Option(names = "--warmup", required = true)
    int warmup;

    @Option(names = "-k", required = true)
    int topK;

    @Option(names = "-o", required = true)
    Path output;

    @Option(names = "--server-warmup", required = true)
    int serverWarmup;

    @Override
    public Integer call() throws Exception {
      List<String> queries = new BeirDataset(dataset).queries().stream().map(BeirDataset.Query::text).toList();
      List<SearchLoad.Cell> cells = new ArrayList<>();
      try (SearchLoad load = new SearchLoad(target, shardDirs, ModelSpec.BGE_SMALL_EN_V15, topK)) {
        // the server's JIT warms up on every path before any cell is measured
        for (String profile : profiles) {
          for (SearchLoad.Target path : SearchLoad.Target.values()) {
            load.run(path, profile, 4, queries, 0, serverWarmup);
          }
        }
        System.out.println("warmed up: " + serverWarmup + " s per profile and path at 4 clients");
        for (String profile : profiles) {
          for (int n : clients) {
            for (SearchLoad.Target path : SearchLoad.Target.values()) {
              SearchLoad.Cell c = load.run(path, profile, n, queries, warmup, seconds);
              System.out.println(c.line());
              cells.add(c);
            }
          }
        }
      }
      write(cells, queries.size());
      return 0;
    }

    private void write(List<SearchLoad.Cell> cells, int queryCount) throws IOException {
      StringBuilder md = new StringBuilder();
      md.append("# Search load benchmark\n\n");
      md.append(String.format("SciFact (%s), %d queries cycled, top %d, %d s per cell after %d s warm-up (and %d s "
          + "per profile and path at 4 clients before the first cell), closed loop (each client sends its next query "
          + "when the last one answers); %d CPUs; client in its own JVM.%n%n", dataset, queryCount, topK, seconds,
          warmup, serverWarmup, Runtime.getRuntime().availableProcessors()));
      md.append("| profile | clients | path | QPS | p50 ms | p95 ms | p99 ms | errors | partial | p50 ratio |\n");
      md.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
      int perGroup = SearchLoad.Target.values().length;
      for (int i = 0; i < cells.size(); i += perGroup) {
        SearchLoad.Cell shoal = cells.get(i);
        SearchLoad.Cell base = cells.get(i + 1);
        md.append(shoal.row(shoal.p50() / base.p50()));
        for (int j = 1; j < perGroup; j++) {
          md.append(cells.get(i + j).row(1.0));
        }
      }
      md.append("\nWhere the time goes in the query service (median ms per stage, from the responses' timings):\n\n");
      md.append("| profile | clients | stages |\n|---|---:|---|\n");
      for (SearchLoad.Cell c : cells) {
        if (c.target() == SearchLoad.Target.SHOAL) {
          md.append("| ").append(c.profile()).append(" | ").append(c.clients()).append(" | ").append(c.stages())
              .append(" |\n");
        }
      }
      md.append("\n").append(SearchLoad.DESCRIPTION).append("\n");
      Files.writeString(output, md);
      StringBuilder tsv = new StringBuilder("profile\tclients\tpath\tqueries\tseconds\tqps\tp50_ms\tp95_ms\tp99_ms"
          + "\terrors\tpartial\n");
      cells.forEach(c -> tsv.append(c.tsv()).append('\n'));
      Files.writeString(Path.of(output.toString().replaceAll("\\.md$", "") + ".tsv"), tsv);
      PrintStream out = System.out;
      out.println();
      out.print(md);
      out.println("written to " + output);
    }
  }
}
