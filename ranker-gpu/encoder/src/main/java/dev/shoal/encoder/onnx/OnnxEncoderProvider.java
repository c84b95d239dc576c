package dev.shoal.encoder.onnx;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.EncoderProvider;
import dev.shoal.encoder.ModelSpec;
import java.util.Optional;

/** The {@code cpu} backend: ONNX Runtime, available everywhere; the fallback of {@code auto}. */
public final class OnnxEncoderProvider implements EncoderProvider {

  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public int priority() {
    return 0;
  }

  @Override
  public Optional<String> unavailableReason() {
    return Optional.empty();
  }

  @Override
  public Encoder create(ModelSpec spec, Settings settings) {
    return new OnnxEncoder(spec, settings.parallelism(), settings.maxBatch());
  }

  @Override
  public CrossEncoder createCrossEncoder(CrossEncoderSpec spec, Settings settings) {
    return new OnnxCrossEncoder(spec, settings.parallelism(), settings.maxBatch());
  }
}
