package dev.shoal.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Real texts from the SciFact copy in testdata/, for tests of the tokenizer and encoders. */
public final class TestTexts {

  private TestTexts() {
  }

  public static Path repoRoot() {
    String root = System.getProperty("shoal.repo.root");
    Path p = root == null ? Path.of("..") : Path.of(root);
    if (!Files.isDirectory(p.resolve("testdata/scifact"))) {
      throw new IllegalStateException("testdata/scifact not found under " + p.toAbsolutePath());
    }
    return p;
  }

  /** The first {@code n} SciFact passages as "title. text". */
  public static List<String> passages(int n) {
    return read(repoRoot().resolve("testdata/scifact/corpus.jsonl"), n, true);
  }

  /** The first {@code n} SciFact queries. */
  public static List<String> queries(int n) {
    return read(repoRoot().resolve("testdata/scifact/queries.jsonl"), n, false);
  }

  private static List<String> read(Path file, int n, boolean withTitle) {
    ObjectMapper m = new ObjectMapper();
    List<String> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(file)) {
      String line;
      while (out.size() < n && (line = r.readLine()) != null) {
        JsonNode j = m.readTree(line);
        out.add(withTitle ? j.path("title").asText() + ". " + j.path("text").asText() : j.path("text").asText());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }
}
