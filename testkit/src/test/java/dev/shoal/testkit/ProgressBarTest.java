package dev.shoal.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {

  private static String draw(boolean terminal) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    ProgressBar bar = new ProgressBar(out, "indexing", 1000, "docs", terminal);
    for (int i = 1; i <= 1000; i++) {
      bar.update(i);
    }
    bar.update(1000);
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void offATerminalItPrintsPlainLinesAndTheLastOneOnce() {
    String log = draw(false);
    assertFalse(log.contains("\r"), log);
    String[] lines = log.split("\n");
    // the first update and the last; the rest fall inside the 5 s interval
    assertEquals(2, lines.length, log);
    assertTrue(lines[1].startsWith("indexing [##############################] 1000/1000 docs"), lines[1]);
  }

  @Test
  void onATerminalItRedrawsInPlace() {
    String shown = draw(true);
    assertTrue(shown.startsWith("\rindexing ["), shown);
    assertTrue(shown.endsWith("\n") && shown.chars().filter(c -> c == '\n').count() == 1, shown);
  }
}
