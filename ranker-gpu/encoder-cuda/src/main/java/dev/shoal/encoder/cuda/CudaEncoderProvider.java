package dev.shoal.encoder.cuda;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
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
  private static final String CROSS_ENCODER = "dev.shoal.encoder.cuda.CudaCrossEncoder";

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
    return construct(ENCODER, ModelSpec.class, spec, settings.maxBatch());
  }

  @Override
  public CrossEncoder createCrossEncoder(CrossEncoderSpec spec, Settings settings) {
    return construct(CROSS_ENCODER, CrossEncoderSpec.class, spec, settings.maxBatch());
  }

  @SuppressWarnings("unchecked")
  private static <T> T construct(String className, Class<?> specType, Object spec, int maxBatch) {
    try {
      return (T) Class.forName(className).getConstructor(specType, int.class).newInstance(spec, maxBatch);
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
