package dev.shoal.encoder.onnx;

import ai.onnxruntime.OrtEnvironment;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The process-wide ONNX Runtime environment, created on a thread with a large stack.
 *
 * <p>Why: loading ONNX Runtime 1.29's native library on an ordinary thread crashes the JVM
 * (SIGSEGV, no hs_err file) once the class path is long, as in a Maven test fork or our
 * launcher; the same load on a thread with a 64 MiB stack succeeds, and later calls on any
 * thread are fine.
 */
public final class OrtRuntime {

  private static final AtomicReference<OrtEnvironment> ENV = new AtomicReference<>();

  private OrtRuntime() {
  }

  public static OrtEnvironment environment() {
    OrtEnvironment env = ENV.get();
    if (env != null) {
      return env;
    }
    synchronized (OrtRuntime.class) {
      if (ENV.get() == null) {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread loader = new Thread(null, () -> {
          try {
            ENV.set(OrtEnvironment.getEnvironment());
          } catch (Throwable t) {
            failure.set(t);
          }
        }, "onnxruntime-load", 64L << 20);
        loader.start();
        try {
          loader.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while loading ONNX Runtime", e);
        }
        if (failure.get() != null) {
          throw new IllegalStateException("ONNX Runtime failed to load: " + failure.get(), failure.get());
        }
      }
      return ENV.get();
    }
  }
}
