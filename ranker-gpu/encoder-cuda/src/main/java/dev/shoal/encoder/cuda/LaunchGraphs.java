package dev.shoal.encoder.cuda;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;

/**
 * One lane's CUDA graphs: the kernel launches of a forward pass captured once per shape bucket
 * (batch and sequence rounded up to powers of two) and replayed with one {@code cuGraphLaunch},
 * so a small batch (a query) does not pay ~90 separate launches through JNI. Small work only:
 * bucketing pads, which costs nothing next to launch overhead at a few sequences but would
 * waste compute on a large batch (see {@link #worthIt}).
 *
 * <p>Not thread-safe: owned by one lane, used by one call at a time; the buffers a graph's kernels
 * read and write are the lane's, fixed for its life, so a captured graph stays valid.
 * {@code -Dshoal.cuda.graphs=false} turns graphs off.
 */
final class LaunchGraphs implements AutoCloseable {

  /** Padded token rows up to which a call is bucketed and run as a graph. */
  static final int MAX_ROWS = 4_096;
  static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("shoal.cuda.graphs", ""));

  private final Map<Long, CUgraphExec> graphs = new HashMap<>();

  /** Whether a call of {@code batch} sequences of {@code seq} tokens runs as a graph. */
  static boolean worthIt(int batch, int seq) {
    return ENABLED && (long) batch * seq <= MAX_ROWS;
  }

  /** The power of two at least {@code n}, at most {@code cap} (and at least {@code n}). */
  static int bucket(int n, int cap) {
    int b = Integer.highestOneBit(Math.max(1, n - 1)) << 1;
    if (n <= 1) {
      b = 1;
    }
    return Math.max(n, Math.min(b, cap));
  }

  int size() {
    return graphs.size();
  }

  /** Replays the graph of this shape, capturing {@code launches} into it on first use. */
  void run(int batch, int seq, CUstream stream, Runnable launches) {
    long key = (long) batch << 32 | seq;
    CUgraphExec exec = graphs.get(key);
    if (exec == null) {
      cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
      CUgraph graph = new CUgraph();
      try {
        launches.run();
      } finally {
        cuStreamEndCapture(stream, graph);
      }
      exec = new CUgraphExec();
      try {
        cuGraphInstantiate(exec, graph, 0);
      } finally {
        cuGraphDestroy(graph);
      }
      graphs.put(key, exec);
    }
    cuGraphLaunch(exec, stream);
  }

  @Override
  public void close() {
    graphs.values().forEach(e -> cuGraphExecDestroy(e));
    graphs.clear();
  }
}
