package dev.shoal.encoder;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the {@link Encoder} (or {@link CrossEncoder}) for a model on a backend found through
 * {@link EncoderProvider}:
 * by name ({@code cpu}, {@code cuda}, any registered one), or {@code auto}: the available
 * backend of highest priority that starts, falling back to the next when one fails. One log line
 * says which backend runs and why. Stateless; the providers are loaded once.
 */
public final class Encoders {

  private static final Logger LOG = LoggerFactory.getLogger(Encoders.class);
  private static final List<EncoderProvider> PROVIDERS = ServiceLoader.load(EncoderProvider.class).stream()
      .map(ServiceLoader.Provider::get).sorted(Comparator.comparingInt(EncoderProvider::priority).reversed()).toList();

  private Encoders() {
  }

  /** The names of the backends on the class path, most preferred first. */
  public static List<String> backends() {
    return PROVIDERS.stream().map(EncoderProvider::name).toList();
  }

  public static Encoder create(ModelSpec spec, String backend, int parallelism, int maxBatch) {
    EncoderProvider.Settings settings = new EncoderProvider.Settings(parallelism, maxBatch);
    return select("encoder", spec.name(), backend, p -> p.create(spec, settings), Encoder::backend);
  }

  /**
   * The {@link CrossEncoder} for a model on a backend, chosen as {@link #create} chooses: by name,
   * or {@code auto} (the available backend of highest priority that runs cross-encoders and starts).
   */
  public static CrossEncoder createCrossEncoder(CrossEncoderSpec spec, String backend, int parallelism, int maxBatch) {
    EncoderProvider.Settings settings = new EncoderProvider.Settings(parallelism, maxBatch);
    return select("cross-encoder", spec.name(), backend, p -> p.createCrossEncoder(spec, settings),
        CrossEncoder::backend);
  }

  private static <T> T select(String what, String model, String backend, Function<EncoderProvider, T> create,
                              Function<T, String> describe) {
    long start = System.nanoTime();
    if (!backend.equals("auto")) {
      EncoderProvider p = PROVIDERS.stream().filter(x -> x.name().equals(backend)).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("unknown encoder backend '" + backend + "' (auto | "
              + String.join(" | ", backends()) + ")"));
      Optional<String> why = p.unavailableReason();
      if (why.isPresent()) {
        throw new IllegalStateException("backend " + backend + " requested, but " + why.get());
      }
      return log(what, model, create.apply(p), describe, backend + " requested", start);
    }
    List<String> skipped = new ArrayList<>();
    RuntimeException last = null;
    for (EncoderProvider p : PROVIDERS) {
      Optional<String> why = p.unavailableReason();
      if (why.isPresent()) {
        skipped.add(p.name() + ": " + why.get());
        continue;
      }
      try {
        return log(what, model, create.apply(p), describe,
            "auto" + (skipped.isEmpty() ? "" : "; " + String.join("; ", skipped)), start);
      } catch (RuntimeException | LinkageError failed) {
        skipped.add(p.name() + " failed to start (" + failed + ")");
        last = failed instanceof RuntimeException re ? re : new IllegalStateException(failed);
      }
    }
    throw new IllegalStateException("no encoder backend can run " + what + " " + model + " here: "
        + skipped.stream().collect(Collectors.joining("; ")), last);
  }

  private static <T> T log(String what, String model, T made, Function<T, String> describe, String why, long start) {
    LOG.info("{} {} on {} ({}); loaded in {} ms", what, model, describe.apply(made), why,
        (System.nanoTime() - start) / 1_000_000);
    return made;
  }
}
