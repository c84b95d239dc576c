package dev.shoal.testkit;

import dev.shoal.eval.BeirDataset;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.query.WarmupReport;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;

/**
 * Brings a BEIR dataset into a {@link LocalCluster} and waits until all of it is searchable:
 * produces it to shoal.docs once per data directory (a marker file remembers it), then shows
 * indexing progress. Used by {@code shoal demo} and by {@code shoal eval run --in-process}.
 */
public final class DemoLoader {

  private DemoLoader() {
  }

  /**
   * Returns the number of documents searchable once every shard has caught up and the query
   * service has warmed up over them (so the first queries after "ready" are not cold).
   */
  public static long load(BeirDataset data, Path dataDir, LocalCluster cluster, PrintStream out, long startedNanos)
      throws IOException, InterruptedException {
    long expected = produceOnce(data, dataDir, cluster, out);
    ProgressBar bar = new ProgressBar(out, "indexing", expected);
    boolean first = false;
    while (true) {
      long n = cluster.searchableDocs();
      if (!first && n > 0) {
        first = true;
        out.printf("first hits searchable after %.1f s%n", (System.nanoTime() - startedNanos) / 1e9);
      }
      bar.update(Math.min(n, expected));
      if (n >= expected && cluster.caughtUp()) {
        bar.update(expected);
        WarmupReport w = cluster.warmUp();
        out.printf("warmed up: %d searches in %.1f s%n", w.searches(), w.seconds());
        return n;
      }
      Thread.sleep(250);
    }
  }

  /** Marker entry: the enricher's --max-windows when the data directory was first filled (not a path). */
  private static final String MAX_WINDOWS_KEY = "max_windows";

  /**
   * Produces the dataset to shoal.docs unless this data directory already holds it; returns
   * the number of distinct documents to expect.
   */
  private static long produceOnce(BeirDataset data, Path dataDir, LocalCluster cluster, PrintStream out)
      throws IOException {
    Path marker = dataDir.resolve("ingested.properties");
    Properties done = new Properties();
    String key = data.dir().toAbsolutePath().normalize().toString();
    if (Files.exists(marker)) {
      try (var r = Files.newBufferedReader(marker)) {
        done.load(r);
      }
      if (done.containsKey(key)) {
        out.println("dataset already in Kafka (from a previous run); recovering shards");
        // before the setting existed every passage was truncated: a marker without it means 1
        String embedded = done.getProperty(MAX_WINDOWS_KEY, "1");
        if (!embedded.equals(Integer.toString(cluster.options().maxWindows()))) {
          out.println("note: this data directory's documents were embedded with --max-windows " + embedded
              + "; --max-windows " + cluster.options().maxWindows() + " applies only to documents ingested from now"
              + " on (use a new --data-dir to embed the dataset again)");
        }
        return Long.parseLong(done.getProperty(key));
      }
    }
    Set<String> ids = new HashSet<>();
    long total = data.docCount();
    ProgressBar bar = new ProgressBar(out, "producing", total);
    try (DocumentProducer producer = new DocumentProducer(cluster.bootstrap())) {
      data.forEachDoc(d -> {
        producer.send(d.document());
        ids.add(d.id());
        bar.update(ids.size());
      });
      producer.flush();
      bar.update(total);
    }
    done.setProperty(key, Long.toString(ids.size()));
    done.putIfAbsent(MAX_WINDOWS_KEY, Integer.toString(cluster.options().maxWindows()));
    try (var w = Files.newBufferedWriter(marker)) {
      done.store(w, "datasets produced to shoal.docs by shoal demo: path = distinct documents");
    }
    return ids.size();
  }
}
