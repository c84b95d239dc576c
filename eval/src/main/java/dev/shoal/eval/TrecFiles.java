package dev.shoal.eval;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading of whitespace-separated TREC files (qrels, runs), shared by {@link Qrels} and {@link Run}. */
final class TrecFiles {

  /** Receives the fields of one non-blank line and its 1-based line number. */
  interface LineHandler {
    void accept(int lineNumber, String[] fields, String line);
  }

  private TrecFiles() {
  }

  static void forEachLine(Path file, String what, LineHandler handler) {
    try (BufferedReader r = Files.newBufferedReader(file)) {
      String line;
      int n = 0;
      while ((line = r.readLine()) != null) {
        n++;
        String t = line.strip();
        if (!t.isEmpty()) {
          handler.accept(n, t.split("\\s+"), line);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + what + " " + file, e);
    }
  }
}
