package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.testkit.ShoalJvm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model loads and a search runs with the network disabled: {@link OfflineCheck} runs in a
 * fresh network namespace ({@code unshare -n}, loopback only), where nothing outside this
 * machine can be reached, so any download or metadata probe would fail it.
 */
class OfflineIT {

  @TempDir
  Path dir;

  @Test
  void modelLoadsAndSearchRunsWithoutANetwork() throws Exception {
    String root = System.getProperty("shoal.repo.root", "..");
    List<String> cmd = new ArrayList<>(List.of("unshare", "-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""));
    cmd.addAll(ShoalJvm.command("-Xmx2g", dir, null));
    cmd.addAll(List.of(OfflineCheck.class.getName(), dir.resolve("state").toString(),
        Path.of(root, "testdata", "scifact").toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "finished in time");
    String text = new String(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), text);
    assertTrue(text.contains("network unreachable as intended"), text);
    assertTrue(text.contains("OFFLINE-OK"), text);
  }
}
