package dev.shoal.indexnode.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.NumericRange;
import dev.shoal.api.v1.Operation;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.VectorLeg;
import dev.shoal.internal.v1.VectorScorer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.lucene.queryparser.classic.ParseException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A shard on real Lucene and RocksDB: legs, scorers, filters, upsert, delete, commit and recovery. */
class ShardStoreTest {

  @TempDir
  Path dir;

  private static EnrichedDocument doc(String id, String title, String text, float[] v, Map<String, FieldValue> fields) {
    EnrichedDocument.Builder b = EnrichedDocument.newBuilder().setOp(Operation.UPSERT)
        .setDocument(Document.newBuilder().setId(id).setTitle(title).setText(text).putAllFields(fields));
    for (float x : v) {
      b.addEmbedding(x);
    }
    return b.build();
  }

  private static float[] unit(float... v) {
    double n = 0;
    for (float x : v) {
      n += x * x;
    }
    for (int i = 0; i < v.length; i++) {
      v[i] /= (float) Math.sqrt(n);
    }
    return v;
  }

  /** Records at consecutive offsets from {@code first}, each with its own source offset as its version. */
  private static List<ShardStore.Record> records(long first, EnrichedDocument... docs) {
    List<ShardStore.Record> out = new ArrayList<>();
    for (int i = 0; i < docs.length; i++) {
      out.add(ShardStore.Record.of(first + i, docs[i].toBuilder().setSourceOffset(first + i).build()));
    }
    return out;
  }

  private static FieldValue num(double d) {
    return FieldValue.newBuilder().setNumber(d).build();
  }

  private static FieldValue kw(String s) {
    return FieldValue.newBuilder().setKeyword(s).build();
  }

  private void load(ShardStore s) throws Exception {
    s.apply(records(0,
        doc("a", "Protein folding", "Chaperones assist the folding of proteins in cells.", unit(1, 0, 0),
            Map.of("year", num(2001), "lang", kw("en"))),
        doc("b", "Bone density", "Vitamin D deficiency lowers bone mineral density.", unit(0, 1, 0),
            Map.of("year", num(2015), "lang", kw("en"))),
        doc("c", "Folding kinetics", "Fast folding proteins and their kinetics.", unit(0.9f, 0.1f, 0),
            Map.of("year", num(2019), "lang", kw("de")))), 3);
    s.refresh();
  }

  private static Leg bm25(String text, QuerySyntax syntax, int k) {
    return Leg.newBuilder().setName("bm25").setK(k)
        .setLexical(LexicalLeg.newBuilder().setText(text).setSyntax(syntax)).build();
  }

  private static Leg bm25(String text, int k) {
    return bm25(text, QuerySyntax.PLAIN, k);
  }

  private static Leg dense(List<Float> v, int k) {
    return Leg.newBuilder().setName("dense").setK(k).setVector(VectorLeg.newBuilder().addAllVector(v)).build();
  }

  private static List<String> ids(ShardSearchResponse r) {
    return r.getHitsList().stream().map(ShardHit::getId).toList();
  }

  private static List<String> byLeg(ShardSearchResponse r, String leg) {
    return r.getHitsList().stream().filter(h -> h.containsSignals(leg))
        .sorted(java.util.Comparator.<ShardHit>comparingDouble(h -> -h.getSignalsOrThrow(leg)))
        .map(ShardHit::getId).toList();
  }

