package dev.shoal.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starts {@code shoal node} as a separate JVM for tests; returns once it serves ShardSearch. */
final class NodeProcess {

  /** A started node and the address it serves ShardSearch on. */
  record Started(Process process, String address) {
  }

  private NodeProcess() {
  }

  private static String exitOf(Process p) {
    try {
      return Integer.toString(p.waitFor());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  static Started start(String bootstrap, String nodeId, Path dataDir, Path tmp, String... extra) throws IOException {
    String javaBin = ProcessHandle.current().info().command().orElseThrow();
    List<String> cmd = new ArrayList<>(List.of(javaBin, "--enable-native-access=ALL-UNNAMED",
        "--add-modules", "jdk.incubator.vector", "--sun-misc-unsafe-memory-access=allow", "-Djava.io.tmpdir=" + tmp,
        "-Dshoal.log.dir=" + tmp, "-Xmx512m", "-cp", System.getProperty("java.class.path"), Shoal.class.getName(),
        "node", "--kafka", bootstrap, "--node-id", nodeId, "--data-dir", dataDir.toString()));
    cmd.addAll(List.of(extra));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String address = null;
    String line;
    while ((line = r.readLine()) != null) {
      if (line.contains("serving ShardSearch on ")) {
        address = line.substring(line.lastIndexOf(' ') + 1).trim();
        break;
      }
    }
    if (address == null) {
      throw new IllegalStateException("node " + nodeId + " exited before serving (exit " + exitOf(p) + ")");
    }
    Thread drain = new Thread(() -> {
      try {
        while (r.readLine() != null) {
          // keep the pipe empty so the node never blocks on its output
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "drain-" + nodeId);
    drain.setDaemon(true);
    drain.start();
    return new Started(p, address);
  }
}
