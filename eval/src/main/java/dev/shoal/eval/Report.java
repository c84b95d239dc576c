package dev.shoal.eval;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A self-contained evaluation report: one HTML file (inline CSS and SVG; no script, no network
 * needed to view it) and a Markdown summary. The first run is the baseline; every other run is
 * compared with it. Stateless.
 */
public final class Report {

  /** One scored run. {@code recall} holds recall at each of {@link #DEPTHS}. */
  public record Entry(String name, TrecEval.Result result, double[] recall) {
  }

  /** Depths of the recall curve. */
  public static final int[] DEPTHS = {1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000};
  private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"};

  private Report() {
  }

  /** Scores each run with the measures and the recall curve. */
  public static List<Entry> score(Qrels qrels, Map<String, Run> runs, List<String> measures, TrecEval.Options o) {
    List<String> curve = new ArrayList<>();
    for (int d : DEPTHS) {
      curve.add("recall_" + d);
    }
    List<Entry> out = new ArrayList<>();
    runs.forEach((name, run) -> {
      TrecEval.Result r = TrecEval.evaluate(qrels, run, measures, o);
      TrecEval.Result c = TrecEval.evaluate(qrels, run, curve, o);
      double[] recall = new double[DEPTHS.length];
      for (int i = 0; i < DEPTHS.length; i++) {
        recall[i] = c.all("recall_" + DEPTHS[i]);
      }
      out.add(new Entry(name, r, recall));
    });
    return out;
  }

