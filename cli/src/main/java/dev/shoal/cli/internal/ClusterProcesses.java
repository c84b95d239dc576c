package dev.shoal.cli.internal;

import dev.shoal.testkit.ServiceProcess;
import dev.shoal.testkit.ShoalJvm;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * The processes of a local cluster ({@code shoal cluster up}): each service is a {@code shoal}
 * subcommand in its own JVM and session (so a Ctrl-C in the terminal that started it does not
 * reach it), its output in {@code logs/NAME.out}, ready once its gRPC health says SERVING
 * ({@link ServiceProcess}). What runs is recorded in {@code cluster.properties} after every start,
 * so {@code shoal cluster down} can stop even a cluster whose start failed halfway. Not
 * thread-safe.
 */
public final class ClusterProcesses {

  /** One started service: its name, pid and the address it serves on (its gRPC health there, at least). */
  public record Service(String name, long pid, String address) {
    public boolean alive() {
      return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
  }

  private static final String STATE = "cluster.properties";
  private final Path dir;
  private final List<Service> services = new ArrayList<>();
  private String bootstrap;

  public ClusterProcesses(Path dir) {
    this.dir = dir;
  }

  /** The cluster recorded in {@code dir}, if any. */
  public static Optional<ClusterProcesses> load(Path dir) throws IOException {
    Path f = dir.resolve(STATE);
    if (!Files.exists(f)) {
      return Optional.empty();
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(f)) {
      p.load(r);
    }
    ClusterProcesses c = new ClusterProcesses(dir);
    c.bootstrap = p.getProperty("kafka");
    int n = Integer.parseInt(p.getProperty("services", "0"));
    for (int i = 0; i < n; i++) {
      c.services.add(new Service(p.getProperty("service." + i + ".name"),
          Long.parseLong(p.getProperty("service." + i + ".pid")), p.getProperty("service." + i + ".address")));
    }
    return Optional.of(c);
  }

  public List<Service> services() {
    return List.copyOf(services);
  }

  public String bootstrap() {
    return bootstrap;
  }

  public void bootstrap(String bootstrap) throws IOException {
    this.bootstrap = bootstrap;
    save();
  }

  /**
   * Starts {@code shoal ARGS} as service NAME and waits until the gRPC health at
   * {@code healthAddress} (an address its arguments make it serve) says SERVING.
   *
   * @throws IllegalStateException if it exits or is not ready in time; its output's tail says why
   */
  public Service start(String name, String heap, List<String> args, String healthAddress, long timeoutSeconds)
      throws IOException, InterruptedException {
    Path logs = Files.createDirectories(dir.resolve("logs"));
    List<String> cmd = new ArrayList<>();
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      cmd.add("/usr/bin/setsid");
    }
    cmd.addAll(ShoalJvm.shoal(heap, Path.of(System.getProperty("java.io.tmpdir")), logs.resolve(name), args));
    Process p = ServiceProcess.start(cmd, logs.resolve(name + ".out"), healthAddress, timeoutSeconds);
    Service s = new Service(name, p.pid(), healthAddress);
    services.add(s);
    save();
    return s;
  }

  /**
   * Stops every service, the last started first: SIGTERM, then up to {@code graceSeconds} for
   * it to drain (nodes commit their shards), then SIGKILL. Forgets the cluster.
   */
  public void stopAll(long graceSeconds, java.io.PrintStream log) throws IOException {
    for (int i = services.size() - 1; i >= 0; i--) {
      Service s = services.get(i);
      Optional<ProcessHandle> h = ProcessHandle.of(s.pid());
      if (h.isEmpty() || !h.get().isAlive()) {
        log.printf("%-10s already stopped%n", s.name());
        continue;
      }
      long t0 = System.nanoTime();
      h.get().destroy();
      try {
        h.get().onExit().get(graceSeconds, TimeUnit.SECONDS);
        log.printf("%-10s stopped (%.1f s)%n", s.name(), (System.nanoTime() - t0) / 1e9);
      } catch (Exception timeout) {
        h.get().destroyForcibly();
        log.printf("%-10s did not stop within %d s: killed%n", s.name(), graceSeconds);
      }
    }
    Files.deleteIfExists(dir.resolve(STATE));
  }

  private void save() throws IOException {
    Properties p = new Properties();
    if (bootstrap != null) {
      p.setProperty("kafka", bootstrap);
    }
    p.setProperty("services", Integer.toString(services.size()));
    for (int i = 0; i < services.size(); i++) {
      Service s = services.get(i);
      p.setProperty("service." + i + ".name", s.name());
      p.setProperty("service." + i + ".pid", Long.toString(s.pid()));
      p.setProperty("service." + i + ".address", s.address());
    }
    Files.createDirectories(dir);
    try (Writer w = Files.newBufferedWriter(dir.resolve(STATE))) {
      p.store(w, "shoal cluster up: the services of this local cluster, in start order");
    }
  }
}
