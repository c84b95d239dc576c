package dev.shoal.encoder.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A CUDA backend's lanes (a stream with its buffers each), handed to one call at a time: a call
 * takes a free lane, waiting if all are busy, runs with the kernels' context current, and gives it
 * back. {@link #close} refuses new calls, waits until every lane is back, then frees each.
 * Thread-safe.
 */
final class Lanes<L> {

  private final List<L> all = new ArrayList<>();
  private final BlockingQueue<L> free;
  private final String what;
  private volatile boolean closed;

  /** @param what the backend, for "... closed" errors */
  Lanes(List<L> lanes, String what) {
    this.all.addAll(lanes);
    this.free = new ArrayBlockingQueue<>(lanes.size(), false, lanes);
    this.what = what;
  }

  /** Runs {@code work} on a free lane with {@code kernels}' context current. */
  <T> T on(CudaKernels kernels, Function<L, T> work) {
    if (closed) {
      throw new IllegalStateException(what + " closed");
    }
    L lane;
    try {
      lane = free.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a CUDA stream", e);
    }
    try {
      if (closed) {
        throw new IllegalStateException(what + " closed");
      }
      kernels.makeCurrent();
      return work.apply(lane);
    } finally {
      free.add(lane);
    }
  }

  /** Whether {@link #close} ran. */
  boolean closed() {
    return closed;
  }

  /** Refuses new calls, waits for every lane to be back, then frees each (with the context current). */
  synchronized void close(CudaKernels kernels, Consumer<L> freeLane) {
    if (closed) {
      return;
    }
    closed = true;
    List<L> taken = new ArrayList<>();
    try {
      for (int i = 0; i < all.size(); i++) {
        taken.add(free.take()); // each lane is back once its call finished
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    kernels.makeCurrent();
    taken.forEach(freeLane);
  }
}
