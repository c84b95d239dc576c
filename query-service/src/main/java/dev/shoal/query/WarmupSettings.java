package dev.shoal.query;

/**
 * What a query service runs before it reports SERVING: {@code searches} searches, {@code clients}
 * at a time, over every rank profile, stopping early once {@code budgetMillis} have passed.
 * Without it the first few hundred queries after a start pay for the JIT compiling the search path,
 * the first connections to the shards and the ranker, and the model's first runs at each batch
 * shape: on this project's 2-core reference machine the first 300 NEURAL queries at 4 clients had
 * a p99 5.7x the warmed one, and 1.35–3.1x across runs with this warm-up and the index node's and
 * ranker's ({@code bin/shoal bench search}'s cold row: what remains is the JIT, still compiling
 * after 30 s in one JVM that runs every service). Immutable.
 *
 * @param searches     searches to run; 0 turns the warm-up off
 * @param clients      searches in flight at once (the ranker then batches queries, as under load)
 * @param budgetMillis the longest the warm-up may hold SERVING back
 */
public record WarmupSettings(int searches, int clients, long budgetMillis) {

  public WarmupSettings {
    if (searches < 0 || clients < 1 || budgetMillis < 0) {
      throw new IllegalArgumentException("warm-up: searches >= 0, clients >= 1 and budget >= 0 ms, got "
          + searches + ", " + clients + ", " + budgetMillis);
    }
  }

  /** 400 searches, 4 at a time, for at most 30 s. */
  public static WarmupSettings defaults() {
    return new WarmupSettings(400, 4, 30_000);
  }

  /** No warm-up: SERVING as soon as routing is known (tests of routing, not of latency). */
  public static WarmupSettings off() {
    return new WarmupSettings(0, 1, 0);
  }
}
