package dev.shoal.server;

import dev.shoal.server.tls.Tls;
import dev.shoal.server.trace.Tracing;
import io.grpc.ManagedChannelBuilder;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

/**
 * The {@link GrpcServer}s running in this JVM, by the address they serve on, so that a client in
 * the same process reaches one over grpc-java's in-process transport instead of a socket. The demo,
 * the benchmarks and a single-machine deployment run a query service, its index node and its ranker
 * in one JVM; a query there then pays no loopback round trip to its own node: no HTTP/2 framing, no
 * syscalls, no event-loop hand-offs, and no protobuf serialisation (the in-process transport hands
 * the message object itself to the other side). Everything else is the same call: the server's
 * services, interceptors (API keys, metrics, tracing), executor, deadlines and cancellation.
 * Elasticsearch runs a shard request on the coordinating node without its transport for the same
 * reason.
 *
 * <p>Only a client that asks for it ({@link #channel}) goes in-process; {@link Tls#channel} always
 * dials the network, so what a client outside the process sees of TLS and certificates, and what
 * tests check of it, is unchanged. A call that never leaves the process needs neither: code in the
 * process already holds its keys.
 *
 * <p>A call made from a {@linkplain #callerThreads caller thread} (a query service's request
 * threads: each waits for the calls it makes anyway) to a server given an executor runs on that
 * thread: the server's side of it is not handed to the server's executor and back (two thread
 * wake-ups and two parks per call, about a tenth of a BM25 search's CPU on 2 cores). Every other
 * thread's call (a hedge timer's, a transport's callback) goes to the server's executor, so no
 * timer or event loop ever runs a server's work. What the caller gives up: the server's executor
 * no longer bounds how many such calls run at once, and the caller cannot stop waiting at its
 * deadline for a call that runs on itself. Thread-safe.
 */
public final class Colocated {

  private static final Set<String> SERVING = ConcurrentHashMap.newKeySet();
  private static final ThreadLocal<Boolean> CALLER = ThreadLocal.withInitial(() -> false);

  private Colocated() {
  }

  /** The in-process name of the server at {@code address}: one per address, so a restarted server on the same port is found again. */
  static String name(String address) {
    return "shoal@" + address;
  }

  static void serving(String address) {
    SERVING.add(address);
  }

  static void stopped(String address) {
    SERVING.remove(address);
  }

  /** Whether a {@link GrpcServer} of this JVM serves {@code address} (host:port, as it reports it). */
  public static boolean serves(String address) {
    return SERVING.contains(address);
  }

  /**
   * A channel builder for {@code target} (host:port): in-process when a server of this JVM serves
   * that address, else {@code tls.channel(target)}. The choice is made once, here: a channel built
   * in-process stays in-process (a server restarted on the same address in this JVM is found again).
   */
  public static ManagedChannelBuilder<?> channel(Tls tls, String target) {
    if (!serves(target)) {
      return tls.channel(target);
    }
    return InProcessChannelBuilder.forName(name(target)).intercept(Tracing.clientInterceptor());
  }

  /**
   * Threads from {@code threads} whose colocated calls run on themselves (see the class comment):
   * for threads that block on the calls they make, never for timers or event loops.
   */
  public static ThreadFactory callerThreads(ThreadFactory threads) {
    return r -> threads.newThread(() -> {
      CALLER.set(true);
      r.run();
    });
  }

  /**
   * An executor that runs each task on a new virtual thread named {@code prefix} and a number,
   * marked as a caller ({@link #callerThreads}): for a server whose calls mostly wait (on their
   * colocated calls, which then run on them, or on remote ones). A blocked virtual thread releases
   * its carrier and holds no OS thread; while the carriers have work, handing a call over or
   * resuming one is a switch inside the JVM, not a kernel wake-up of a pooled thread (an idle
   * carrier is still woken). Virtual threads are not time-sliced: a call that arrives while every
   * carrier runs one waits until one of those ends or blocks. Nothing bounds how many run at once,
   * which the services on it must do themselves (as the query service's search service bounds
   * its searches in flight). {@code shutdownNow} interrupts the running ones.
   */
  public static ExecutorService callerExecutor(String prefix) {
    return Executors.newThreadPerTaskExecutor(callerThreads(Thread.ofVirtual().name(prefix, 0).factory()));
  }

  /** Whether the current thread came from {@link #callerThreads}. */
  static boolean onCallerThread() {
    return CALLER.get();
  }

  /** The executor of a server's in-process side: the calling thread for a caller thread, else {@code server}. */
  static Executor serverExecutor(Executor server) {
    return task -> {
      if (onCallerThread()) {
        task.run();
      } else {
        server.execute(task);
      }
    };
  }
}
