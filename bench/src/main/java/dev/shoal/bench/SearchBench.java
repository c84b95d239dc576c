package dev.shoal.bench;

import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.testkit.DemoLoader;
import dev.shoal.testkit.LocalCluster;
import dev.shoal.testkit.ShoalJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The end-to-end load benchmark. This process runs the cluster (embedded Kafka, ranker, one index
 * node with the shards, query service) on a demo data directory, with the result cache and the
 * query-embedding cache off so every query takes the full path. The load comes from a second JVM
 * ({@link SearchBenchClient}), which also runs the baselines on the same shards' last commits: raw
 * Lucene for {@code bm25}, and for {@code neural} the same work without the distributed system
 * (ONNX Runtime query embedding + Lucene BM25 + kNN + RRF in one process).
 */
public final class SearchBench {

  /**
   * @param dataDir      a demo data directory (indexed by {@code bin/shoal demo}; loaded here if it is not)
   * @param dataset      the data and its queries
   * @param clients      concurrent clients per cell
   * @param seconds      measuring time per cell
   * @param warmup       warm-up time per cell, not measured
   * @param serverWarmup before the cells, seconds of load per profile and path, so every JIT is warm
   * @param output       results file (Markdown; raw numbers beside it as .tsv)
   * @param networkCalls the query service calls the node and the ranker over loopback TCP (as between machines)
   *                     instead of in-process
   */
  public record Options(Path dataDir, Path dataset, List<Integer> clients, List<String> profiles, int seconds,
                        int warmup, int topK, int serverWarmup, Path output, boolean networkCalls) {
  }

  private SearchBench() {
  }

  /** Runs the benchmark; returns the client's exit status. */
  public static int run(Options o) throws Exception {
    BeirDataset data = new BeirDataset(o.dataset());
    LocalCluster.Options options = new LocalCluster.Options(o.dataDir(), null, 4,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2).withoutCaches();
    if (o.networkCalls()) {
      options = options.withNetworkCalls();
    }
    try (LocalCluster cluster = new LocalCluster(options).start()) {
      long docs = DemoLoader.load(data, o.dataDir(), cluster, System.out, System.nanoTime());
      long compacting = System.nanoTime();
      cluster.awaitCompacted(Duration.ofMinutes(5)); // the segments both sides will search
      System.out.printf("shards compacted after %.1f s%n", (System.nanoTime() - compacting) / 1e9);
      List<String> shardDirs = new ArrayList<>();
      for (ShardStore s : cluster.indexNode().shards().values()) {
        s.commit(); // the baseline opens the last commit
        shardDirs.add(LocalCluster.luceneDir(o.dataDir(), s.shard()).toString());
      }
      System.out.printf("%d documents in %d shards; query service on 127.0.0.1:%d%n", docs, shardDirs.size(),
          cluster.grpcPort());
      List<String> cmd = ShoalJvm.command("-Xmx2g", Path.of(System.getProperty("java.io.tmpdir")), null);
      cmd.add(SearchBenchClient.class.getName());
      cmd.addAll(List.of("--target", "127.0.0.1:" + cluster.grpcPort(), "--dataset", o.dataset().toString(),
          "--seconds", Integer.toString(o.seconds()), "--warmup", Integer.toString(o.warmup()),
          "-k", Integer.toString(o.topK()), "--server-warmup", Integer.toString(o.serverWarmup()),
          "--clients", String.join(",", o.clients().stream().map(String::valueOf).toList()),
          "--profiles", String.join(",", o.profiles()), "-o", o.output().toString(),
          "--server-pid", Long.toString(ProcessHandle.current().pid()),
          "--calls", o.networkCalls() ? "network" : "in-process",
          "--shard-dirs", String.join(",", shardDirs)));
      Process client = new ProcessBuilder(cmd).inheritIO().start();
      if (!client.waitFor(2, TimeUnit.HOURS)) {
        client.destroyForcibly();
        throw new IllegalStateException("the load client did not finish");
      }
      return client.exitValue();
    }
  }

  private static String ratios(SearchLoad.Cell c, SearchLoad.Cell base) {
    return String.format(Locale.ROOT, "%.2f · %.2f · %.2f", c.p50() / base.p50(), c.qps() / base.qps(),
        c.cpuMillisPerQuery() / base.cpuMillisPerQuery());
  }

