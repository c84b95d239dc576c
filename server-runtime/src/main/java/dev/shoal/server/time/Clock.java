package dev.shoal.server.time;

/**
 * Time as Shoal's services read it: a monotonic nanosecond clock for durations and deadlines,
 * and wall-clock milliseconds for what is compared across processes (heartbeat timestamps). Every
 * component that decides by time takes one, so its timing is unit-tested under a
 * {@link ManualClock}; production passes {@link #SYSTEM}. Implementations are thread-safe.
 */
public interface Clock {

  /** Monotonic: the same scale as {@link System#nanoTime()}. */
  long nanoTime();

  /** Wall clock: the same scale as {@link System#currentTimeMillis()}. */
  long currentTimeMillis();

  /** The JVM's clocks. */
  Clock SYSTEM = new Clock() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public long currentTimeMillis() {
      return System.currentTimeMillis();
    }

    @Override
    public String toString() {
      return "system clock";
    }
  };
}
