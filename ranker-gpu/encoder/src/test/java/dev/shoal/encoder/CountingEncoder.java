package dev.shoal.encoder;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** A real encoder that counts how often the model ran and on how many texts; for tests. */
public class CountingEncoder implements Encoder {
  private final Encoder inner;
  public final AtomicInteger calls = new AtomicInteger();
  public final AtomicInteger texts = new AtomicInteger();

  public CountingEncoder(Encoder inner) {
    this.inner = inner;
  }

  @Override
  public ModelSpec model() {
    return inner.model();
  }

  @Override
  public float[][] embed(List<String> t, Kind kind) {
    calls.incrementAndGet();
    texts.addAndGet(t.size());
    return inner.embed(t, kind);
  }

  @Override
  public String backend() {
    return inner.backend();
  }

  @Override
  public void close() {
    inner.close();
  }
}