  static void writeResults(Path output, String dataset, SearchLoad.Cell cold, List<SearchLoad.Cell> cells,
                           int queryCount, int topK, int seconds, int warmup, int serverWarmup, boolean networkCalls)
      throws IOException {
    StringBuilder md = new StringBuilder();
    md.append("# Search load benchmark\n\n");
    md.append(String.format("SciFact (%s), %d queries cycled, top %d, %d s per cell after %d s warm-up (and %d s "
        + "per profile and path at 4 clients before the first cell), closed loop (each client sends its next query "
        + "when the last one answers); %d CPUs; client in its own JVM.%n%n", dataset, queryCount, topK, seconds,
        warmup, serverWarmup, Runtime.getRuntime().availableProcessors()));
    md.append("| profile | clients | path | QPS | p50 ms | p95 ms | p99 ms | CPU ms/query | errors | partial "
        + "| p50 ratio · QPS ratio · CPU ratio | against raw Lucene, sliced |\n");
    md.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int perGroup = SearchLoad.Target.values().length;
    for (int i = 0; i < cells.size(); i += perGroup) {
      List<SearchLoad.Cell> group = cells.subList(i, i + perGroup);
      SearchLoad.Cell base = group.stream().filter(c -> c.target() == SearchLoad.Target.BASELINE).findFirst()
          .orElseThrow();
      SearchLoad.Cell slicedBase = group.stream().filter(c -> c.target() == SearchLoad.Target.BASELINE_SLICED)
          .findFirst().orElseThrow();
      for (SearchLoad.Cell c : group) {
        boolean shoal = c.target() == SearchLoad.Target.SHOAL || c.target() == SearchLoad.Target.SHOAL_IDS;
        md.append(c.row(!shoal ? " |" : ratios(c, base) + " | " + ratios(c, slicedBase)));
      }
    }
    SearchLoad.Cell warm = cells.stream().filter(c -> c.target() == SearchLoad.Target.SHOAL
        && c.profile().equals(cold.profile()) && c.clients() == cold.clients()).findFirst().orElse(null);
    md.append(String.format("%nCold start: the first %d %s queries (each once) from %d clients, sent as soon as the "
        + "cluster reported ready (its services warm up before they report SERVING; this client's own gRPC stack "
        + "warmed on 2 s of pings), against the warmed cell at the same number of clients:%n%n", cold.millis().length,
        cold.profile(), cold.clients()));
    md.append("| profile | clients | path | QPS | p50 ms | p95 ms | p99 ms | CPU ms/query | errors | partial "
        + "| p99 cold / warm |\n");
    md.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    md.append(cold.row("shoal, cold", warm == null ? "" : String.format(Locale.ROOT, "%.2f", cold.p99() / warm.p99())));
    if (warm != null) {
      md.append(warm.row("shoal, warm", ""));
    }
    md.append("\nWhere the time goes in the query service (median ms per stage, from the responses' timings):\n\n");
    md.append("| profile | clients | stages |\n|---|---:|---|\n");
    for (SearchLoad.Cell c : cells) {
      if (c.target() == SearchLoad.Target.SHOAL) {
        md.append("| ").append(c.profile()).append(" | ").append(c.clients()).append(" | ").append(c.stages())
            .append(" |\n");
      }
    }
    md.append("\n").append(SearchLoad.description(networkCalls)).append("\n");
    Files.writeString(output, md);
    StringBuilder tsv = new StringBuilder("profile\tclients\tpath\tqueries\tseconds\tqps\tp50_ms\tp95_ms\tp99_ms"
        + "\tcpu_ms_per_query\terrors\tpartial\n");
    tsv.append(cold.tsv().replaceFirst("\tshoal\t", "\tshoal cold\t")).append('\n');
    cells.forEach(c -> tsv.append(c.tsv()).append('\n'));
    Files.writeString(Path.of(output.toString().replaceAll("\\.md$", "") + ".tsv"), tsv);
    System.out.println();
    System.out.print(md);
    System.out.println("written to " + output);
  }
}
