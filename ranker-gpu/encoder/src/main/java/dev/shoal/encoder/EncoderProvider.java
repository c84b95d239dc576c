package dev.shoal.encoder;

import java.util.Optional;

/**
 * One encoder backend, found by {@link Encoders} through {@link java.util.ServiceLoader}
 * ({@code META-INF/services/dev.shoal.encoder.EncoderProvider}): a backend is one class that
 * implements {@link Encoder}, one provider, and one line in that file.
 *
 * <p>Contract: the provider class is instantiated on every machine, so neither its constructor
 * nor {@link #unavailableReason()} may load native code or classes of an optional native
 * binding; only {@link #create} may. Implementations are stateless and thread-safe.
 */
public interface EncoderProvider {

  /** The backend's name in configuration ({@code --backend NAME}), e.g. {@code cpu}, {@code cuda}. */
  String name();

  /** Preference for {@code auto}: among the backends that can run here, the highest tries first. */
  int priority();

  /** Empty when this backend can run on this machine; otherwise why not, in words for a log line. */
  Optional<String> unavailableReason();

  /**
   * A ready encoder for the model.
   *
   * @throws IllegalArgumentException when the model is outside what this backend supports
   *                                  (checked before any device memory is taken)
   * @throws RuntimeException         when the backend fails to start; {@code auto} then tries the next
   */
  Encoder create(ModelSpec spec, Settings settings);

  /**
   * A ready cross-encoder for the model, under the same contract as {@link #create}.
   *
   * @throws UnsupportedOperationException when this backend runs no cross-encoders ({@code auto} then tries the next)
   */
  default CrossEncoder createCrossEncoder(CrossEncoderSpec spec, Settings settings) {
    throw new UnsupportedOperationException("the " + name() + " backend runs no cross-encoders");
  }

  /**
   * How a backend may use the machine.
   *
   * @param parallelism work items run at once (CPU threads, or device streams)
   * @param maxBatch    the largest batch handed to the model in one run
   */
  record Settings(int parallelism, int maxBatch) {
    public Settings {
      if (parallelism < 1 || maxBatch < 1) {
        throw new IllegalArgumentException("parallelism and maxBatch must be positive: " + parallelism + ", " + maxBatch);
      }
    }
  }
}
