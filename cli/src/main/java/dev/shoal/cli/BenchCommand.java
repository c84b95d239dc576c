package dev.shoal.cli;

import dev.shoal.bench.CostCurves;
import dev.shoal.bench.IndexBench;
import dev.shoal.bench.RankerBench;
import dev.shoal.bench.SliceBench;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code shoal bench}: benchmarks ({@code bench/} module) that compare Shoal's path with the bare library in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (not tests).",
    subcommands = {BenchCommand.Ranker.class, BenchCommand.Index.class, SearchBenchCommand.class,
        BenchCommand.Curves.class, BenchCommand.Slices.class})
final class BenchCommand implements Runnable {

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "index", mixinStandardHelpOptions = true,
      description = "Indexing docs/s with and without embeddings, next to the shard store alone.")
  static final class Index implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = ".shoal-data/demo",
        description = "a demo data directory whose enriched topic is replayed (run bin/shoal demo once first)")
    Path dataDir;

    @Option(names = "--dataset", defaultValue = "testdata/scifact", description = "(default: ${DEFAULT-VALUE})")
    Path dataset;

    @Option(names = "--embed-docs", defaultValue = "300", description = "documents for the with-embeddings run "
        + "(default: ${DEFAULT-VALUE})")
    int embedDocs;

    @Option(names = {"-o", "--output"}, defaultValue = "bench-index.md", description = "(default: ${DEFAULT-VALUE})")
    Path output;

    @Override
    public Integer call() throws Exception {
      System.out.print(IndexBench.run(new IndexBench.Options(dataDir, dataset, embedDocs, output)));
      return 0;
    }
  }

  @Command(name = "ranker", mixinStandardHelpOptions = true,
      description = "Embeddings/s: service path vs ONNX Runtime alone; Score latency for 100 candidates.")
  static final class Ranker implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "bge-small-en-v1.5", description = "(default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--seconds", defaultValue = "6", description = "measuring time per cell (default: ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--threads", defaultValue = "2", description = "cores used by both paths (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--dataset", defaultValue = "testdata/scifact", description = "texts come from this corpus "
        + "(default: ${DEFAULT-VALUE})")
    Path dataset;

    @Option(names = {"-o", "--output"}, defaultValue = "bench-ranker.md", description = "results file "
        + "(default: ${DEFAULT-VALUE})")
    Path output;

    @Override
    public Integer call() throws Exception {
      new RankerBench(new RankerBench.Options(model, seconds, threads, dataset, output)).run();
      return 0;
    }
  }

  @Command(name = "slices", mixinStandardHelpOptions = true,
      description = "One BM25 search on one thread against two slices, over the demo's shards copied 1 to 100 "
          + "times (a few minutes; scratch space it deletes).")
  static final class Slices implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = ".shoal-data/demo",
        description = "a demo data directory whose shards are copied (run bin/shoal demo once first)")
    Path dataDir;

    @Option(names = "--dataset", defaultValue = "testdata/scifact", description = "the queries (default: "
        + "${DEFAULT-VALUE})")
    Path dataset;

    @Option(names = "--copies", defaultValue = "1,10,40,100", split = ",", description = "corpus sizes in copies of "
        + "the shards (default: ${DEFAULT-VALUE})")
    List<Integer> copies;

    @Option(names = "--queries", defaultValue = "3000", description = "queries per round (default: ${DEFAULT-VALUE})")
    int queries;

    @Option(names = {"-o", "--output"}, defaultValue = "bench-slices.md", description = "(default: ${DEFAULT-VALUE})")
    Path output;

    @Override
    public Integer call() throws Exception {
      System.out.print(SliceBench.run(new SliceBench.Options(dataDir, dataset, copies, queries, output)));
      return 0;
    }
  }

  @Command(name = "curves", mixinStandardHelpOptions = true,
      description = "Search latency and QPS against corpus size, shard count, top k and rerank depth, next to raw "
          + "Lucene (bm25) and ONNX Runtime + Lucene in one process (neural).")
  static final class Curves implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = ".shoal-data/demo",
        description = "a demo data directory whose enriched documents make the corpora (run bin/shoal demo once "
            + "first; not running while this runs)")
    Path dataDir;

    @Option(names = "--dataset", defaultValue = "testdata/scifact", description = "the queries (default: "
        + "${DEFAULT-VALUE})")
    Path dataset;

    @Option(names = "--scales", defaultValue = "1,10,100", split = ",", description = "corpus sizes in multiples of "
        + "the dataset; above 1 synthetic (default: ${DEFAULT-VALUE})")
    List<Integer> scales;

    @Option(names = "--shards", defaultValue = "1,16", split = ",", description = "shard counts on one node besides "
        + "the 4 of the other curves (default: ${DEFAULT-VALUE})")
    List<Integer> shards;

    @Option(names = "--top-k", defaultValue = "10,100,1000", split = ",", description = "(default: ${DEFAULT-VALUE})")
    List<Integer> topKs;

    @Option(names = "--depths", defaultValue = "25,100,400", split = ",", description = "rerank depths, neural "
        + "(default: ${DEFAULT-VALUE})")
    List<Integer> depths;

    @Option(names = "--clients", defaultValue = "1", description = "concurrent clients per cell (default: "
        + "${DEFAULT-VALUE}; searches past top 100 or depth 100 are admitted cores/2 at a time)")
    int clients;

    @Option(names = "--seconds", defaultValue = "8", description = "measuring time per cell (default: ${DEFAULT-VALUE})")
    int seconds;

    @Option(names = "--warmup", defaultValue = "3", description = "warm-up per cell (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = {"-o", "--output"}, defaultValue = "bench-curves.md", description = "results file (Markdown; "
        + "raw numbers beside it as .tsv)")
    Path output;

    @Override
    public Integer call() throws Exception {
      System.out.print(CostCurves.run(new CostCurves.Options(dataDir, dataset, scales, shards, topKs, depths, clients,
          seconds, warmup, output)));
      return 0;
    }
  }
}
