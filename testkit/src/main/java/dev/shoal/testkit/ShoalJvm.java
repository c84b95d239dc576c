package dev.shoal.testkit;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a child JVM that runs Shoal code: this JVM's java, the flags every Shoal
 * JVM needs (those of {@code bin/shoal}: native access for ONNX Runtime and RocksDB, the vector
 * module for Lucene, offline mode for DJL) and this JVM's class path. Callers add the main class
 * and its arguments. Stateless.
 */
public final class ShoalJvm {

  private ShoalJvm() {
  }

  /**
   * @param heap   e.g. {@code -Xmx1g}
   * @param tmpDir the child's {@code java.io.tmpdir} (native libraries are unpacked there)
   * @param logDir where its log file goes ({@code shoal.log.dir}), or null for the default
   */
  public static List<String> command(String heap, Path tmpDir, Path logDir) {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
        "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
        "--sun-misc-unsafe-memory-access=allow", "-Dai.djl.offline=true", "-Djava.io.tmpdir=" + tmpDir, heap));
    if (logDir != null) {
      cmd.add("-Dshoal.log.dir=" + logDir);
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path")));
    return cmd;
  }

  /** {@link #command} running {@code shoal ARGS}. */
  public static List<String> shoal(String heap, Path tmpDir, Path logDir, List<String> args) {
    List<String> cmd = command(heap, tmpDir, logDir);
    cmd.add("dev.shoal.cli.Shoal");
    cmd.addAll(args);
    return cmd;
  }
}
