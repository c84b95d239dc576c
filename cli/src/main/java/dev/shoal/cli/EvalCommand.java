package dev.shoal.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cli.internal.ProgressBar;
import dev.shoal.eval.BeirDataset;
import dev.shoal.eval.Comparison;
import dev.shoal.eval.Qrels;
import dev.shoal.eval.Run;
import dev.shoal.eval.TrecEval;
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
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code shoal eval}: run a dataset's queries, score runs with trec_eval's measures, compare runs. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Offline evaluation.",
    subcommands = {EvalCommand.Score.class, EvalCommand.RunQueries.class, EvalCommand.Compare.class})
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

    @Option(names = "-q", description = "also print per-query values")
    boolean perQuery;

    @Option(names = "-m", description = "measure, repeatable; trec_eval grouping allowed (ndcg_cut.5,10)")
    List<String> measures = new ArrayList<>();

    @Option(names = "-l", defaultValue = "1", description = "relevance level for binary measures (default: 1)")
    int level;

    @Option(names = "-c", description = "average over all judged queries; missing ones score 0")
    boolean complete;

    @Option(names = "-M", defaultValue = "0", description = "only the first M documents per query count")
    int depth;

    @Option(names = "--json", description = "print JSON instead")
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
    @Option(names = "--dataset", required = true, description = "BEIR folder (queries.jsonl, qrels/)")
    Path dataset;

    @Option(names = "--split", defaultValue = "test", description = "qrels split whose queries are run (default: test)")
    String split;

    @Option(names = "--target", defaultValue = "127.0.0.1:50051", description = "SearchService (default: ${DEFAULT-VALUE})")
    String target;

    @Option(names = "--profile", defaultValue = "neural", description = "bm25, dense, hybrid or neural")
    String profile;

    @Option(names = "-k", defaultValue = "100", description = "hits per query (default: 100)")
    int k;

    @Option(names = "--rerank-depth", defaultValue = "0", description = "0 = the server default")
    int rerankDepth;

    @Option(names = {"-o", "--output"}, required = true, description = "run file to write")
    Path output;

    @Option(names = "--tag", description = "run tag (default: shoal-<profile>)")
    String tag;

    @Override
    public Integer call() throws Exception {
      BeirDataset data = new BeirDataset(dataset);
      var judged = data.qrels(split).keySet();
      List<BeirDataset.Query> queries = data.queries().stream().filter(q -> judged.contains(q.id())).toList();
      RankProfile p = RankProfile.valueOf(profile.toUpperCase(Locale.ROOT));
      ManagedChannel ch = ManagedChannelBuilder.forTarget(target).usePlaintext().maxInboundMessageSize(64 << 20).build();
      Map<String, List<Run.Entry>> entries = new LinkedHashMap<>();
      int degraded = 0;
      int partial = 0;
      try {
        var stub = SearchServiceGrpc.newBlockingStub(ch);
        ProgressBar bar = new ProgressBar(System.err, "queries", queries.size());
        int n = 0;
        for (BeirDataset.Query q : queries) {
          SearchResponse r = stub.withDeadlineAfter(30, TimeUnit.SECONDS).search(SearchRequest.newBuilder()
              .setQuery(q.text()).setTopK(k).setProfile(p).setRerankDepth(rerankDepth).setTimeoutMs(30_000).build());
          degraded += r.getDegraded() ? 1 : 0;
          partial += r.getPartial() ? 1 : 0;
          List<Run.Entry> list = new ArrayList<>();
          int rank = 0;
          for (Hit h : r.getHitsList()) {
            list.add(new Run.Entry(h.getId(), ++rank, h.getScore()));
          }
          entries.put(q.id(), list);
          bar.update(++n);
        }
      } finally {
        ch.shutdownNow();
      }
      new Run(tag == null ? "shoal-" + profile.toLowerCase(Locale.ROOT) : tag, entries).write(output);
      System.out.printf("%d queries written to %s (%d degraded, %d partial)%n", entries.size(), output, degraded, partial);
      return degraded + partial == 0 ? 0 : 3;
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

    @Option(names = "--queries", description = "queries.jsonl, to print the text of the queries that moved")
    Path queries;

    @Option(names = "--movers", defaultValue = "10", description = "queries that moved most, shown (default: 10)")
    int movers;

    @Override
    public Integer call() throws Exception {
      Qrels q = Qrels.read(qrels);
      Map<String, String> text = new LinkedHashMap<>();
      if (queries != null) {
        for (String line : Files.readAllLines(queries)) {
          if (!line.isBlank()) {
            var n = JSON.readTree(line);
            text.put(n.path("_id").asText(), n.path("text").asText());
          }
        }
      }
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
