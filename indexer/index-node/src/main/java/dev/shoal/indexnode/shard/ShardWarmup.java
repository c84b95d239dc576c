package dev.shoal.indexnode.shard;

import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.internal.v1.VectorLeg;
import dev.shoal.internal.v1.VectorScorer;
import dev.shoal.server.time.Clock;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.lucene.queryparser.classic.ParseException;

/**
 * Searches a replica runs against itself before it reports LIVE, so the first queries routed to it
 * find its readers open (term dictionaries, postings, the HNSW graph and the stored vectors paged
 * in) and the search, scoring and snippet code compiled.
 *
 * <p>The queries come from the shard's own documents: a few are sampled, their words make BM25
 * queries of 2 to 8 terms and their stored embeddings make kNN queries, in the mix the query
 * service sends (BM25 with corpus statistics and the top hits hydrated; kNN with the exact-cosine
 * scorer; both legs together), then a Hydrate of the hits as a page fetch does.
 *
 * <p>Failures are counted, not thrown: a warm-up never fails a replica (a broken shard fails on
 * its next apply or search, where the error is reported). It stops after {@code searches} or once
 * its budget has passed, whichever comes first. Stateless; call from the thread that owns the store.
 */
public final class ShardWarmup {

  /** Searches per replica by default: enough for C2 to compile the search path on the first shard. */
  public static final int SEARCHES = 48;
  /** The longest one replica's warm-up holds its LIVE back by default. */
  public static final long BUDGET_MILLIS = 2_000;
  /** Documents whose words and vectors make the queries. */
  static final int SAMPLE = 16;
  private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}]{3,}");

  /**
   * What a warm-up did: searches run (the sampling of documents counts as one, a search and its
   * Hydrate as one) and how many of them failed.
   */
  public record Report(int searches, int failed) {}

  private ShardWarmup() {}

  /** Runs the warm-up against {@code store}'s current searcher; returns when done or out of budget. */
  public static Report run(ShardStore store, int searches, long budgetMillis, Clock clock) {
    long end = clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budgetMillis);
    if (searches <= 0) {
      return new Report(0, 0);
    }
    List<String> words = new ArrayList<>();
    List<List<Float>> vectors = new ArrayList<>();
    try {
      if (store.docCount() == 0) {
        return new Report(0, 0);
      }
      sample(store, words, vectors);
    } catch (IOException | RuntimeException e) {
      return new Report(1, 1);
    }
    if (words.isEmpty() && vectors.isEmpty()) {
      return new Report(1, 0);
    }
    int done = 1;
    int failed = 0;
    for (int i = 0; i < searches - 1 && clock.nanoTime() < end; i++) {
      done++;
      try {
        search(store, i, words, vectors);
      } catch (IOException | ParseException | RuntimeException e) {
        failed++;
      }
    }
    return new Report(done, failed);
  }

  private static void sample(ShardStore store, List<String> words, List<List<Float>> vectors) throws IOException {
    for (String id : store.someIds(SAMPLE)) {
      EnrichedDocument d = store.load(id);
      if (d == null) {
        continue;
      }
      Matcher m = WORD.matcher(d.getDocument().getTitle() + " " + d.getDocument().getText());
      for (int n = 0; n < 64 && m.find(); n++) {
        words.add(m.group().toLowerCase(Locale.ROOT));
      }
      if (d.getEmbeddingCount() > 0) {
        vectors.add(d.getEmbeddingList());
      }
    }
  }

  private static void search(ShardStore store, int i, List<String> words, List<List<Float>> vectors)
      throws IOException, ParseException {
    String text = words.isEmpty() ? "" : text(words, i);
    List<Float> vector = vectors.isEmpty() ? null : vectors.get(i % vectors.size());
    int kind = text.isEmpty() ? 1 : vector == null ? 0 : i % 3;
    ShardSearchRequest.Builder req = ShardSearchRequest.newBuilder().setShard(store.shard());
    if (kind != 1) {
      LexicalLeg lexical = LexicalLeg.newBuilder().setText(text).build();
      req.addLegs(Leg.newBuilder().setName("bm25").setK(100).setLexical(lexical))
          .setHydrateTop(10).setHighlight(text)
          .setStatistics(store.statistics(StatisticsRequest.newBuilder().setShard(store.shard())
              .addLegs(lexical).build()));
    }
    if (kind != 0) {
      req.addLegs(Leg.newBuilder().setName("knn").setK(100).setVector(VectorLeg.newBuilder().addAllVector(vector)))
          .addScorers(VectorScorer.newBuilder().setName("cosine").addAllVector(vector));
    }
    ShardSearchResponse r = store.search(req.build());
    List<String> page = r.getHitsList().stream().limit(10).map(ShardHit::getId).toList();
    store.hydrate(page, text, List.of(), true, true, false);
  }

  /** 2 to 8 of the sampled words, a different run of them for each {@code i}. */
  private static String text(List<String> words, int i) {
    int n = 2 + i % 7;
    StringBuilder b = new StringBuilder();
    for (int j = 0; j < n; j++) {
      if (j > 0) {
        b.append(' ');
      }
      b.append(words.get((i * 7 + j * 13) % words.size()));
    }
    return b.toString();
  }
}
