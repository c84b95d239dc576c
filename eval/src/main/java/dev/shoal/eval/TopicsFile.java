package dev.shoal.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Query files: TREC/Anserini topics as {@code qid<TAB>text} lines, or BEIR's
 * {@code queries.jsonl} ({@code _id}, {@code text}); told apart by the first character.
 */
public final class TopicsFile {

  private TopicsFile() {
  }

  public static List<BeirDataset.Query> read(Path file) {
    List<BeirDataset.Query> out = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    try {
      int n = 0;
      for (String line : Files.readAllLines(file)) {
        n++;
        if (line.isBlank()) {
          continue;
        }
        if (line.stripLeading().startsWith("{")) {
          JsonNode j = json.readTree(line);
          out.add(new BeirDataset.Query(j.path("_id").asText(), j.path("text").asText()));
        } else {
          int tab = line.indexOf('\t');
          if (tab <= 0) {
            throw new IllegalArgumentException(file + ":" + n + ": expected 'qid<TAB>query text', got: " + line);
          }
          out.add(new BeirDataset.Query(line.substring(0, tab).strip(), line.substring(tab + 1).strip()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read topics " + file, e);
    }
    return out;
  }
}
