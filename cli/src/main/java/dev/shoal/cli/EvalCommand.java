package dev.shoal.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.FusionParams;
import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.KeywordList;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.eval.BeirDataset;
import dev.shoal.eval.Comparison;
import dev.shoal.eval.Qrels;
import dev.shoal.eval.Report;
import dev.shoal.eval.Run;
import dev.shoal.eval.RunCollector;
import dev.shoal.eval.TopicsFile;
import dev.shoal.eval.TrecEval;
import dev.shoal.testkit.DemoLoader;
import dev.shoal.testkit.LocalCluster;
import dev.shoal.testkit.ProgressBar;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code shoal eval}: run a dataset's queries, score runs with trec_eval's measures, compare runs. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Offline evaluation.",
    subcommands = {EvalCommand.Score.class, EvalCommand.RunQueries.class, EvalCommand.Compare.class,
        EvalCommand.Sweep.class, EvalCommand.ReportCommand.class})
final class EvalCommand implements Runnable {

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @Command(name = "score", mixinStandardHelpOptions = true,
      description = "Score a TREC run against qrels, in trec_eval's output format.")
  static final class Score implements Callable<Integer> {
    @Parameters(index = "0", description = "qrels: TREC (qid 0 docid rel) or BEIR tsv")
    Path qrels;

    @Parameters(index = "1", description = "run: qid Q0 docid rank score tag")
    Path run;

    @Option(names = "-q", description = "also print per-query values (default: off)")
    boolean perQuery;

    @Option(names = "-m", description = "measure, repeatable; trec_eval grouping allowed (ndcg_cut.5,10)")
    List<String> measures = new ArrayList<>();

    @Option(names = "-l", defaultValue = "1", description = "relevance level for binary measures (default: 1)")
    int level;

    @Option(names = "-c", description = "average over all judged queries; missing ones score 0 (default: off)")
    boolean complete;

    @Option(names = "-M", defaultValue = "0", description = "only the first M documents per query count")
    int depth;

    @Option(names = "--json", description = "print JSON instead (default: off)", defaultValue = "false")
    boolean json;

