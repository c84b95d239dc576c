package dev.shoal.encoder.cuda;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.EncoderProvider;
import dev.shoal.encoder.ModelSpec;
import java.lang.reflect.InvocationTargetException;
import java.util.Optional;

/**
 * The {@code cuda} backend: Shoal's kernels on an NVIDIA GPU, preferred by {@code auto}.
 * Availability is decided by {@link CudaProbe} without touching JCuda, and {@link CudaEncoder}
 * is loaded by name only in {@link #create}, so a machine without a driver never loads a JCuda
 * class (a failed native load would poison the JVM).
 */
public final class CudaEncoderProvider implements EncoderProvider {

  private static final String ENCODER = "dev.shoal.encoder.cuda.CudaEncoder";

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public int priority() {
    return 100;
  }

  @Override
  public Optional<String> unavailableReason() {
    return CudaProbe.whyNot();
  }

  @Override
  public Encoder create(ModelSpec spec, Settings settings) {
    try {
      return (Encoder) Class.forName(ENCODER).getConstructor(ModelSpec.class, int.class)
          .newInstance(spec, settings.maxBatch());
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("the CUDA backend is not on the class path: " + e, e);
    }
  }
}
