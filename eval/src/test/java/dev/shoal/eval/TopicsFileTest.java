package dev.shoal.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TopicsFileTest {

  @TempDir
  Path dir;

  @Test
  void readsTrecTsvAndBeirJsonl() throws Exception {
    Path tsv = dir.resolve("topics.tsv");
    Files.writeString(tsv, "19335\tanthropological definition of environment\n47923\taxon terminals\n");
    assertEquals(List.of(new BeirDataset.Query("19335", "anthropological definition of environment"),
        new BeirDataset.Query("47923", "axon terminals")), TopicsFile.read(tsv));
    Path jsonl = dir.resolve("queries.jsonl");
    Files.writeString(jsonl, "{\"_id\": \"1\", \"text\": \"a claim\", \"metadata\": {}}\n\n");
    assertEquals(List.of(new BeirDataset.Query("1", "a claim")), TopicsFile.read(jsonl));
    Path bad = dir.resolve("bad.txt");
    Files.writeString(bad, "no tab here\n");
    assertThrows(IllegalArgumentException.class, () -> TopicsFile.read(bad));
  }
}
