package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cli.internal.ClusterProcesses;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The operator commands as a user runs them: {@code shoal cluster up} starts every service as
 * its own process, {@code shoal ingest} feeds it, {@code shoal cluster status} shows each shard
 * LIVE on two nodes, both query services answer, and {@code shoal cluster down} leaves no
 * process behind.
 */
class ClusterCommandIT {

  @TempDir
  Path dir;

  private static String run(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      int rc = new CommandLine(new Shoal()).execute(args);
      assertEquals(0, rc, "shoal " + String.join(" ", args) + ":\n" + buf.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(old);
    }
    String out = buf.toString(StandardCharsets.UTF_8);
    System.out.print(out);
    return out;
  }

  @Test
  void upIngestStatusSearchDown() throws Exception {
    Path data = dir.resolve("cluster");
    run("cluster", "up", "--data-dir", data.toString(), "--nodes", "3", "--query-services", "2",
        "--model", "all-MiniLM-L6-v2", "--max-passage-tokens", "64");
    List<ClusterProcesses.Service> services = ClusterProcesses.load(data).orElseThrow().services();
    assertEquals(10, services.size(), "kafka, ranker, enricher, 2 managers, 3 nodes, 2 query services");
    try {
      String bootstrap = ClusterProcesses.load(data).orElseThrow().bootstrap();
      Path docs = dir.resolve("docs.jsonl");
      String root = System.getProperty("shoal.repo.root", "..");
      List<String> lines = new ArrayList<>();
      var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
      for (String l : Files.readAllLines(Path.of(root, "testdata", "scifact", "corpus.jsonl")).subList(0, 60)) {
        var n = mapper.readTree(l);
        lines.add(mapper.writeValueAsString(java.util.Map.of("id", n.get("_id").asText(), "title",
            n.get("title").asText(), "text", n.get("text").asText())));
      }
      Files.write(docs, lines);
      run("ingest", docs.toString(), "--kafka", bootstrap);

      String status = "";
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (System.nanoTime() < until) {
        status = run("cluster", "status", "--data-dir", data.toString());
        long live = status.lines().filter(l -> l.trim().startsWith("shard ") && l.split("LIVE\\(lag 0").length == 3)
            .count();
        int docsTotal = status.lines().filter(l -> l.trim().startsWith("shard ")).mapToInt(l -> {
          var m = java.util.regex.Pattern.compile("LIVE\\(lag 0, (\\d+) docs\\)").matcher(l);
          return m.find() ? Integer.parseInt(m.group(1)) : 0;
        }).sum();
        if (live == 4 && docsTotal == 60) {
          break;
        }
        Thread.sleep(1_000);
      }
      assertTrue(status.contains("routing table: epoch"), status);
      assertEquals(4, status.lines().filter(l -> l.trim().startsWith("shard ")
          && l.split("LIVE\\(lag 0").length == 3).count(), "every shard LIVE on two nodes:\n" + status);

      for (ClusterProcesses.Service q : services.stream().filter(s -> s.name().startsWith("query-")).toList()) {
        String grpc = q.address();
        ManagedChannel ch = ManagedChannelBuilder.forTarget(grpc).usePlaintext().build();
        try {
          SearchResponse r = SearchServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
              .search(SearchRequest.newBuilder().setQuery("cerebral white matter development").setTopK(3)
                  .setProfile(RankProfile.NEURAL).build());
          assertEquals(4, r.getShardsAnswered(), q.name());
          assertEquals("4983", r.getHits(0).getId(), q.name() + " finds the white-matter paper first");
        } finally {
          ch.shutdownNow();
        }
      }
    } finally {
      run("cluster", "down", "--data-dir", data.toString());
    }
    for (ClusterProcesses.Service s : services) {
      assertFalse(s.alive(), s.name() + " still running after cluster down");
    }
    assertTrue(ClusterProcesses.load(data).isEmpty(), "the cluster is forgotten");
  }
}
