package dev.shoal.testkit;

import dev.shoal.testkit.ShoalJvm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starts Shoal commands ({@code shoal node}, {@code shoal manager}) as separate JVMs for tests. */
public final class ServiceProcess {

  /** A started node and the address it serves ShardSearch on. */
  public record Started(Process process, String address) {
  }

  private ServiceProcess() {
  }

  private static String exitOf(Process p) {
    try {
      return Integer.toString(p.waitFor());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  public static Started start(String bootstrap, String nodeId, Path dataDir, Path tmp, String... extra) throws IOException {
    List<String> args = new ArrayList<>(List.of("node", "--kafka", bootstrap, "--node-id", nodeId, "--data-dir",
        dataDir.toString()));
    args.addAll(List.of(extra));
    Started s = startShoal(nodeId, tmp, "-Xmx512m", "serving ShardSearch on ", args);
    return new Started(s.process(), s.address().substring(s.address().lastIndexOf(' ') + 1).trim());
  }

  /**
   * Starts {@code shoal ARGS} in its own JVM and returns once it prints a line containing
   * {@code readyMarker}; that line is {@link Started#address()}.
   */
  public static Started startShoal(String name, Path tmp, String heap, String readyMarker, List<String> args)
      throws IOException {
    Process p = new ProcessBuilder(ShoalJvm.shoal(heap, tmp, tmp, args)).redirectErrorStream(true).start();
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String ready = null;
    String line;
    while ((line = r.readLine()) != null) {
      if (line.contains(readyMarker)) {
        ready = line;
        break;
      }
    }
    if (ready == null) {
      throw new IllegalStateException(name + " exited before it was ready (exit " + exitOf(p) + ")");
    }
    Thread drain = new Thread(() -> {
      try {
        while (r.readLine() != null) {
          // keep the pipe empty so the process never blocks on its output
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "drain-" + name);
    drain.setDaemon(true);
    drain.start();
    return new Started(p, ready);
  }
}
