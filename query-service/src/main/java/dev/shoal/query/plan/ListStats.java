package dev.shoal.query.plan;

/**
 * One merged first-phase list: its name, its length and the range of its scores (for rules that
 * normalise). An empty list has min = {@code Double.MAX_VALUE}, max = {@code -Double.MAX_VALUE}.
 */
public record ListStats(String name, int size, double min, double max) {

  public static ListStats empty(String name) {
    return new ListStats(name, 0, Double.MAX_VALUE, -Double.MAX_VALUE);
  }
}
