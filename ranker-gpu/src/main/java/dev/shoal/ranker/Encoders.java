package dev.shoal.ranker;

import dev.shoal.ranker.cpu.OnnxEncoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the {@link Encoder} for a model, choosing the backend. Only the CPU backend exists
 * so far; {@code auto} resolves to it and the log line says so.
 */
public final class Encoders {

  private static final Logger LOG = LoggerFactory.getLogger(Encoders.class);

  private Encoders() {
  }

  public static Encoder create(ModelSpec spec, String backend, int parallelism, int maxBatch) {
    return switch (backend) {
      case "auto", "cpu" -> {
        long start = System.nanoTime();
        Encoder e = new OnnxEncoder(spec, parallelism, maxBatch);
        LOG.info("encoder {} on {}: backend={} requested, CPU chosen because no CUDA backend is built in; "
                + "loaded in {} ms", spec.name(), e.backend(), backend, (System.nanoTime() - start) / 1_000_000);
        yield e;
      }
      default -> throw new IllegalArgumentException("unknown encoder backend '" + backend + "' (auto | cpu)");
    };
  }
}
