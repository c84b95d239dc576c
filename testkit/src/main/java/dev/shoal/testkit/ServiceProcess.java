package dev.shoal.testkit;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Shoal service in its own JVM ({@code shoal ARGS}, as {@code bin/shoal} would run it), ready
 * once its gRPC health says SERVING: how {@code shoal cluster up} and the tests start processes.
 * Readiness is asked of the service, never read from its log. The child's output goes to a file.
 * Stateless.
 */
public final class ServiceProcess {

  /** The {@code shoal} command's main class (in the cli module, which depends on this one). */
  public static final String SHOAL_MAIN = "dev.shoal.cli.Shoal";

  /** A started service: its process and the address it serves (gRPC health included) on. */
  public record Started(Process process, String address) {
  }

  private ServiceProcess() {
  }

  /** A port that was free a moment ago, for a child to bind. */
  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException("no free port", e);
    }
  }

  /**
   * Starts {@code command}, its output into {@code output}, and waits until the gRPC health of
   * {@code healthAddress} is SERVING.
   *
   * @throws IllegalStateException if it exits or is not ready in time; the end of its output says why
   */
  public static Process start(List<String> command, Path output, String healthAddress, long timeoutSeconds)
      throws IOException, InterruptedException {
    Files.createDirectories(output.toAbsolutePath().getParent());
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    ManagedChannel ch = ManagedChannelBuilder.forTarget(healthAddress).usePlaintext().build();
    try {
      var health = HealthGrpc.newBlockingStub(ch);
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      while (System.nanoTime() < until) {
        if (!p.isAlive()) {
          throw new IllegalStateException(output.getFileName() + ": exited (" + p.exitValue() + ") before it was "
              + "ready; the end of " + output + ":\n" + tail(output));
        }
        try {
          if (health.withDeadlineAfter(1, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance())
              .getStatus() == ServingStatus.SERVING) {
            return p;
          }
        } catch (StatusRuntimeException notYet) {
          // not listening yet
        }
        Thread.sleep(100);
      }
      p.destroyForcibly();
      throw new IllegalStateException(output.getFileName() + ": not ready after " + timeoutSeconds + " s; the end of "
          + output + ":\n" + tail(output));
    } finally {
      ch.shutdownNow();
    }
  }

  /**
   * Starts {@code shoal ARGS} as service {@code name} with its output in {@code dir/name.out},
   * ready when the health at 127.0.0.1:{@code healthPort} (a port the arguments make it serve)
   * says SERVING.
   */
  public static Started shoal(String name, Path dir, String heap, List<String> args, int healthPort)
      throws IOException, InterruptedException {
    List<String> cmd = ShoalJvm.command(heap, dir, dir);
    cmd.add(SHOAL_MAIN);
    cmd.addAll(args);
    String address = "127.0.0.1:" + healthPort;
    return new Started(start(cmd, dir.resolve(name + ".out"), address, 120), address);
  }

  /** An index node ({@code shoal node}) on a free port; its address is where it serves ShardSearch. */
  public static Started node(String bootstrap, String nodeId, Path dataDir, Path dir, String... extra)
      throws IOException, InterruptedException {
    int port = freePort();
    List<String> args = new ArrayList<>(List.of("node", "--kafka", bootstrap, "--node-id", nodeId, "--data-dir",
        dataDir.toString(), "--host", "127.0.0.1", "--port", Integer.toString(port)));
    args.addAll(List.of(extra));
    return shoal(nodeId, dir, "-Xmx512m", args, port);
  }

  private static String tail(Path f) throws IOException {
    List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
  }
}
