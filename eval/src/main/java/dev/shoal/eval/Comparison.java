package dev.shoal.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Two runs compared measure by measure over the queries both are evaluated on: means, delta,
 * paired randomization and t-test p-values, wins/ties/losses of B over A, and the queries that
 * moved most. Immutable.
 */
public record Comparison(String runA, String runB, List<Row> rows, List<Mover> movers) {

  /** One measure's comparison. */
  public record Row(String measure, int queries, double meanA, double meanB, double delta, double pRandomization,
                    double pT, int wins, int ties, int losses) {
  }

  /** A query whose score on the first measure changed, B minus A. */
  public record Mover(String query, String text, double a, double b, double delta) {
  }

  public static Comparison of(TrecEval.Result a, TrecEval.Result b, String runA, String runB,
                              Map<String, String> queryText, int moversShown) {
    List<String> queries = new ArrayList<>(new TreeSet<>(a.perQuery().keySet()));
    queries.retainAll(b.perQuery().keySet());
    List<Row> rows = new ArrayList<>();
    for (String m : a.measures()) {
      if (m.startsWith("num_") || !b.measures().contains(m)) {
        continue;
      }
      double[] x = new double[queries.size()];
      double[] y = new double[queries.size()];
      int w = 0;
      int t = 0;
      int l = 0;
      for (int i = 0; i < x.length; i++) {
        x[i] = a.of(queries.get(i), m);
        y[i] = b.of(queries.get(i), m);
        if (Math.abs(y[i] - x[i]) < 1e-12) {
          t++;
        } else if (y[i] > x[i]) {
          w++;
        } else {
          l++;
        }
      }
      double ma = mean(x);
      double mb = mean(y);
      rows.add(new Row(m, x.length, ma, mb, mb - ma, Significance.randomization(y, x, 10_000, 42),
          Significance.pairedT(y, x), w, t, l));
    }
    List<Mover> movers = new ArrayList<>();
    if (!rows.isEmpty()) {
      String first = rows.getFirst().measure();
      for (String q : queries) {
        double va = a.of(q, first);
        double vb = b.of(q, first);
        if (Math.abs(vb - va) > 1e-12) {
          movers.add(new Mover(q, queryText.getOrDefault(q, ""), va, vb, vb - va));
        }
      }
      movers.sort(Comparator.comparingDouble((Mover mv) -> -Math.abs(mv.delta())).thenComparing(Mover::query));
    }
    return new Comparison(runA, runB, rows, List.copyOf(movers.subList(0, Math.min(moversShown, movers.size()))));
  }

  private static double mean(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return v.length == 0 ? 0 : s / v.length;
  }
}
