package dev.shoal.server.lucene;

import org.apache.lucene.util.automaton.RegExp;

/**
 * The bound on the regular expressions a client may send in Lucene query syntax ({@code /.../}),
 * applied by the query service's validator and again by every shard's parser so that both accept
 * exactly the same queries.
 *
 * <p>Lucene's own limit (the determinization work limit) applies only after {@link
 * RegExp#toAutomaton()} has built the non-deterministic automaton, and building it is where a
 * hostile expression spends its time and memory: each counted repeat copies its operand, so
 * nesting multiplies — {@code a{1,1000}{1,1000}} has a million states and took 30 minutes to
 * compile, {@code .+++++++++++++++++++++++++++} doubles per {@code +} and exhausted a 2 GB heap
 * (both found by fuzzing). This class parses the expression (cheap: a tree as long as the text)
 * and estimates, from the tree alone, how many states Lucene's construction will create, refusing
 * those above {@link #MAX_STATES} before anything is built. The bound is low because the
 * automaton is then determinized (Lucene's work limit applies there, but the work up to it grows
 * with the automaton: a 10,000-state one kept the shard fuzz target in {@code determinize} for
 * minutes under instrumentation); real queries' expressions are far smaller
 * ({@code [a-z]{2,10}ing} is 23 states, {@code (ab|cd){1,20}} 141).
 *
 * <p>Stateless and thread-safe.
 */
public final class RegexpBudget {
  /** Longest expression accepted, in characters; it also bounds the parser's recursion. */
  public static final int MAX_LENGTH = 256;

  /** Most automaton states an accepted expression may build, as estimated by {@link #states}. */
  public static final long MAX_STATES = 1_000;

  private RegexpBudget() {}

  /**
   * Checks one expression, with the syntax flags {@link org.apache.lucene.search.RegexpQuery} uses.
   *
   * @throws IllegalArgumentException saying what to change when it is too long, does not parse, or
   *     would build more than {@link #MAX_STATES} states
   */
  public static void check(String regexp) {
    if (regexp.length() > MAX_LENGTH) {
      throw new IllegalArgumentException("a regular expression may have at most " + MAX_LENGTH
          + " characters, this one has " + regexp.length());
    }
    long states = states(new RegExp(regexp, RegExp.ALL));
    if (states > MAX_STATES) {
      throw new IllegalArgumentException("regular expression /" + regexp + "/ is too complex: its automaton would "
          + "have about " + (states == Long.MAX_VALUE ? "unbounded" : String.valueOf(states)) + " states, at most "
          + MAX_STATES + " are allowed (use smaller repetition counts and do not nest repeats)");
    }
  }

  /**
   * Estimated number of states Lucene's {@code RegExp.toAutomaton} creates for this tree before any
   * determinization, saturating at {@link Long#MAX_VALUE}. It follows the construction: a repeat
   * {@code x{n,m}} concatenates {@code m} copies of {@code x}, {@code x{n,}} makes {@code n + 1},
   * an intersection is a product.
   */
  static long states(RegExp r) {
    return switch (r.kind) {
      case REGEXP_UNION -> add(add(states(r.exp1), states(r.exp2)), 1);
      case REGEXP_CONCATENATION -> add(states(r.exp1), states(r.exp2));
      case REGEXP_INTERSECTION -> multiply(states(r.exp1), states(r.exp2));
      case REGEXP_OPTIONAL, REGEXP_REPEAT, REGEXP_COMPLEMENT, REGEXP_DEPRECATED_COMPLEMENT -> add(states(r.exp1), 1);
      case REGEXP_REPEAT_MIN -> add(multiply(states(r.exp1), (long) r.min + 1), 1);
      case REGEXP_REPEAT_MINMAX -> add(multiply(states(r.exp1), Math.max((long) r.max, 1)), 1);
      case REGEXP_STRING -> r.s.codePointCount(0, r.s.length()) + 1L;
      // an interval <n-m> unrolls digit by digit
      case REGEXP_INTERVAL -> multiply(Math.max(r.digits, String.valueOf(r.max).length()), 12);
      case REGEXP_CHAR, REGEXP_CHAR_RANGE, REGEXP_CHAR_CLASS, REGEXP_ANYCHAR -> 2;
      case REGEXP_EMPTY, REGEXP_ANYSTRING, REGEXP_AUTOMATON -> 1;
    };
  }

  private static long add(long a, long b) {
    long s = a + b;
    return s < 0 ? Long.MAX_VALUE : s;
  }

  private static long multiply(long a, long b) {
    return Math.multiplyHigh(a, b) != 0 || a * b < 0 ? Long.MAX_VALUE : a * b;
  }
}
