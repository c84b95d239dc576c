package dev.shoal.cli;

import dev.shoal.bench.SearchBench;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;


/**
 * {@code shoal bench search}: the end-to-end load benchmark ({@link SearchBench}): the cluster in
 * this process, the load client in a second JVM, raw Lucene and the in-process neural baseline
 * measured in the same run.
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

  @Option(names = "--network-calls", description = "the query service calls the index node and the ranker over "
      + "loopback TCP, as between machines (default: in-process, as in the demo, where they share its JVM)")
  boolean networkCalls;

  @Override
  public Integer call() throws Exception {
    return SearchBench.run(new SearchBench.Options(dataDir, dataset, clients, profiles, seconds, warmup, topK,
        serverWarmup, output, networkCalls));
  }
}
