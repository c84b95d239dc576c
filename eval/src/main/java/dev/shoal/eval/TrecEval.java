package dev.shoal.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Evaluation measures with trec_eval's definitions and names (trec_eval 9.x):
 *
 * <ul>
 *   <li>A query's documents are ordered by score, descending; equal scores are ordered by
 *       document id, descending (trec_eval's {@code comp_sim_docno}); the rank column is ignored.
 *       A document retrieved twice for one query is an error, as in trec_eval.</li>
 *   <li>Evaluated queries: those in both the run and the qrels; with {@code complete} (trec_eval
 *       {@code -c}) also the judged queries absent from the run, which score as an empty ranking.
 *       Run queries without judgments are ignored. A judged query with no relevant documents is
 *       evaluated and scores 0.</li>
 *   <li>Binary measures count a document as relevant when its grade is at least the relevance
 *       level ({@code -l}, default 1); unjudged documents are not relevant.</li>
 *   <li>{@code ndcg} and {@code ndcg_cut_k} use the grade as the gain and log2(rank + 1) as the
 *       discount; the ideal ranking is every judged document with a positive grade, best first.
 *       The relevance level does not affect them.</li>
 *   <li>{@code all}: the mean over evaluated queries, except the counts {@code num_q},
 *       {@code num_ret}, {@code num_rel}, {@code num_rel_ret}, which are summed.</li>
 * </ul>
 *
 * Measures: {@code map}, {@code map_cut_k}, {@code ndcg}, {@code ndcg_cut_k}, {@code P_k},
 * {@code recall_k}, {@code success_k}, {@code recip_rank}, {@code num_q}, {@code num_ret},
 * {@code num_rel}, {@code num_rel_ret}. trec_eval's grouped form is accepted:
 * {@code ndcg_cut.5,10} means {@code ndcg_cut_5} and {@code ndcg_cut_10}. Stateless.
 */
public final class TrecEval {

  /**
   * @param relevanceLevel grade from which a document counts as relevant for binary measures
   * @param complete       also evaluate judged queries missing from the run (as trec_eval -c)
   * @param depth          only the first {@code depth} documents of each query count (trec_eval
   *                       -M); 0 means all
   */
  public record Options(int relevanceLevel, boolean complete, int depth) {
    public static Options defaults() {
      return new Options(1, false, 0);
    }
  }

  /** Per-query values and the summary, each keyed by measure name in the order asked. */
  public record Result(List<String> measures, Map<String, Map<String, Double>> perQuery, Map<String, Double> all) {
    public double all(String measure) {
      Double v = all.get(measure);
      if (v == null) {
        throw new IllegalArgumentException("measure " + measure + " was not computed");
      }
      return v;
    }

    public double of(String query, String measure) {
      return perQuery.getOrDefault(query, Map.of()).getOrDefault(measure, Double.NaN);
    }

    /** trec_eval's output: {@code measure<TAB>qid|all<TAB>value}; per query first when asked. */
    public String format(boolean withQueries) {
      StringBuilder sb = new StringBuilder();
      if (withQueries) {
        perQuery.forEach((q, values) -> measures.forEach(m -> line(sb, m, q, values.get(m))));
      }
      measures.forEach(m -> line(sb, m, "all", all.get(m)));
      return sb.toString();
    }

    private static void line(StringBuilder sb, String m, String q, double v) {
      String value = isCount(m) ? Long.toString(Math.round(v)) : String.format(Locale.ROOT, "%.4f", v);
      sb.append(String.format(Locale.ROOT, "%-22s\t%s\t%s%n", m, q, value));
    }
  }

  public static final List<String> DEFAULT_MEASURES = List.of("num_q", "num_ret", "num_rel", "num_rel_ret", "map",
      "recip_rank", "P_10", "recall_100", "ndcg", "ndcg_cut_10");

  private TrecEval() {
  }

  /** Expands grouped names ({@code P.5,10}) and checks each name. */
  public static List<String> expand(List<String> requested) {
    List<String> out = new ArrayList<>();
    for (String r : requested) {
      int dot = r.indexOf('.');
      if (dot < 0) {
        out.add(check(r));
      } else {
        for (String k : r.substring(dot + 1).split(",")) {
          out.add(check(r.substring(0, dot) + "_" + k.trim()));
        }
      }
    }
    return out;
  }

  private static String check(String m) {
    if (Set.of("map", "ndcg", "recip_rank", "num_q", "num_ret", "num_rel", "num_rel_ret").contains(m)) {
      return m;
    }
    for (String prefix : List.of("map_cut_", "ndcg_cut_", "P_", "recall_", "success_")) {
      if (m.startsWith(prefix)) {
        try {
          if (Integer.parseInt(m.substring(prefix.length())) > 0) {
            return m;
          }
        } catch (NumberFormatException e) {
          // falls through to the error
        }
      }
    }
    throw new IllegalArgumentException("unknown measure '" + m + "': use map, map_cut_k, ndcg, ndcg_cut_k, P_k, "
        + "recall_k, success_k, recip_rank, num_q, num_ret, num_rel, num_rel_ret");
  }

  static boolean isCount(String m) {
    return m.startsWith("num_");
  }

  public static Result evaluate(Qrels qrels, Run run, List<String> requested, Options options) {
    List<String> measures = expand(requested.isEmpty() ? DEFAULT_MEASURES : requested);
    Map<String, Map<String, Double>> perQuery = new TreeMap<>();
    for (String q : run.queries()) {
      if (qrels.has(q)) {
        perQuery.put(q, evaluateQuery(q, qrels.of(q), run.of(q), measures, options));
      }
    }
    if (options.complete()) {
      for (String q : qrels.queries()) {
        if (!perQuery.containsKey(q)) {
          perQuery.put(q, evaluateQuery(q, qrels.of(q), List.of(), measures, options));
        }
      }
    }
    Map<String, Double> all = new LinkedHashMap<>();
    int n = perQuery.size();
    for (String m : measures) {
      double sum = 0;
      for (Map<String, Double> v : perQuery.values()) {
        sum += v.get(m);
      }
      all.put(m, isCount(m) ? sum : n == 0 ? 0 : sum / n);
    }
    return new Result(measures, perQuery, all);
  }

  private static Map<String, Double> evaluateQuery(String q, Map<String, Integer> judged, List<Run.Entry> entries,
                                                   List<String> measures, Options o) {
    List<Run.Entry> ranked = new ArrayList<>(entries);
    ranked.sort(Comparator.comparingDouble(Run.Entry::score).reversed()
        .thenComparing(Run.Entry::doc, Comparator.reverseOrder()));
    Set<String> seen = new HashSet<>();
    for (Run.Entry e : ranked) {
      if (!seen.add(e.doc())) {
        throw new IllegalArgumentException("query " + q + " retrieves document " + e.doc()
            + " more than once; trec_eval rejects such runs too");
      }
    }
    if (o.depth() > 0 && ranked.size() > o.depth()) {
      ranked = ranked.subList(0, o.depth());
    }
    int numRet = ranked.size();
    int[] grade = new int[numRet];
    boolean[] rel = new boolean[numRet];
    for (int i = 0; i < numRet; i++) {
      Integer g = judged.get(ranked.get(i).doc());
      grade[i] = g == null ? 0 : g;
      rel[i] = g != null && g >= o.relevanceLevel();
    }
    int numRel = 0;
    List<Integer> positive = new ArrayList<>();
    for (int g : judged.values()) {
      if (g >= o.relevanceLevel()) {
        numRel++;
      }
      if (g > 0) {
        positive.add(g);
      }
    }
    positive.sort(Comparator.reverseOrder());
    Map<String, Double> out = new LinkedHashMap<>();
    for (String m : measures) {
      out.put(m, value(m, grade, rel, numRel, positive));
    }
    return out;
  }

  private static double value(String m, int[] grade, boolean[] rel, int numRel, List<Integer> ideal) {
    int n = rel.length;
    return switch (m) {
      case "num_q" -> 1;
      case "num_ret" -> n;
      case "num_rel" -> numRel;
      case "num_rel_ret" -> relevantIn(rel, n);
      case "map" -> averagePrecision(rel, n, numRel);
      case "recip_rank" -> {
        for (int i = 0; i < n; i++) {
          if (rel[i]) {
            yield 1.0 / (i + 1);
          }
        }
        yield 0;
      }
      case "ndcg" -> ndcg(grade, ideal, Integer.MAX_VALUE);
      default -> {
        int k = Integer.parseInt(m.substring(m.lastIndexOf('_') + 1));
        if (m.startsWith("map_cut_")) {
          yield averagePrecision(rel, Math.min(k, n), numRel);
        } else if (m.startsWith("ndcg_cut_")) {
          yield ndcg(grade, ideal, k);
        } else if (m.startsWith("P_")) {
          yield relevantIn(rel, Math.min(k, n)) / (double) k;
        } else if (m.startsWith("recall_")) {
          yield numRel == 0 ? 0 : relevantIn(rel, Math.min(k, n)) / (double) numRel;
        } else if (m.startsWith("success_")) {
          yield relevantIn(rel, Math.min(k, n)) > 0 ? 1 : 0;
        }
        throw new IllegalArgumentException("unknown measure " + m);
      }
    };
  }

  private static int relevantIn(boolean[] rel, int upTo) {
    int c = 0;
    for (int i = 0; i < upTo; i++) {
      if (rel[i]) {
        c++;
      }
    }
    return c;
  }

  private static double averagePrecision(boolean[] rel, int upTo, int numRel) {
    if (numRel == 0) {
      return 0;
    }
    double sum = 0;
    int found = 0;
    for (int i = 0; i < upTo; i++) {
      if (rel[i]) {
        found++;
        sum += found / (double) (i + 1);
      }
    }
    return sum / numRel;
  }

  private static double ndcg(int[] grade, List<Integer> ideal, int k) {
    double dcg = 0;
    for (int i = 0; i < Math.min(k, grade.length); i++) {
      if (grade[i] > 0) {
        dcg += grade[i] / log2(i + 2);
      }
    }
    double idcg = 0;
    for (int i = 0; i < Math.min(k, ideal.size()); i++) {
      idcg += ideal.get(i) / log2(i + 2);
    }
    return idcg > 0 ? dcg / idcg : 0;
  }

  private static double log2(double x) {
    return Math.log(x) / Math.log(2);
  }
}
