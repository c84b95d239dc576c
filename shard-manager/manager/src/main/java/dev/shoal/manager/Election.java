package dev.shoal.manager;

import java.time.Duration;

/**
 * How a shard manager learns whether it leads: {@link dev.shoal.manager.internal.ManagerElection}
 * (Kafka group membership) in production; a stub in tests that need a manager which believes it
 * leads when it does not (a zombie). Not thread-safe: {@link #poll} from the manager's loop thread,
 * {@link #wakeup} from any thread.
 */
public interface Election extends AutoCloseable {

  /** Keeps the membership alive; whether this manager leads now. */
  boolean poll(Duration timeout);

  /** The term this manager leads in (a number that grows with every change of leader). */
  int generation();

  void wakeup();

  @Override
  void close();
}
