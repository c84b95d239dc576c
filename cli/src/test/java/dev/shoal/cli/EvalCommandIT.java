package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.eval.BeirDataset;
import dev.shoal.eval.Run;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code shoal eval run --in-process} reuses its data directory: a second and a third call on the
 * same directory (another profile, then the first again) recover the shards instead of
 * re-producing the dataset, answer every query, and the repeated run equals the first.
 */
class EvalCommandIT {

  @TempDir
  Path dir;

  private static void run(String... args) {
    assertEquals(0, new CommandLine(new Shoal()).execute(args), "shoal " + String.join(" ", args));
  }

  /** 82 SciFact abstracts: those judged for the first test queries, then others; the queries judged on them. */
  private static Path smallDataset(Path at) throws Exception {
    BeirDataset scifact = new BeirDataset(Path.of(System.getProperty("shoal.repo.root", ".."), "testdata", "scifact"));
    Map<String, Map<String, Integer>> qrels = scifact.qrels("test");
    Set<String> judgedDocs = qrels.values().stream().flatMap(m -> m.keySet().stream()).limit(40)
        .collect(Collectors.toSet());
    List<BeirDataset.Doc> docs = scifact.docs().stream().filter(d -> judgedDocs.contains(d.id())).collect(
        Collectors.toList());
    scifact.docs().stream().filter(d -> !judgedDocs.contains(d.id())).limit(82 - docs.size()).forEach(docs::add);
    Set<String> ids = docs.stream().map(BeirDataset.Doc::id).collect(Collectors.toSet());
    Files.createDirectories(at.resolve("qrels"));
    var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
    try (BufferedWriter w = Files.newBufferedWriter(at.resolve("corpus.jsonl"))) {
      for (BeirDataset.Doc d : docs) {
        w.write(mapper.writeValueAsString(Map.of("_id", d.id(), "title", d.title(), "text", d.text())) + "\n");
      }
    }
    Set<String> queries = qrels.entrySet().stream().filter(e -> e.getValue().keySet().stream().anyMatch(ids::contains))
        .map(Map.Entry::getKey).collect(Collectors.toSet());
    try (BufferedWriter w = Files.newBufferedWriter(at.resolve("qrels").resolve("test.tsv"))) {
      w.write("query-id\tcorpus-id\tscore\n");
      for (var e : qrels.entrySet()) {
        for (var d : e.getValue().entrySet()) {
          if (ids.contains(d.getKey())) {
            w.write(e.getKey() + "\t" + d.getKey() + "\t" + d.getValue() + "\n");
          }
        }
      }
    }
    try (BufferedWriter w = Files.newBufferedWriter(at.resolve("queries.jsonl"))) {
      for (BeirDataset.Query q : scifact.queries()) {
        if (queries.contains(q.id())) {
          w.write(mapper.writeValueAsString(Map.of("_id", q.id(), "text", q.text())) + "\n");
        }
      }
    }
    return at;
  }

  @Test
  void secondAndThirdRunsOnOneDataDirectoryRecoverAndAnswerEveryQuery() throws Exception {
    Path data = smallDataset(dir.resolve("mini"));
    int queries = new BeirDataset(data).queries().size();
    assertTrue(queries >= 10, "queries: " + queries);
    Path state = dir.resolve("state");
    Path first = dir.resolve("bm25.run");
    Path second = dir.resolve("hybrid.run");
    Path third = dir.resolve("bm25-again.run");
    run("eval", "run", "--in-process", "--dataset", data.toString(), "--data-dir", state.toString(),
        "--profile", "bm25", "-k", "10", "-o", first.toString());
    run("eval", "run", "--in-process", "--dataset", data.toString(), "--data-dir", state.toString(),
        "--profile", "hybrid", "-k", "10", "-o", second.toString());
    run("eval", "run", "--in-process", "--dataset", data.toString(), "--data-dir", state.toString(),
        "--profile", "bm25", "-k", "10", "-o", third.toString());
    Run a = Run.read(first);
    Run b = Run.read(second);
    Run c = Run.read(third);
    assertEquals(queries, a.queries().size());
    assertEquals(queries, b.queries().size(), "the second call answers every query");
    for (String q : a.queries()) {
      assertEquals(a.of(q).stream().map(Run.Entry::doc).toList(), c.of(q).stream().map(Run.Entry::doc).toList(),
          "query " + q + ": the same index, so the same ranking");
    }
  }
}
