package dev.shoal.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A ranked run in TREC format: {@code qid Q0 docid rank score tag}. Like trec_eval, only the
 * scores order a query's documents; the rank column is kept but not trusted. Immutable.
 */
public final class Run {

  /** One retrieved document. */
  public record Entry(String doc, int rank, double score) {
  }

  private final String tag;
  private final Map<String, List<Entry>> byQuery;

  public Run(String tag, Map<String, List<Entry>> byQuery) {
    this.tag = tag;
    Map<String, List<Entry>> copy = new LinkedHashMap<>();
    byQuery.forEach((q, es) -> copy.put(q, List.copyOf(es)));
    this.byQuery = Collections.unmodifiableMap(copy);
  }

  public static Run read(Path file) {
    Map<String, List<Entry>> out = new LinkedHashMap<>();
    String[] tag = {file.getFileName().toString()};
    TrecFiles.forEachLine(file, "run", (n, f, line) -> {
      if (f.length != 6) {
        throw new IllegalArgumentException(file + ":" + n + ": expected 'qid Q0 docid rank score tag', got: " + line);
      }
      try {
        out.computeIfAbsent(f[0], k -> new ArrayList<>())
            .add(new Entry(f[2], Integer.parseInt(f[3]), Double.parseDouble(f[4])));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(file + ":" + n + ": rank and score must be numbers: " + line);
      }
      tag[0] = f[5];
    });
    return new Run(tag[0], out);
  }

  public void write(Path file) {
    try (Writer w = Files.newBufferedWriter(file)) {
      for (Map.Entry<String, List<Entry>> q : byQuery.entrySet()) {
        for (Entry e : q.getValue()) {
          w.write(String.format(Locale.ROOT, "%s Q0 %s %d %.6f %s%n", q.getKey(), e.doc(), e.rank(), e.score(), tag));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write run " + file, e);
    }
  }

  public String tag() {
    return tag;
  }

  public java.util.Set<String> queries() {
    return byQuery.keySet();
  }

  public List<Entry> of(String query) {
    return byQuery.getOrDefault(query, List.of());
  }

  public boolean has(String query) {
    return byQuery.containsKey(query);
  }
}
