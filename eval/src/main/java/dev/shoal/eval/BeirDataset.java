package dev.shoal.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A test collection in BEIR layout: {@code corpus.jsonl} ({@code _id}, {@code title},
 * {@code text}), {@code queries.jsonl} ({@code _id}, {@code text}) and
 * {@code qrels/<split>.tsv} ({@code query-id corpus-id score} with a header line).
 * Reads lazily; immutable and thread-safe.
 */
public final class BeirDataset {

  /**
   * One corpus document. {@code metadata} holds the string values of BEIR's optional
   * {@code metadata} object (CACM's authors and bibliography, TREC-COVID's URLs), which Shoal
   * stores as keyword fields: they come back with hits and can be filtered on.
   */
  public record Doc(String id, String title, String text, Map<String, String> metadata) {
    public Doc(String id, String title, String text) {
      this(id, title, text, Map.of());
    }

    public Doc {
      metadata = Map.copyOf(metadata);
    }

    /** The document as Shoal indexes it. */
    public Document document() {
      Document.Builder d = Document.newBuilder().setId(id).setTitle(title).setText(text);
      metadata.forEach((k, v) -> d.putFields(k, FieldValue.newBuilder().setKeyword(v).build()));
      return d.build();
    }
  }

  /** Metadata that fits Shoal's document limits (field names, value lengths); the rest is left out. */
  private static Map<String, String> metadata(JsonNode n) {
    Map<String, String> out = new LinkedHashMap<>();
    n.path("metadata").properties().forEach(e -> {
      String v = e.getValue().isTextual() ? e.getValue().asText().strip() : "";
      if (!v.isEmpty() && v.length() <= 256 && e.getKey().matches("[A-Za-z0-9_.-]{1,64}") && out.size() < 16) {
        out.put(e.getKey(), v);
      }
    });
    return out;
  }

  /** One query. */
  public record Query(String id, String text) {
  }

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private final Path dir;

  public BeirDataset(Path dir) {
    if (!Files.isRegularFile(dir.resolve("corpus.jsonl"))) {
      throw new IllegalArgumentException(dir + " is not a BEIR folder: corpus.jsonl is missing");
    }
    this.dir = dir;
  }

  public Path dir() {
    return dir;
  }

  public String name() {
    return dir.getFileName().toString();
  }

  /** Streams the corpus in file order. */
  public void forEachDoc(Consumer<Doc> sink) {
    try (BufferedReader r = Files.newBufferedReader(dir.resolve("corpus.jsonl"))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isBlank()) {
          continue;
        }
        JsonNode n = MAPPER.readTree(line);
        sink.accept(new Doc(n.path("_id").asText(), n.path("title").asText(""), n.path("text").asText(""),
            metadata(n)));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + dir.resolve("corpus.jsonl"), e);
    }
  }

  public List<Doc> docs() {
    List<Doc> out = new ArrayList<>();
    forEachDoc(out::add);
    return out;
  }

  public long docCount() {
    try (var lines = Files.lines(dir.resolve("corpus.jsonl"))) {
      return lines.filter(l -> !l.isBlank()).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public List<Query> queries() {
    List<Query> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(dir.resolve("queries.jsonl"))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (!line.isBlank()) {
          JsonNode n = MAPPER.readTree(line);
          out.add(new Query(n.path("_id").asText(), n.path("text").asText()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** query id → (doc id → relevance), in file order. */
  public Map<String, Map<String, Integer>> qrels(String split) {
    Map<String, Map<String, Integer>> out = new LinkedHashMap<>();
    try (BufferedReader r = Files.newBufferedReader(dir.resolve("qrels").resolve(split + ".tsv"))) {
      String line;
      boolean first = true;
      while ((line = r.readLine()) != null) {
        String[] f = line.split("\t");
        if (first) {
          first = false;
          if (f.length >= 3 && !f[2].matches("-?\\d+")) {
            continue; // header
          }
        }
        if (f.length < 3) {
          continue;
        }
        out.computeIfAbsent(f[0], k -> new LinkedHashMap<>()).put(f[1], Integer.parseInt(f[2].trim()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }
}
