package dev.shoal.query.plan;

import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The named retrievers, fusion rules and rescorers a query service can run: those on the class
 * path ({@link #load()}, through {@link ServiceLoader}), or given explicitly (tests). A name
 * registered twice is an error at start-up. Immutable; thread-safe.
 */
public final class QueryStages {

  private final Map<String, Retriever> retrievers;
  private final Map<String, FusionRule> fusionRules;
  private final Map<String, Rescorer> rescorers;

  public QueryStages(List<Retriever> retrievers, List<FusionRule> fusionRules, List<Rescorer> rescorers) {
    this.retrievers = byName(retrievers, Retriever::name, "retriever");
    this.fusionRules = byName(fusionRules, FusionRule::name, "fusion rule");
    this.rescorers = byName(rescorers, Rescorer::name, "rescorer");
  }

  /** Every stage registered in {@code META-INF/services} on the class path (built-ins included). */
  public static QueryStages load() {
    return new QueryStages(all(Retriever.class), all(FusionRule.class), all(Rescorer.class));
  }

  private static <T> List<T> all(Class<T> type) {
    return ServiceLoader.load(type).stream().map(ServiceLoader.Provider::get).toList();
  }

  private static <T> Map<String, T> byName(List<T> stages, java.util.function.Function<T, String> name, String kind) {
    Map<String, T> m = new TreeMap<>();
    for (T s : stages) {
      String n = name.apply(s);
      if (n == null || !n.matches("[a-z0-9_.-]{1,64}")) {
        throw new IllegalArgumentException(kind + " " + s.getClass().getName() + " has an invalid name '" + n
            + "': use [a-z0-9_.-]{1,64}");
      }
      T prev = m.put(n, s);
      if (prev != null) {
        throw new IllegalArgumentException("two " + kind + "s named '" + n + "': " + prev.getClass().getName()
            + " and " + s.getClass().getName());
      }
    }
    return Map.copyOf(m);
  }

  public Retriever retriever(String name) {
    Retriever r = retrievers.get(name);
    if (r == null) {
      throw new IllegalArgumentException("unknown retriever '" + name + "': known are " + new TreeMap<>(retrievers)
          .keySet());
    }
    return r;
  }

  public FusionRule fusionRule(String name) {
    FusionRule r = fusionRules.get(name);
    if (r == null) {
      throw new IllegalArgumentException("unknown fusion rule '" + name + "': known are " + new TreeMap<>(fusionRules)
          .keySet());
    }
    return r;
  }

  public Rescorer rescorer(String name) {
    Rescorer r = rescorers.get(name);
    if (r == null) {
      throw new IllegalArgumentException("unknown rescorer '" + name + "': known are " + new TreeMap<>(rescorers)
          .keySet() + " (or \"none\")");
    }
    return r;
  }
}
