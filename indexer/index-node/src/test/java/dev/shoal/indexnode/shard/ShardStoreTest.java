package dev.shoal.indexnode.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.NumericRange;
import dev.shoal.api.v1.Operation;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.lucene.queryparser.classic.ParseException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A shard on real Lucene and RocksDB: BM25, kNN, filters, upsert, delete, commit and recovery. */
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

  private static List<Map.Entry<Long, EnrichedDocument>> records(long first, EnrichedDocument... docs) {
    List<Map.Entry<Long, EnrichedDocument>> out = new ArrayList<>();
    for (int i = 0; i < docs.length; i++) {
      out.add(new AbstractMap.SimpleImmutableEntry<>(first + i, docs[i]));
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

  @Test
  void bm25AndKnnFindTheRightDocuments() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().setQuery("protein folding").setBm25K(10)
          .addAllQueryVector(List.of(0f, 1f, 0f)).setDenseK(1).setWithSnippets(true).setWithVectors(true).build());
      List<String> bm25 = r.getHitsList().stream().filter(h -> h.getBm25Rank() > 0)
          .sorted(java.util.Comparator.comparingInt(ShardHit::getBm25Rank)).map(ShardHit::getId).toList();
      assertEquals(2, bm25.size(), "only a and c mention folding");
      assertTrue(bm25.containsAll(List.of("a", "c")));
      ShardHit dense = r.getHitsList().stream().filter(h -> h.getDenseRank() == 1).findFirst().orElseThrow();
      assertEquals("b", dense.getId());
      assertEquals(1.0, dense.getDenseScore(), 1e-5, "cosine of identical unit vectors");
      assertEquals(3, dense.getVectorCount());
      ShardHit a = r.getHitsList().stream().filter(h -> h.getId().equals("a")).findFirst().orElseThrow();
      assertTrue(a.getSnippet().contains("<em>folding</em>"), a.getSnippet());
      assertTrue(a.getSnippet().contains("<em>proteins</em>"), "stemmed match: " + a.getSnippet());
      assertEquals(2, r.getTotalHits());
    }
  }

  @Test
  void filtersApplyToBothLegs() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().setQuery("folding").setBm25K(10)
          .addAllQueryVector(List.of(1f, 0f, 0f)).setDenseK(10)
          .addFilters(Filter.newBuilder().setField("year").setRange(NumericRange.newBuilder().setMin(2010)))
          .addFilters(Filter.newBuilder().setField("lang").setTerm("de")).build());
      assertEquals(List.of("c"), r.getHitsList().stream().map(ShardHit::getId).toList());
    }
  }

  @Test
  void luceneSyntaxMapsFieldsAndRejectsInvalidInput() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s);
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().setQuery("+folding -chaperones lang:de")
          .setSyntax(QuerySyntax.LUCENE).setBm25K(10).build());
      assertEquals(List.of("c"), r.getHitsList().stream().map(ShardHit::getId).toList());
      assertThrows(ParseException.class, () -> s.search(ShardSearchRequest.newBuilder().setQuery("(unbalanced")
          .setSyntax(QuerySyntax.LUCENE).setBm25K(10).build()));
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
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().setQuery("folding").setBm25K(10).build());
      assertEquals(List.of("c"), r.getHitsList().stream().map(ShardHit::getId).toList());
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
      ShardSearchResponse r = s.search(ShardSearchRequest.newBuilder().setQuery("anything").setBm25K(10)
          .addAllQueryVector(List.of(1f, 0f, 0f)).setDenseK(10).build());
      assertEquals(0, r.getHitsCount());
      assertEquals(3, r.getShard());
    }
  }
}
