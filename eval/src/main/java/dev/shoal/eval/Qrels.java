package dev.shoal.eval;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Relevance judgments: query id → (document id → relevance grade). Reads TREC qrels
 * ({@code qid iter docid rel}, whitespace-separated) and BEIR qrels ({@code query-id corpus-id
 * score}, tab-separated with a header). Immutable once built.
 */
public final class Qrels {

  private final Map<String, Map<String, Integer>> judgments;

  public Qrels(Map<String, Map<String, Integer>> judgments) {
    Map<String, Map<String, Integer>> copy = new LinkedHashMap<>();
    judgments.forEach((q, docs) -> copy.put(q, Collections.unmodifiableMap(new LinkedHashMap<>(docs))));
    this.judgments = Collections.unmodifiableMap(copy);
  }

  /** Reads either format, telling them apart by the number of columns. */
  public static Qrels read(Path file) {
    Map<String, Map<String, Integer>> out = new LinkedHashMap<>();
    TrecFiles.forEachLine(file, "qrels", (n, f, line) -> {
      String q;
      String doc;
      String rel;
      if (f.length == 4) {
        q = f[0];
        doc = f[2];
        rel = f[3];
      } else if (f.length == 3) {
        q = f[0];
        doc = f[1];
        rel = f[2];
      } else {
        throw new IllegalArgumentException(file + ":" + n + ": expected 'qid 0 docid rel' or 'qid docid rel', got: "
            + line);
      }
      int grade;
      try {
        grade = Integer.parseInt(rel);
      } catch (NumberFormatException e) {
        if (n == 1) {
          return; // BEIR header
        }
        throw new IllegalArgumentException(file + ":" + n + ": relevance '" + rel + "' is not an integer");
      }
      out.computeIfAbsent(q, k -> new LinkedHashMap<>()).put(doc, grade);
    });
    return new Qrels(out);
  }

  public Set<String> queries() {
    return judgments.keySet();
  }

  /** Judgments of one query; empty when the query has none. */
  public Map<String, Integer> of(String query) {
    return judgments.getOrDefault(query, Map.of());
  }

  public boolean has(String query) {
    return judgments.containsKey(query);
  }
}
