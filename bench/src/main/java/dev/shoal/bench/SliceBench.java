package dev.shoal.bench;

import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.eval.BeirDataset;
import dev.shoal.indexnode.shard.ShardQueries;
import dev.shoal.indexnode.shard.ShardSchema;
import dev.shoal.indexnode.shard.SlicedSearcher;
import dev.shoal.testkit.LocalCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.MultiReader;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.store.FSDirectory;

/**
 * Whether a second thread pays for one BM25 search, and from what size: the demo's shards (their
 * last commits) copied 1, 10, 40 and 100 times into scratch indexes of one segment a shard (the
 * shape a compacted shard has), each searched by one thread ({@link IndexSearcher}, the baseline)
 * and by two slices ({@link SlicedSearcher}: the caller and one pool thread, its minimum per slice
 * set to one document so that it always cuts two), in alternating rounds, one query at a time.
 * What {@link SlicedSearcher#MIN_DOCS_PER_SLICE} was chosen from. Copies repeat documents: the
 * postings grow as a larger corpus's would, the vocabulary does not.
 */
public final class SliceBench {

  /**
   * @param dataDir a demo data directory (its node-1/shard-N/lucene commits are copied, not changed)
   * @param dataset the queries
   * @param copies  corpus sizes in copies of the shards
   * @param queries queries per round (the dataset's cycled)
   * @param output  results file (Markdown)
   */
  public record Options(Path dataDir, Path dataset, List<Integer> copies, int queries, Path output) {
  }

  private static final int ROUNDS = 3;

  private SliceBench() {
  }

  public static String run(Options o) throws IOException, ParseException {
    List<String> texts = new BeirDataset(o.dataset()).queries().stream().map(BeirDataset.Query::text).toList();
    List<Path> shards = new ArrayList<>();
    for (int s = 0; Files.isDirectory(LocalCluster.luceneDir(o.dataDir(), s)); s++) {
      shards.add(LocalCluster.luceneDir(o.dataDir(), s));
    }
    if (shards.isEmpty()) {
      throw new IllegalArgumentException("no shard indexes under " + o.dataDir() + ": run bin/shoal demo once first");
    }
    ShardQueries parser = new ShardQueries(ShardSchema.analyzer());
    List<Query> queries = new ArrayList<>();
    for (String t : texts) {
      queries.add(parser.lexical(t, QuerySyntax.PLAIN));
    }
    Path scratch = Files.createTempDirectory("shoal-slices");
    ExecutorService pool = Executors.newFixedThreadPool(1, r -> {
      Thread t = new Thread(r, "slice");
      t.setDaemon(true);
      return t;
    });
    StringBuilder md = new StringBuilder("# Slicing one search\n\n");
    md.append(String.format(Locale.ROOT, "BM25 over the demo's %d shards (%s) copied n times, one segment a shard; "
        + "%d of the dataset's queries per round, top 10, one query at a time; %d rounds each way, alternating; "
        + "%d CPUs. Baseline: one thread. Two slices: the caller and one pool thread.%n%n", shards.size(),
        o.dataDir(), o.queries(), ROUNDS, Runtime.getRuntime().availableProcessors()));
    md.append("| copies | documents | one thread: p50 / p90 ms per round | two slices: p50 / p90 ms per round "
        + "| p50 two / one (means of the rounds) |\n|---:|---:|---|---|---:|\n");
    try {
      for (int n : o.copies()) {
        try (IndexReader reader = copies(shards, n, scratch.resolve("x" + n))) {
          if (n == o.copies().getFirst()) { // both paths compiled before the first round counts
            for (int i = 0; i < 3; i++) {
              measure(searcher(reader, null), queries, o.queries());
              measure(searcher(reader, pool), queries, o.queries());
            }
          }
          double[][] one = new double[ROUNDS][];
          double[][] two = new double[ROUNDS][];
          for (int round = 0; round < ROUNDS; round++) {
            one[round] = measure(searcher(reader, null), queries, o.queries());
            two[round] = measure(searcher(reader, pool), queries, o.queries());
          }
          double ratio = Arrays.stream(two).mapToDouble(r -> r[0]).sum() / Arrays.stream(one).mapToDouble(r -> r[0]).sum();
          String row = String.format(Locale.ROOT, "| %d | %d | %s | %s | %.2f |%n", n, reader.maxDoc(), cells(one),
              cells(two), ratio);
          System.out.print(row);
          md.append(row);
        }
      }
    } finally {
      pool.shutdownNow();
      BenchFiles.deleteTree(scratch);
    }
    Files.writeString(o.output(), md);
    return md + "written to " + o.output() + "\n";
  }

  /** One thread (no executor), or two slices: the caller and {@code pool}'s thread, whatever the size. */
  private static IndexSearcher searcher(IndexReader reader, ExecutorService pool) {
    IndexSearcher s = pool == null ? new IndexSearcher(reader) : new SlicedSearcher(reader, pool, 2, 1);
    s.setSimilarity(ShardSchema.similarity());
    return s;
  }

  /** Each shard's documents {@code n} times over, merged to one segment; a MultiReader of them. */
  private static IndexReader copies(List<Path> shards, int n, Path dir) throws IOException {
    List<IndexReader> out = new ArrayList<>();
    for (int s = 0; s < shards.size(); s++) {
      Path target = dir.resolve("shard-" + s);
      try (DirectoryReader source = DirectoryReader.open(FSDirectory.open(shards.get(s)));
           IndexWriter w = new IndexWriter(FSDirectory.open(target), new IndexWriterConfig())) {
        List<CodecReader> parts = new ArrayList<>();
        for (int c = 0; c < n; c++) {
          for (LeafReaderContext leaf : source.leaves()) {
            parts.add((CodecReader) leaf.reader());
          }
        }
        w.addIndexes(parts.toArray(CodecReader[]::new));
        w.forceMerge(1);
        w.commit();
      }
      out.add(DirectoryReader.open(FSDirectory.open(target)));
    }
    return new MultiReader(out.toArray(IndexReader[]::new), true);
  }

  /** p50 and p90 in ms of {@code count} searches (after as many unmeasured). */
  private static double[] measure(IndexSearcher s, List<Query> queries, int count) throws IOException {
    long[] nanos = new long[count];
    for (int pass = 0; pass < 2; pass++) {
      for (int i = 0; i < count; i++) {
        long t0 = System.nanoTime();
        s.search(queries.get(i % queries.size()), 10);
        nanos[i] = System.nanoTime() - t0;
      }
    }
    Arrays.sort(nanos);
    return new double[] {nanos[count / 2] / 1e6, nanos[count * 9 / 10] / 1e6};
  }

  private static String cells(double[][] rounds) {
    List<String> out = new ArrayList<>();
    for (double[] r : rounds) {
      out.add(String.format(Locale.ROOT, "%.3f / %.3f", r[0], r[1]));
    }
    return String.join("; ", out);
  }
}