  public static String html(String title, List<Entry> entries, Map<String, String> queryText) {
    StringBuilder h = new StringBuilder();
    h.append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(esc(title))
        .append("</title><style>")
        .append("body{font:15px/1.45 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:2em auto;")
        .append("max-width:1100px;color:#222;padding:0 1em}h1{font-size:1.6em;margin-bottom:.2em}")
        .append("h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}")
        .append(".meta{color:#666}table{border-collapse:collapse;margin:.8em 0}")
        .append("th,td{padding:.35em .8em;border-bottom:1px solid #eee;text-align:right}")
        .append("th:first-child,td:first-child{text-align:left;white-space:nowrap}th{background:#f6f6f6}")
        .append(".up{color:#1a7f37}.down{color:#cf222e}.sig{font-weight:600}.swatch{display:inline-block;width:.9em;")
        .append("height:.9em;border-radius:2px;margin-right:.4em;vertical-align:-1px}")
        .append(".movers td:last-child,.movers th:last-child{text-align:left;max-width:520px}svg text{font-size:12px;fill:#444}")
        .append("</style></head><body>");
    h.append("<h1>").append(esc(title)).append("</h1><p class=\"meta\">")
        .append(entries.size()).append(" runs, generated ")
        .append(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm"))).append(". Baseline: <b>")
        .append(esc(entries.getFirst().name())).append("</b>. p-values: paired randomization (10,000 flips) and ")
        .append("paired t-test, two-sided; bold when both are below 0.05.</p>");

    Entry base = entries.getFirst();
    List<String> measures = base.result().measures().stream().filter(m -> !m.startsWith("num_")).toList();
    h.append("<h2>Measures</h2><table><tr><th>run</th>");
    measures.forEach(m -> h.append("<th>").append(esc(m)).append("</th>"));
    h.append("<th>queries</th></tr>");
    for (int i = 0; i < entries.size(); i++) {
      Entry e = entries.get(i);
      Comparison c = i == 0 ? null : Comparison.of(base.result(), e.result(), base.name(), e.name(), queryText, 0);
      h.append("<tr><td><span class=\"swatch\" style=\"background:").append(color(i)).append("\"></span>")
          .append(esc(e.name())).append("</td>");
      for (String m : measures) {
        h.append("<td>").append(fmt(e.result().all(m)));
        if (c != null) {
          Comparison.Row row = c.rows().stream().filter(r -> r.measure().equals(m)).findFirst().orElseThrow();
          boolean sig = row.pRandomization() < 0.05 && row.pT() < 0.05;
          h.append("<br><small class=\"").append(row.delta() >= 0 ? "up" : "down").append(sig ? " sig" : "")
              .append("\">").append(String.format(Locale.ROOT, "%+.4f", row.delta()))
              .append(" (p ").append(p(row.pRandomization())).append(" / ").append(p(row.pT())).append(")</small>");
        }
        h.append("</td>");
      }
      h.append("<td>").append(e.result().perQuery().size()).append("</td></tr>");
    }
    h.append("</table>");

    h.append("<h2>Recall at depth</h2>").append(recallChart(entries));

    String first = measures.getFirst();
    for (int i = 1; i < entries.size(); i++) {
      Entry e = entries.get(i);
      Comparison c = Comparison.of(base.result(), e.result(), base.name(), e.name(), queryText, 10);
      Comparison.Row row = c.rows().getFirst();
      h.append("<h2>").append(esc(e.name())).append(" vs ").append(esc(base.name())).append(": per-query ")
          .append(esc(first)).append("</h2><p>").append(row.wins()).append(" better, ").append(row.ties())
          .append(" tied, ").append(row.losses()).append(" worse, of ").append(row.queries())
          .append(" queries. Each bar is one query, sorted by the change.</p>")
          .append(deltaBars(base.result(), e.result(), first));
      if (!c.movers().isEmpty()) {
        h.append("<table class=\"movers\"><tr><th>query</th><th>").append(esc(base.name())).append("</th><th>")
            .append(esc(e.name())).append("</th><th>change</th><th>text</th></tr>");
        for (Comparison.Mover m : c.movers()) {
          h.append("<tr><td>").append(esc(m.query())).append("</td><td>").append(fmt(m.a())).append("</td><td>")
              .append(fmt(m.b())).append("</td><td class=\"").append(m.delta() >= 0 ? "up" : "down").append("\">")
              .append(String.format(Locale.ROOT, "%+.4f", m.delta())).append("</td><td>").append(esc(m.text()))
              .append("</td></tr>");
        }
        h.append("</table>");
      }
    }
    h.append("</body></html>\n");
    return h.toString();
  }

  private static String recallChart(List<Entry> entries) {
    int w = 760;
    int hgt = 320;
    int left = 50;
    int bottom = 40;
    int top = 15;
    int right = 180;
    double plotW = w - left - right;
    double plotH = hgt - top - bottom;
    StringBuilder s = new StringBuilder();
    s.append("<svg width=\"").append(w).append("\" height=\"").append(hgt).append("\" role=\"img\" aria-label=\"")
        .append("recall at depth\">");
    for (int t = 0; t <= 10; t += 2) {
      double y = top + plotH * (1 - t / 10.0);
      s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>",
          left, left + plotW, y, y));
      s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>", left - 6, y + 4,
          t / 10.0));
    }
    double maxLog = Math.log10(DEPTHS[DEPTHS.length - 1]);
    for (int d : DEPTHS) {
      double x = left + plotW * Math.log10(d) / maxLog;
      s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>", x,
          hgt - bottom + 16, d));
    }
    s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">depth (log scale)</text>",
        left + plotW / 2, hgt - 4));
    for (int i = 0; i < entries.size(); i++) {
      StringBuilder pts = new StringBuilder();
      double[] r = entries.get(i).recall();
      for (int j = 0; j < DEPTHS.length; j++) {
        double x = left + plotW * Math.log10(DEPTHS[j]) / maxLog;
        double y = top + plotH * (1 - r[j]);
        pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
      }
      s.append("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"").append(color(i)).append("\" points=\"")
          .append(pts.toString().trim()).append("\"/>");
      s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>",
          left + plotW + 15, top + 20 * i, color(i)));
      s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%s</text>", left + plotW + 32, top + 20 * i + 11,
          esc(shorten(entries.get(i).name(), 22))));
    }
    return s.append("</svg>").toString();
  }

  private static String deltaBars(TrecEval.Result a, TrecEval.Result b, String measure) {
    List<Double> deltas = new ArrayList<>();
    for (String q : a.perQuery().keySet()) {
      if (b.perQuery().containsKey(q)) {
        deltas.add(b.of(q, measure) - a.of(q, measure));
      }
    }
    deltas.sort(Comparator.reverseOrder());
    int w = 1000;
    int h = 220;
    double mid = h / 2.0;
    double barW = deltas.isEmpty() ? 1 : Math.max(1, (w - 60.0) / deltas.size());
    StringBuilder s = new StringBuilder("<svg width=\"" + w + "\" height=\"" + h + "\" role=\"img\" aria-label=\"per-query change\">");
    s.append(String.format(Locale.ROOT, "<line x1=\"50\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>", w, mid, mid));
    for (double t : new double[] {-1, -0.5, 0.5, 1}) {
      double y = mid - t * (mid - 10);
      s.append(String.format(Locale.ROOT, "<text x=\"44\" y=\"%.1f\" text-anchor=\"end\">%+.1f</text>", y + 4, t));
      s.append(String.format(Locale.ROOT, "<line x1=\"50\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>", w, y, y));
    }
    for (int i = 0; i < deltas.size(); i++) {
      double d = deltas.get(i);
      double len = Math.abs(d) * (mid - 10);
      double y = d >= 0 ? mid - len : mid;
      s.append(String.format(Locale.ROOT, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"/>",
          50 + i * barW, y, Math.max(0.5, barW - 0.3), Math.max(len, d == 0 ? 0 : 0.5),
          d >= 0 ? "#2da44e" : "#cf222e"));
    }
    return s.append("</svg>").toString();
  }

  public static String markdown(String title, List<Entry> entries, Map<String, String> queryText) {
    StringBuilder m = new StringBuilder("# ").append(title).append("\n\n");
    Entry base = entries.getFirst();
    List<String> measures = base.result().measures().stream().filter(x -> !x.startsWith("num_")).toList();
    m.append("| run |");
    measures.forEach(x -> m.append(' ').append(x).append(" |"));
    m.append(" queries |\n|---|");
    measures.forEach(x -> m.append("---:|"));
    m.append("---:|\n");
    for (int i = 0; i < entries.size(); i++) {
      Entry e = entries.get(i);
      Comparison c = i == 0 ? null : Comparison.of(base.result(), e.result(), base.name(), e.name(), queryText, 5);
      m.append("| ").append(e.name()).append(" |");
      for (String x : measures) {
        m.append(' ').append(fmt(e.result().all(x)));
        if (c != null) {
          Comparison.Row row = c.rows().stream().filter(r -> r.measure().equals(x)).findFirst().orElseThrow();
          m.append(String.format(Locale.ROOT, " (%+.4f, p=%.3f)", row.delta(), row.pRandomization()));
        }
        m.append(" |");
      }
      m.append(' ').append(e.result().perQuery().size()).append(" |\n");
    }
    for (int i = 1; i < entries.size(); i++) {
      Entry e = entries.get(i);
      Comparison c = Comparison.of(base.result(), e.result(), base.name(), e.name(), queryText, 5);
      Comparison.Row row = c.rows().getFirst();
      m.append("\n**").append(e.name()).append(" vs ").append(base.name()).append("** on ").append(row.measure())
          .append(": ").append(row.wins()).append(" better / ").append(row.ties()).append(" tied / ")
          .append(row.losses()).append(" worse. Largest changes:\n\n");
      for (Comparison.Mover mv : c.movers()) {
        m.append(String.format(Locale.ROOT, "- %s %+.4f — %s%n", mv.query(), mv.delta(), mv.text()));
      }
    }
    return m.toString();
  }

  private static String p(double p) {
    return p < 0.001 ? "&lt;0.001" : String.format(Locale.ROOT, "%.3f", p);
  }

  private static String color(int i) {
    return COLORS[i % COLORS.length];
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.4f", v);
  }

  private static String shorten(String s, int n) {
    return s.length() <= n ? s : "…" + s.substring(s.length() - n + 1);
  }

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
