package dev.shoal.server;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Threads for expensive work (deep pages, large rerank depths) that the kernel schedules after
 * ordinary work when the cores are busy: each lowers its own scheduling priority (Linux nice
 * {@value #NICE}, through libc's {@code setpriority} on its thread id) before it runs anything.
 * Java's own thread priorities are ignored by Linux, and admission control can bound how many
 * expensive searches run but not how much of the CPU they take from health checks and small
 * searches while they do; with nice 10 they get about a tenth of a contended core's time.
 *
 * <p>Where the call is not available (not Linux, native access not enabled) the threads run at
 * normal priority and one line says so. A thread cannot raise its priority back without
 * privileges, so these threads are only ever used for such work. Thread-safe.
 */
public final class LowPriorityThreads implements ThreadFactory {
  public static final int NICE = 10;
  private static final Logger LOG = LoggerFactory.getLogger(LowPriorityThreads.class);
  private static final MethodHandle SETPRIORITY;
  private static final MethodHandle GETTID;

  static {
    MethodHandle set = null;
    MethodHandle tid = null;
    try {
      Linker linker = Linker.nativeLinker();
      var libc = linker.defaultLookup();
      set = linker.downcallHandle(libc.find("setpriority").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
      tid = linker.downcallHandle(libc.find("gettid").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
    } catch (RuntimeException | LinkageError e) {
      LOG.info("expensive work runs at normal priority: setpriority/gettid unavailable ({})", e.toString());
    }
    SETPRIORITY = set;
    GETTID = tid;
  }

  private final String name;
  private final AtomicInteger count = new AtomicInteger();

  public LowPriorityThreads(String name) {
    this.name = name;
  }

  @Override
  public Thread newThread(Runnable r) {
    Thread t = new Thread(() -> {
      lowerCurrentThread();
      r.run();
    }, name + "-" + count.incrementAndGet());
    t.setDaemon(true);
    return t;
  }

  /** Lowers the calling thread's priority to nice {@value #NICE}; false where that is not possible. */
  static boolean lowerCurrentThread() {
    if (SETPRIORITY == null) {
      return false;
    }
    try {
      int tid = (int) GETTID.invokeExact();
      return (int) SETPRIORITY.invokeExact(0 /* PRIO_PROCESS: a thread id on Linux */, tid, NICE) == 0;
    } catch (Throwable e) {
      return false;
    }
  }
}
