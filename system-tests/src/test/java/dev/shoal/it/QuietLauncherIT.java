package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The README's promise that {@code bin/shoal} prints nothing but its own output: the launcher as
 * a user runs it (the built jar, the JVM flags with the incubating Vector API), stderr empty.
 */
class QuietLauncherIT {

  private static Process run(Path out, Path err, String... args) throws Exception {
    Path root = Path.of(System.getProperty("shoal.repo.root", "..")).toAbsolutePath();
    List<String> command = new java.util.ArrayList<>(List.of(root.resolve("bin/shoal").toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "bin/shoal " + String.join(" ", args) + " finished");
    return p;
  }

  @Test
  void helpGoesToStdoutAndNothingToStderr(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    for (String[] args : List.of(new String[] {"--help"}, new String[] {"query", "--help"},
        new String[] {"eval", "run", "--help"})) {
      Path out = dir.resolve("out");
      Path err = dir.resolve("err");
      Process p = run(out, err, args);
      String stdout = Files.readString(out, StandardCharsets.UTF_8);
      String stderr = Files.readString(err, StandardCharsets.UTF_8);
      assertEquals(0, p.exitValue(), stderr);
      assertTrue(stdout.startsWith("Usage: shoal"), stdout);
      assertEquals("", stderr, "bin/shoal " + String.join(" ", args) + " wrote to stderr (the JVM's incubator "
          + "notice is filtered; a rebuild notice means the jar is older than the sources)");
    }
  }
}