  @Test
  void bm25AndKnnFindTheRightDocuments() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().addLegs(bm25("protein folding", 10))
          .addLegs(dense(List.of(0f, 1f, 0f), 1)).setHydrateTop(3).setHighlight("protein folding").build());
      List<String> lexical = byLeg(r, "bm25");
      assertEquals(2, lexical.size(), "only a and c mention folding");
      assertTrue(lexical.containsAll(List.of("a", "c")));
      assertEquals(List.of("b"), byLeg(r, "dense"));
      ShardHit b = r.getHitsList().stream().filter(h -> h.getId().equals("b")).findFirst().orElseThrow();
      assertEquals(1.0, b.getSignalsOrThrow("dense"), 1e-5, "cosine of identical unit vectors");
      ShardHit a = r.getHitsList().stream().filter(h -> h.getId().equals("a")).findFirst().orElseThrow();
      assertTrue(a.getHydrated(), "the best hits of the first leg come with their stored parts");
      assertTrue(a.getSnippet().contains("<em>folding</em>"), a.getSnippet());
      assertTrue(a.getSnippet().contains("<em>proteins</em>"), "stemmed match: " + a.getSnippet());
      assertEquals(2, r.getTotalHits());
    }
  }

  @Test
  void aScorerGivesEveryHitTheExactDotProductOfItsStoredEmbedding() throws Exception {
    float[] query = unit(0.6f, 0.8f, 0);
    Map<String, float[]> stored = Map.of("a", unit(1, 0, 0), "b", unit(0, 1, 0), "c", unit(0.9f, 0.1f, 0));
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      VectorScorer.Builder scorer = VectorScorer.newBuilder().setName("cosine");
      for (float x : query) {
        scorer.addVector(x);
      }
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().addLegs(bm25("folding density", 10))
          .addScorers(scorer).build());
      assertEquals(3, r.getHitsCount());
      for (ShardHit h : r.getHitsList()) {
        float[] v = stored.get(h.getId());
        double expected = 0;
        for (int i = 0; i < v.length; i++) {
          expected += query[i] * v[i];
        }
        assertEquals(expected, h.getSignalsOrThrow("cosine"), 0, "bit-identical to the ranker's dot: " + h.getId());
      }
    }
  }

  @Test
  void aLexicalLegCanSearchTheTitleAlone() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      Leg title = Leg.newBuilder().setName("title").setK(10).setLexical(LexicalLeg.newBuilder().setText("chaperones")
          .setField("title")).build();
      assertEquals(List.of(), ids(s.search(ShardSearchRequest.newBuilder().addLegs(title).build())),
          "no title says chaperones");
      assertEquals(List.of("a"), ids(s.search(ShardSearchRequest.newBuilder().addLegs(bm25("chaperones", 10)).build())));
      Leg kinetics = title.toBuilder().setLexical(title.getLexical().toBuilder().setText("kinetics")).build();
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().addLegs(kinetics).build());
      assertEquals(List.of("c"), ids(r));
      assertTrue(r.getHits(0).containsSignals("title"), "the list's name is the signal's");
      Leg bad = title.toBuilder().setLexical(title.getLexical().toBuilder().setField("nope")).build();
      assertThrows(IllegalArgumentException.class, () -> s.search(ShardSearchRequest.newBuilder().addLegs(bad).build()));
    }
  }

  @Test
  void filtersApplyToEveryLeg() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().addLegs(bm25("folding", 10))
          .addLegs(dense(List.of(1f, 0f, 0f), 10))
          .addFilters(Filter.newBuilder().setField("year").setRange(NumericRange.newBuilder().setMin(2010)))
          .addFilters(Filter.newBuilder().setField("lang").setTerm("de")).build());
      assertEquals(List.of("c"), ids(r));
    }
  }

  @Test
  void luceneSyntaxMapsFieldsAndRejectsInvalidInput() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder()
          .addLegs(bm25("+folding -chaperones lang:de", QuerySyntax.LUCENE, 10)).build());
      assertEquals(List.of("c"), ids(r));
      assertThrows(ParseException.class, () -> s.search(ShardSearchRequest.newBuilder()
          .addLegs(bm25("(unbalanced", QuerySyntax.LUCENE, 10)).build()));
    }
  }

  @Test
  void upsertReplacesAndDeleteRemoves() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      s.apply(records(3, doc("a", "Renamed", "nothing about that topic", unit(0, 0, 1), Map.of()),
          EnrichedDocument.newBuilder().setOp(Operation.DELETE).setDocument(Document.newBuilder().setId("b")).build()), 5);
      s.refresh();
      assertEquals(2, s.docCount());
      assertNull(s.load("b"));
      assertEquals("Renamed", s.load("a").getDocument().getTitle());
      assertEquals(List.of("c"), ids(s.search(ShardSearchRequest.newBuilder().addLegs(bm25("folding", 10)).build())));
      assertEquals(List.of("Renamed. nothing about that topic"), s.hydrate(List.of("a"), "", List.of(), false, false,
          true).stream().map(ShardHit::getText).toList(), "the passage as the encoder reads it");
    }
  }

  @Test
  void recoveryResumesFromTheCommittedOffset() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      s.commit();
      s.apply(records(3, doc("d", "Late", "arrives after the commit", unit(0, 0, 1), Map.of())), 4);
      assertEquals(4, s.docStoreOffset(), "RocksDB records its offset with every batch");
      // close commits what was applied
    }
    try (ShardStore s = new ShardStore(0, dir)) {
      assertEquals(4, s.recoveredOffset());
      assertEquals(4, s.docCount());
      assertEquals("Late", s.load("d").getDocument().getTitle());
    }
  }

  @Test
  void anEmptyShardAnswersWithNothing() throws Exception {
    try (ShardStore s = new ShardStore(3, dir)) {
      assertEquals(0, s.recoveredOffset());
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().addLegs(bm25("anything", 10))
          .addLegs(dense(List.of(1f, 0f, 0f), 10)).build());
      assertEquals(0, r.getHitsCount());
      assertEquals(3, r.getShard());
    }
  }

  private static void copyTree(Path from, Path to) throws java.io.IOException {
    try (var paths = java.nio.file.Files.walk(from)) {
      for (Path p : paths.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (java.nio.file.Files.isDirectory(p)) {
          java.nio.file.Files.createDirectories(target);
        } else {
          java.nio.file.Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  private static void deleteTree(Path dir) throws java.io.IOException {
    try (var paths = java.nio.file.Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        java.nio.file.Files.delete(p);
      }
    }
  }

  /**
   * A machine that loses power after a Lucene commit but before RocksDB's WAL reached the disk
   * comes back with a document store older than the commit (simulated with a copy of the store
   * from before the last batch). Recovery must start from the older offset, so replay brings the
   * lost documents back.
   */
  @Test
  void aLostWalTailIsReplayedBecauseRecoveryStartsFromTheLowerOffset() throws Exception {
    Path stale = dir.resolve("stale-docs");
    try (ShardStore s = new ShardStore(0, dir.resolve("shard"))) {
      s.apply(records(0, doc("a", "A", "first batch", unit(1, 0, 0), Map.of())), 1);
      s.commit();
      copyTree(dir.resolve("shard").resolve("docs"), stale);
      s.apply(records(1, doc("b", "B", "second batch", unit(0, 1, 0), Map.of())), 2);
      s.commit();
    }
    deleteTree(dir.resolve("shard").resolve("docs"));
    copyTree(stale, dir.resolve("shard").resolve("docs"));
    try (ShardStore s = new ShardStore(0, dir.resolve("shard"))) {
      assertEquals(1, s.recoveredOffset(), "replay starts where the document store's durable prefix ends");
      s.apply(records(1, doc("b", "B", "second batch", unit(0, 1, 0), Map.of())), 2); // the replay
      assertEquals("B", s.load("b").getDocument().getTitle(), "every document loadable after recovery");
      s.refresh();
      assertEquals(2, s.docCount());
    }
  }

  @Test
  void anOlderVersionNeverReplacesANewerOneNorResurrectsADeletedOne() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      EnrichedDocument v2 = doc("x", "second", "newer text", unit(1, 0, 0), Map.of()).toBuilder()
          .setSourcePartition(3).setSourceOffset(20).build();
      EnrichedDocument v1 = doc("x", "first", "older text", unit(1, 0, 0), Map.of()).toBuilder()
          .setSourcePartition(3).setSourceOffset(10).build();
      s.apply(List.of(ShardStore.Record.of(0, v2), ShardStore.Record.of(1, v1)), 2);
      assertEquals("second", s.load("x").getDocument().getTitle(), "v1 arrived after v2 and is older");
      EnrichedDocument delete = EnrichedDocument.newBuilder().setOp(Operation.DELETE)
          .setDocument(Document.newBuilder().setId("x")).setSourcePartition(3).setSourceOffset(30).build();
      s.apply(List.of(ShardStore.Record.of(2, delete), ShardStore.Record.of(3, v2)), 4);
      s.refresh();
      assertNull(s.load("x"), "the delete is newer than v2");
      assertEquals(0, s.docCount());
      s.apply(List.of(ShardStore.Record.of(4, v2)), 5); // the same record again (a replay) still applies
      assertNull(s.load("x"));
    }
  }

  @Test
  void noDocumentIdCollidesWithTheStoresOwnRecords() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      for (String id : List.of("\u0000meta.offset", "offset", "dimension", "v/a", "dlq/00000000000000000001")) {
        s.apply(records(s.appliedOffset(), doc(id, "Collision " + id, "vitamin", unit(1, 0, 0), Map.of())),
            s.appliedOffset() + 1);
      }
      s.refresh();
      assertEquals(5, s.docCount());
      assertEquals(5, s.docStoreOffset(), "the offset is intact");
      assertEquals("Collision \u0000meta.offset", s.load("\u0000meta.offset").getDocument().getTitle());
      assertTrue(s.deadLetters().isEmpty());
    }
  }

  private static Leg denseWithConstraints(List<Float> v, int k, String lucene) {
    return Leg.newBuilder().setName("dense").setK(k).setVector(VectorLeg.newBuilder().addAllVector(v)
        .setConstraints(LexicalLeg.newBuilder().setText(lucene).setSyntax(QuerySyntax.LUCENE))).build();
  }

  /** "+folding -kinetics": the dense leg may not bring in b (no "folding") or c ("kinetics"). */
  @Test
  void luceneRequiredAndProhibitedClausesAlsoFilterTheDenseLeg() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      List<Float> nearB = List.of(0f, 1f, 0f);
      ShardSearchResponse free = s.search(ShardSearchRequest.newBuilder().addLegs(dense(nearB, 3)).build());
      assertEquals("b", byLeg(free, "dense").getFirst(), "unconstrained, b is nearest");
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder()
          .addLegs(denseWithConstraints(nearB, 3, "+folding -kinetics")).build());
      assertEquals(List.of("a"), byLeg(r, "dense"));
      assertEquals(List.of("a", "c"), byLeg(s.search(ShardSearchRequest.newBuilder()
          .addLegs(denseWithConstraints(nearB, 3, "-bone")).build()), "dense").stream().sorted().toList(),
          "a prohibited clause alone");
      assertEquals(List.of("c"), byLeg(s.search(ShardSearchRequest.newBuilder()
          .addLegs(denseWithConstraints(nearB, 3, "lang:de")).build()), "dense"), "a lone fielded clause");
      assertEquals(3, byLeg(s.search(ShardSearchRequest.newBuilder()
          .addLegs(denseWithConstraints(nearB, 3, "folding bone")).build()), "dense").size(),
          "optional clauses only score: no constraint");
    }
  }

  private List<String> lucene(ShardStore s, String q) throws Exception {
    return ids(s.search(ShardSearchRequest.newBuilder().addLegs(bm25(q, QuerySyntax.LUCENE, 10)).build()))
        .stream().sorted().toList();
  }

  /** Prefix, range, wildcard, fuzzy and exact clauses all reach the fields they name. */
  @Test
  void everyKindOfLuceneClauseMapsShoalFieldNames() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      assertEquals(List.of("a", "c"), lucene(s, "text:prot*"));
      assertEquals(List.of("a", "c"), lucene(s, "title:fold*"));
      assertEquals(List.of("b", "c"), lucene(s, "year:[2010 TO 2020]"));
      assertEquals(List.of("c"), lucene(s, "year:{2015 TO *]"));
      assertEquals(List.of("b"), lucene(s, "year:2015"));
      assertEquals(List.of("c"), lucene(s, "lang:d*"));
      assertEquals(List.of("a", "b"), lucene(s, "lang:e?"));
      assertEquals(List.of("c"), lucene(s, "lang:df~1"));
      assertEquals(List.of("c"), lucene(s, "folding AND year:[2010 TO 2020]"));
      assertEquals(List.of("a", "b"), lucene(s, "lang:[e TO f]"), "keyword range");
    }
  }

  /** The model recorded with the first embedding; a record by another model is a dead letter. */
  @Test
  void aShardHoldsOneModelsVectors() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      s.apply(records(0, doc("a", "t", "x", unit(1, 0, 0), Map.of()).toBuilder().setModel("m1").build(),
          doc("b", "t", "y", unit(0, 1, 0), Map.of()).toBuilder().setModel("m2").build()), 2);
      assertEquals("m1", s.model());
      assertEquals(1, s.deadLetterCount());
      assertTrue(s.deadLetters().getFirst().reason().contains("'m2'") && s.deadLetters().getFirst().reason()
          .contains("'m1'"), s.deadLetters().getFirst().reason());
    }
    try (ShardStore reopened = new ShardStore(0, dir)) {
      assertEquals("m1", reopened.model(), "kept across restarts");
    }
  }
}