    @Override
    public Integer call() throws Exception {
      TrecEval.Result r = TrecEval.evaluate(Qrels.read(qrels), Run.read(run), measures,
          new TrecEval.Options(level, complete, depth));
      if (json) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("all", r.all());
        if (perQuery) {
          out.put("queries", r.perQuery());
        }
        System.out.println(JSON.writeValueAsString(out));
      } else {
        System.out.print(r.format(perQuery));
      }
      return 0;
    }
  }

  @Command(name = "run", mixinStandardHelpOptions = true,
      description = "Send a BEIR dataset's queries to a running SearchService and write a TREC run.")
  static final class RunQueries implements Callable<Integer> {
    @Mixin
    Queries q;

    @Option(names = "-k", defaultValue = "100", description = "hits per query (default: 100)")
    int k;

    @Option(names = "--rerank-depth", defaultValue = "0", description = "0 = the server default")
    int rerankDepth;

    @Option(names = {"-o", "--output"}, required = true, description = "run file to write")
    Path output;

    @Option(names = "--tag", description = "run tag (default: shoal-<profile>)")
    String tag;

    @Option(names = "--fusion", description = "override the fusion rule: rrf or linear")
    String rule = "";

    @Option(names = "--rrf-k", defaultValue = "0", description = "override RRF's k")
    int rrfK;

    @Option(names = "--weight", description = "override a signal's weight, repeatable: --weight bm25=2 "
        + "--weight cosine=3 (signals: bm25, dense, cosine, ranker, or any registered stage)")
    Map<String, Double> weights = new LinkedHashMap<>();

    @Option(names = "--retrievers", split = ",", description = "run these retrievers instead of the profile's")
    List<String> retrievers = new ArrayList<>();

    @Option(names = "--rescorer", defaultValue = "", description = "re-score with this rescorer ('none' for none)")
    String rescorer;

    @Override
    public Integer call() throws Exception {
      // a run needs ids and scores only: no document is read for titles or snippets
      SearchRequest template = SearchRequest.newBuilder().setTopK(k).setProfile(q.rankProfile()).setIdsOnly(true)
          .setRerankDepth(rerankDepth).addAllRetrievers(retrievers).setRescorer(rescorer)
          .setFusion(FusionParams.newBuilder().setRule(rule).setRrfK(rrfK).putAllWeights(weights)).build();
      RunCollector.Collected c = q.collect(template, tag == null ? "shoal-" + q.profile.toLowerCase(Locale.ROOT) : tag);
      c.run().write(output);
      System.out.printf("%d queries written to %s (%d degraded, %d partial)%n", c.run().queries().size(), output,
          c.degraded(), c.partial());
      return c.degraded() + c.partial() == 0 ? 0 : 3;
    }
  }

  @Command(name = "report", mixinStandardHelpOptions = true,
      description = "A self-contained HTML report (measures, recall-at-depth curves, per-query change bars) "
          + "and a Markdown summary; the first run is the baseline.")
  static final class ReportCommand implements Callable<Integer> {
    @Option(names = "--qrels", required = true, description = "qrels file")
    Path qrels;

    @Parameters(arity = "1..*", description = "runs; the first is the baseline")
    List<Path> runs;

    @Option(names = "-m", description = "measures (default: ndcg_cut_10, map, recip_rank, P_10, recall_100)")
    List<String> measures = new ArrayList<>(List.of("ndcg_cut_10", "map", "recip_rank", "P_10", "recall_100"));

    @Option(names = "-l", defaultValue = "1", description = "relevance level for binary measures")
    int level;

    @Option(names = "--queries", description = "queries.jsonl, for the text of the queries that moved (default: "
        + "none, ids only)")
    Path queries;

    @Option(names = "--title", defaultValue = "Shoal evaluation report")
    String title;

    @Option(names = {"-o", "--output"}, required = true, description = "the HTML file; the Markdown goes beside it (.md)")
    Path output;

    @Override
    public Integer call() throws Exception {
      Map<String, Run> byName = new LinkedHashMap<>();
      for (Path r : runs) {
        byName.put(r.getFileName().toString(), Run.read(r));
      }
      Map<String, String> text = queries == null ? Map.of() : readQueries(queries);
      List<Report.Entry> entries = Report.score(Qrels.read(qrels), byName, measures,
          new TrecEval.Options(level, false, 0));
      Files.writeString(output, Report.html(title, entries, text));
      String name = output.getFileName().toString();
      Path md = output.resolveSibling((name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name) + ".md");
      Files.writeString(md, Report.markdown(title, entries, text));
      System.out.printf("report: %s%nsummary: %s%n", output, md);
      return 0;
    }
  }

  static Map<String, String> readQueries(Path file) throws java.io.IOException {
    Map<String, String> text = new LinkedHashMap<>();
    for (String line : Files.readAllLines(file)) {
      if (!line.isBlank()) {
        var n = JSON.readTree(line);
        text.put(n.path("_id").asText(), n.path("text").asText());
      }
    }
    return text;
  }

  /** Which queries go where: shared by {@code run} and {@code sweep}. */
  static final class Queries {
    @Option(names = "--dataset", description = "BEIR folder (corpus.jsonl, queries.jsonl, qrels/); default: none")
    Path dataset;

    @Option(names = "--split", defaultValue = "test", description = "qrels split whose queries are run (default: test)")
    String split;

    @Option(names = "--topics", description = "run these queries instead (TREC 'qid<TAB>text' or BEIR jsonl), all of them "
        + "(default: none, the dataset's queries)")
    Path topics;

    @Option(names = "--target", defaultValue = "127.0.0.1:50051", description = "SearchService (default: ${DEFAULT-VALUE})")
    String target;

    @Option(names = "--profile", defaultValue = "neural", description = "bm25, dense, hybrid or neural")
    String profile;

    @Option(names = "--candidates", description = "a TREC run whose documents per query are the only candidates "
        + "(re-ranking a given pool, e.g. TREC DL's BM25 top 100; default: none, the whole index)")
    Path candidates;

    @Option(names = "--in-process", description = "start an in-process demo over the dataset instead of using "
        + "--target (reuses --data-dir; indexes the dataset first when it is not there yet; default: off)", defaultValue = "false")
    boolean inProcess;

    @Option(names = "--data-dir", defaultValue = ".shoal-data/eval", description = "state of the in-process demo "
        + "(default: ${DEFAULT-VALUE})")
    Path dataDir;

    /** In-process: the encoder and how passages are cut, when --data-dir is first indexed. */
    @Mixin
    ModelOptions model;

    RankProfile rankProfile() {
      return RankProfile.valueOf(profile.toUpperCase(Locale.ROOT));
    }

    private static RunCollector.Collected collect(String target, List<BeirDataset.Query> queries,
                                                  SearchRequest template, Run pool, String tag) {
      ProgressBar bar = new ProgressBar(System.err, "querying", queries.size(), "queries");
      return RunCollector.collect(target, queries, template, pool, tag, bar::update);
    }

    RunCollector.Collected collect(SearchRequest template, String tag) throws Exception {
      if (dataset == null && (topics == null || inProcess)) {
        throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
            "give --dataset (BEIR folder), or --topics with a live --target");
      }
      BeirDataset data = dataset == null ? null : new BeirDataset(dataset);
      Run pool = candidates == null ? null : Run.read(candidates);
      List<BeirDataset.Query> queries = topics != null ? TopicsFile.read(topics) : judgedQueries(data, split);
      if (!inProcess) {
        return collect(target, queries, template, pool, tag);
      }
      Files.createDirectories(dataDir);
      try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(dataDir, null, 4,
          model.spec(), "127.0.0.1", 0, 0, 0, 2).withMaxWindows(model.maxWindows))
          .start()) {
        DemoLoader.load(data, dataDir, cluster, System.err, System.nanoTime());
        return collect("127.0.0.1:" + cluster.grpcPort(), queries, template, pool, tag);
      }
    }
  }

  /** The queries of a BEIR dataset that have judgments in the split. */
  static List<BeirDataset.Query> judgedQueries(BeirDataset data, String split) {
    var judged = data.qrels(split).keySet();
    return data.queries().stream().filter(q -> judged.contains(q.id())).toList();
  }

  @Command(name = "sweep", mixinStandardHelpOptions = true,
      description = "Grid over fusion weights, RRF k and rerank depth: a table and a CSV.")
  static final class Sweep implements Callable<Integer> {
    @Mixin
    Queries q;

    @Option(names = "--rrf-k", split = ",", defaultValue = "60", description = "values of k (comma-separated)")
    List<Integer> ks;

    @Option(names = "--w-bm25", split = ",", defaultValue = "1", description = "BM25 weights")
    List<Double> bm25;

    @Option(names = "--w-second", split = ",", defaultValue = "1", description = "dense (hybrid) or cosine (neural) weights")
    List<Double> second;

    @Option(names = "--rerank-depth", split = ",", defaultValue = "100", description = "rerank depths")
    List<Integer> depths;

    @Option(names = "-m", defaultValue = "ndcg_cut_10", description = "measure to report")
    String measure;

    @Option(names = "-l", defaultValue = "1", description = "relevance level")
    int level;

    @Option(names = "--csv", required = true, description = "where to write the grid")
    Path csv;

    @Override
    public Integer call() throws Exception {
      if (q.dataset == null) {
        System.err.println("sweep needs --dataset: its qrels score each grid point");
        return 2;
      }
      Qrels qrels = Qrels.read(q.dataset.resolve("qrels").resolve(q.split + ".tsv"));
      RankProfile p = q.rankProfile();
      List<String> lines = new ArrayList<>(List.of("rrf_k,bm25_weight,second_weight,rerank_depth," + measure));
      System.out.printf("%6s %8s %8s %6s %10s%n", "rrf_k", "w_bm25", "w_2nd", "depth", measure);
      for (int k : ks) {
        for (double wb : bm25) {
          for (double w2 : second) {
            for (int depth : depths) {
              FusionParams.Builder f = FusionParams.newBuilder().setRule("rrf").setRrfK(k).putWeights("bm25", wb)
                  .putWeights(p == RankProfile.HYBRID ? "dense" : "cosine", w2);
              SearchRequest template = SearchRequest.newBuilder().setTopK(Math.min(100, depth)).setProfile(p)
                  .setRerankDepth(depth).setFusion(f).setIdsOnly(true).build();
              Run run = q.collect(template, "sweep").run();
              double v = TrecEval.evaluate(qrels, run, List.of(measure), new TrecEval.Options(level, false, 0))
                  .all(TrecEval.expand(List.of(measure)).getFirst());
              System.out.printf(Locale.ROOT, "%6d %8.2f %8.2f %6d %10.4f%n", k, wb, w2, depth, v);
              lines.add(String.format(Locale.ROOT, "%d,%s,%s,%d,%.6f", k, wb, w2, depth, v));
            }
          }
        }
      }
      Files.write(csv, lines);
      System.out.println("grid written to " + csv);
      return 0;
    }
  }

  @Command(name = "compare", mixinStandardHelpOptions = true,
      description = "Compare runs: deltas, paired randomization and t-test p-values, win/tie/loss, biggest movers.")
  static final class Compare implements Callable<Integer> {
    @Option(names = "--qrels", required = true, description = "qrels file")
    Path qrels;

    @Parameters(arity = "2..*", description = "runs; each is compared with the first")
    List<Path> runs;

    @Option(names = "-m", description = "measures (default: ndcg_cut_10, map, recip_rank, recall_100)")
    List<String> measures = new ArrayList<>(List.of("ndcg_cut_10", "map", "recip_rank", "recall_100"));

    @Option(names = "-l", defaultValue = "1", description = "relevance level for binary measures")
    int level;

    @Option(names = "--queries", description = "queries.jsonl, to print the text of the queries that moved (default: "
        + "none, ids only)")
    Path queries;

    @Option(names = "--movers", defaultValue = "10", description = "queries that moved most, shown (default: 10)")
    int movers;

    @Override
    public Integer call() throws Exception {
      Qrels q = Qrels.read(qrels);
      Map<String, String> text = queries == null ? Map.of() : readQueries(queries);
      TrecEval.Options o = new TrecEval.Options(level, false, 0);
      Run base = Run.read(runs.getFirst());
      TrecEval.Result a = TrecEval.evaluate(q, base, measures, o);
      for (Path other : runs.subList(1, runs.size())) {
        Run b = Run.read(other);
        Comparison c = Comparison.of(a, TrecEval.evaluate(q, b, measures, o), runs.getFirst().toString(),
            other.toString(), text, movers);
        System.out.printf("%nA = %s%nB = %s%n", c.runA(), c.runB());
        System.out.printf("%-14s %6s %8s %8s %8s %9s %9s %13s%n", "measure", "n", "A", "B", "B-A", "p(rand)", "p(t)",
            "win/tie/loss");
        for (Comparison.Row r : c.rows()) {
          System.out.printf(Locale.ROOT, "%-14s %6d %8.4f %8.4f %+8.4f %9.4f %9.4f %5d/%d/%d%n", r.measure(), r.queries(),
              r.meanA(), r.meanB(), r.delta(), r.pRandomization(), r.pT(), r.wins(), r.ties(), r.losses());
        }
        if (!c.movers().isEmpty()) {
          System.out.printf("%nqueries that moved most on %s:%n", c.rows().getFirst().measure());
          for (Comparison.Mover m : c.movers()) {
            System.out.printf(Locale.ROOT, "  %-10s %.4f -> %.4f (%+.4f)  %s%n", m.query(), m.a(), m.b(), m.delta(),
                m.text().length() > 80 ? m.text().substring(0, 77) + "..." : m.text());
          }
        }
      }
      return 0;
    }
  }
}
