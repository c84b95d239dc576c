package dev.shoal.cluster;

/**
 * The layout of a routing table's epoch: the shard manager's leadership term (its election's
 * group generation) in the high 32 bits, a step within the term in the low 32. Every epoch of a
 * new term is above every epoch of an older one, so nodes and query services, which apply only
 * epochs above the newest they have seen, ignore a deposed leader. The one owner of this layout.
 */
public final class Epoch {

  private Epoch() {
  }

  /** The first epoch a leader of {@code term} may publish. */
  public static long firstOfTerm(int term) {
    return (long) term << 32;
  }

  /** The next epoch a leader of {@code term} publishes after {@code current} (the newest seen, 0 for none). */
  public static long next(long current, int term) {
    return Math.max(current + 1, firstOfTerm(term));
  }

  public static long term(long epoch) {
    return epoch >>> 32;
  }

  public static long step(long epoch) {
    return epoch & 0xffffffffL;
  }
}
