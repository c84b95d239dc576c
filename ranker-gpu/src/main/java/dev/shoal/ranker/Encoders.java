package dev.shoal.ranker;

import dev.shoal.ranker.cpu.OnnxEncoder;
import dev.shoal.ranker.cuda.CudaProbe;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the {@link Encoder} for a model, choosing the backend: {@code cuda} (Shoal's CUDA
 * kernels through JCuda), {@code cpu} (ONNX Runtime), or {@code auto}: CUDA when a driver is
 * present and the kernels load, else CPU. One log line says which backend runs and why. The
 * CUDA classes are loaded by name only after {@link CudaProbe} found a driver, so a machine
 * without one never touches JCuda.
 */
public final class Encoders {

  private static final Logger LOG = LoggerFactory.getLogger(Encoders.class);
  private static final String CUDA_ENCODER = "dev.shoal.ranker.cuda.CudaEncoder";

  private Encoders() {
  }

  public static Encoder create(ModelSpec spec, String backend, int parallelism, int maxBatch) {
    long start = System.nanoTime();
    return switch (backend) {
      case "cpu" -> cpu(spec, parallelism, maxBatch, "cpu requested", start);
      case "cuda" -> {
        Optional<String> why = CudaProbe.whyNot();
        if (why.isPresent()) {
          throw new IllegalStateException("backend cuda requested, but " + why.get());
        }
        Encoder e = cuda(spec, maxBatch);
        log(spec, e, "cuda requested", start);
        yield e;
      }
      case "auto" -> {
        Optional<String> why = CudaProbe.whyNot();
        if (why.isPresent()) {
          yield cpu(spec, parallelism, maxBatch, "auto: " + why.get(), start);
        }
        try {
          Encoder e = cuda(spec, maxBatch);
          log(spec, e, "auto: a CUDA device is present and the kernels loaded", start);
          yield e;
        } catch (RuntimeException | LinkageError failed) {
          yield cpu(spec, parallelism, maxBatch, "auto: the CUDA backend failed to start (" + failed + ")", start);
        }
      }
      default -> throw new IllegalArgumentException("unknown encoder backend '" + backend + "' (auto | cuda | cpu)");
    };
  }

  private static Encoder cpu(ModelSpec spec, int parallelism, int maxBatch, String why, long start) {
    Encoder e = new OnnxEncoder(spec, parallelism, maxBatch);
    log(spec, e, why, start);
    return e;
  }

  private static Encoder cuda(ModelSpec spec, int maxBatch) {
    try {
      return (Encoder) Class.forName(CUDA_ENCODER).getConstructor(ModelSpec.class, int.class)
          .newInstance(spec, maxBatch);
    } catch (java.lang.reflect.InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("the CUDA backend is not on the class path: " + e, e);
    }
  }

  private static void log(ModelSpec spec, Encoder e, String why, long start) {
    LOG.info("encoder {} on {} ({}); loaded in {} ms", spec.name(), e.backend(), why,
        (System.nanoTime() - start) / 1_000_000);
  }
}
