package dev.shoal.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** File chores the benchmarks share. Stateless. */
final class BenchFiles {

  private BenchFiles() {
  }

  /**
   * Deletes {@code dir} and everything under it (a benchmark's scratch copies take gigabytes);
   * nothing if it does not exist. Children go before their parents.
   */
  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
