package dev.shoal.bench;

import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The search benchmark's load client, in its own JVM ({@link SearchBench} starts it): the service
 * cells, then the in-process baselines, then the results file. Arguments are {@code --name value}
 * pairs, as SearchBench writes them.
 */
public final class SearchBenchClient {

  /** The cold row: a new user's first queries after "ready", as the issue that asked for it measured them. */
  static final int COLD_QUERIES = 300;
  static final int COLD_CLIENTS = 4;

  private SearchBenchClient() {
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i], args[i + 1]);
    }
    Path dataset = Path.of(need(a, "--dataset"));
    int seconds = Integer.parseInt(need(a, "--seconds"));
    int warmup = Integer.parseInt(need(a, "--warmup"));
    int topK = Integer.parseInt(need(a, "-k"));
    int serverWarmup = Integer.parseInt(need(a, "--server-warmup"));
    List<Integer> clients = Arrays.stream(need(a, "--clients").split(",")).map(Integer::parseInt).toList();
    List<String> profiles = List.of(need(a, "--profiles").split(","));
    List<Path> shardDirs = Arrays.stream(need(a, "--shard-dirs").split(",")).map(Path::of).toList();
    List<String> queries = new BeirDataset(dataset).queries().stream().map(BeirDataset.Query::text).toList();
    List<SearchLoad.Cell> cells = new ArrayList<>();
    SearchLoad.Cell cold;
    try (SearchLoad load = new SearchLoad(need(a, "--target"), shardDirs, ModelSpec.BGE_SMALL_EN_V15, topK)
        .withServerProcess(Long.parseLong(need(a, "--server-pid")))) {
      // the cold row first, while the cluster is as a user finds it right after "ready": this JVM's
      // own gRPC stack is warmed on pings (they do none of the search path's work on the server)
      load.run(SearchLoad.Target.PING, "neural", 1, queries, 0, 2);
      cold = load.first(SearchLoad.Target.SHOAL, "neural", COLD_CLIENTS, queries, COLD_QUERIES);
      System.out.println("cold: " + cold.line());
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
    SearchBench.writeResults(Path.of(need(a, "-o")), dataset.toString(), cold, cells, queries.size(), topK, seconds,
        warmup, serverWarmup, "network".equals(need(a, "--calls")));
  }

  private static String need(Map<String, String> a, String name) {
    String v = a.get(name);
    if (v == null) {
      throw new IllegalArgumentException("missing " + name);
    }
    return v;
  }
}
