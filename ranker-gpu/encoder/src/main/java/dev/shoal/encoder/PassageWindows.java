package dev.shoal.encoder;

import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * How a passage longer than the model's window is embedded: as overlapping windows that each fit
 * the window, whose embeddings are pooled into the one vector the document is indexed with.
 *
 * <p>Windows are cut between words (at whitespace, which the tokenizer never puts inside a token),
 * so each window tokenizes exactly as its span of the original text does, and each holds as many
 * whole words as fit in the model's window after [CLS], [SEP] and the passage prefix. Consecutive
 * windows share about {@code overlapTokens} tokens, so no sentence is seen only cut in half. A
 * passage that fits is one window, the text itself: its embedding is what truncation gave. At
 * most {@code maxWindows} windows are made (the rest of a longer text is left out of the vector
 * and still indexed for BM25), which bounds what one document can cost to embed.
 *
 * <p>Pooling is the mean of the windows' embeddings weighted by their token counts, L2-normalised:
 * the passage's embedding is the average of what the model makes of each part of it, as if the
 * model had a longer window. One vector per document keeps the vector index, the exact-cosine
 * rescoring and the stored records as they are; scoring by the best window instead needs several
 * vectors per document in the index.
 *
 * <p>Immutable and safe for concurrent use.
 */
public final class PassageWindows {

  /** One window: its text and how many tokens it is (without [CLS] and [SEP]). */
  public record Window(String text, int tokens) {
  }

  /** Window overlap when none is configured: a quarter of a 256-token window. */
  public static final int DEFAULT_OVERLAP_TOKENS = 64;
  /**
   * Windows per passage when none is configured: 1, truncation. Measured with bge-small-en-v1.5 at
   * 256 tokens, pooling up to 8 windows lowered dense nDCG@10 on SciFact (0.7034 to 0.6964) and
   * Cranfield (0.4031 to 0.3961) and cost 1.71x the ingest time on SciFact, so it is an option
   * ({@code --max-windows}), not the default.
   */
  public static final int DEFAULT_MAX_WINDOWS = 1;

  // the tokenizer's white space (Unicode White_Space), which never falls inside a token
  private static final Pattern SPACE =
      Pattern.compile("[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]+");

  private final WordPieceTokenizer tokenizer;
  private final int budget;
  private final int overlap;
  private final int maxWindows;

  /**
   * @param tokenizer     the model's tokenizer
   * @param budget        tokens a window may hold: the model's window less [CLS], [SEP] and the passage prefix
   * @param overlapTokens tokens consecutive windows share (at most half the budget)
   * @param maxWindows    windows per passage, at least 1 (1: the passage is truncated to its first window)
   */
  public PassageWindows(WordPieceTokenizer tokenizer, int budget, int overlapTokens, int maxWindows) {
    if (budget < 1) {
      throw new IllegalArgumentException("a window must hold at least one token, got " + budget);
    }
    if (overlapTokens < 0 || overlapTokens > budget / 2) {
      throw new IllegalArgumentException("window overlap must be 0.." + budget / 2 + " tokens (half a " + budget
          + "-token window), got " + overlapTokens);
    }
    if (maxWindows < 1) {
      throw new IllegalArgumentException("max windows must be at least 1, got " + maxWindows);
    }
    this.tokenizer = tokenizer;
    this.budget = budget;
    this.overlap = overlapTokens;
    this.maxWindows = maxWindows;
  }

  /** {@link #forModel(ModelSpec, int, int)} with the defaults. */
  public static PassageWindows forModel(ModelSpec spec) {
    return forModel(spec, DEFAULT_OVERLAP_TOKENS, DEFAULT_MAX_WINDOWS);
  }

  /**
   * Windows of the model's window size, sharing {@code overlapTokens} tokens or half a window,
   * whichever is less.
   *
   * @throws UncheckedIOException when the model's tokenizer.json cannot be read
   */
  public static PassageWindows forModel(ModelSpec spec, int overlapTokens, int maxWindows) {
    WordPieceTokenizer t;
    try (InputStream in = ModelFiles.open(spec.tokenizer())) {
      t = WordPieceTokenizer.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + spec.name() + "'s tokenizer " + spec.tokenizer(), e);
    }
    int prefix = spec.passagePrefix().isEmpty() ? 0 : t.count(spec.passagePrefix());
    int budget = spec.maxTokens() - 2 - prefix;
    return new PassageWindows(t, budget, Math.min(overlapTokens, budget / 2), maxWindows);
  }

  public int maxWindows() {
    return maxWindows;
  }

  public int overlapTokens() {
    return overlap;
  }

  /**
   * The passage's windows, in order; one (the text itself) when it fits or when only one is allowed.
   * Words are tokenized only as far as the windows reach: the rest of a long text costs nothing.
   */
  public List<Window> split(String passage) {
    if (maxWindows == 1) { // tokenized up to the window only, as the encoder will truncate it
      return List.of(new Window(passage, tokenizer.encode(passage, budget + 2).length - 2));
    }
    String[] words = SPACE.split(passage.strip());
    int[] cost = new int[words.length];
    Arrays.fill(cost, -1);
    int total = 0;
    for (int i = 0; i < words.length && total <= budget; i++) {
      total += cost(words, cost, i);
    }
    if (total <= budget) {
      return List.of(new Window(passage, total));
    }
    List<String> all = Arrays.asList(words);
    List<Window> out = new ArrayList<>();
    int start = 0;
    while (out.size() < maxWindows) {
      int end = start;
      int tokens = 0;
      while (end < words.length && tokens + cost(words, cost, end) <= budget) {
        tokens += cost[end++];
      }
      if (end == start) { // one word longer than a window: the encoder truncates it
        tokens = Math.min(budget, cost[end]);
        end++;
      }
      out.add(new Window(String.join(" ", all.subList(start, end)), tokens));
      if (end >= words.length) {
        break;
      }
      int next = end;
      int shared = 0;
      while (next - 1 > start && shared + cost[next - 1] <= overlap) {
        shared += cost[--next];
      }
      start = next;
    }
    return out;
  }

  /** The word's token count, counted the first time it is asked for. */
  private int cost(String[] words, int[] cost, int i) {
    if (cost[i] < 0) {
      cost[i] = tokenizer.count(words[i]);
    }
    return cost[i];
  }

  /**
   * The token-weighted mean of the windows' embeddings, L2-normalised; a single window's
   * embedding as it is (and the first window's if the mean has no direction).
   *
   * @param vectors one unit embedding per window, in the order of {@code windows}
   */
  public static float[] pool(List<Window> windows, List<float[]> vectors) {
    if (windows.size() != vectors.size() || vectors.isEmpty()) {
      throw new IllegalArgumentException(vectors.size() + " embeddings for " + windows.size() + " windows");
    }
    if (vectors.size() == 1) {
      return vectors.getFirst();
    }
    int dim = vectors.getFirst().length;
    double[] sum = new double[dim];
    for (int w = 0; w < vectors.size(); w++) {
      float[] v = vectors.get(w);
      double weight = Math.max(1, windows.get(w).tokens());
      for (int i = 0; i < dim; i++) {
        sum[i] += weight * v[i];
      }
    }
    double norm = 0;
    for (double x : sum) {
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    if (!(norm > 1e-9)) { // windows that cancel out: no direction to average; the first one stands
      return vectors.getFirst();
    }
    float[] out = new float[dim];
    for (int i = 0; i < dim; i++) {
      out[i] = (float) (sum[i] / norm);
    }
    return out;
  }
}
