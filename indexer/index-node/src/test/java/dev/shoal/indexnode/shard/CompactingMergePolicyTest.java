package dev.shoal.indexnode.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.SegmentReader;
import org.apache.lucene.index.SerialMergeScheduler;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.TieredMergePolicy;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.junit.jupiter.api.Test;

/**
 * The merge policy on a real IndexWriter (merges run inline): an explicit request merges the
 * segments below the floor into one and leaves larger ones; flushes and commits merge nothing the
 * tiered policy would not.
 */
class CompactingMergePolicyTest {

  private final Directory dir = new ByteBuffersDirectory();

  private IndexWriter writer(CompactingMergePolicy policy) throws IOException {
    return new IndexWriter(dir, new IndexWriterConfig().setMergePolicy(policy)
        .setMergeScheduler(new SerialMergeScheduler()));
  }

  /** One segment of {@code n} documents, committed. */
  private static void segment(IndexWriter w, String prefix, int n) throws IOException {
    for (int i = 0; i < n; i++) {
      Document d = new Document();
      d.add(new StringField("id", prefix + i, Field.Store.YES));
      d.add(new TextField("body", "common words and " + prefix + " number " + i + " ".repeat(i % 7), Field.Store.NO));
      w.addDocument(d);
    }
    w.commit();
  }

  private List<String> segmentNames() throws IOException {
    List<String> out = new ArrayList<>();
    try (DirectoryReader r = DirectoryReader.open(dir)) {
      for (LeafReaderContext leaf : r.leaves()) {
        out.add(((SegmentReader) leaf.reader()).getSegmentName());
      }
    }
    return out;
  }

  private long hits(String word) throws IOException {
    try (DirectoryReader r = DirectoryReader.open(dir)) {
      return new IndexSearcher(r).count(new TermQuery(new Term("body", word)));
    }
  }

  @Test
  void anExplicitRequestMergesTheSmallSegmentsIntoOne() throws IOException {
    CompactingMergePolicy policy = new CompactingMergePolicy();
    try (IndexWriter w = writer(policy)) {
      for (int s = 0; s < 5; s++) {
        segment(w, "s" + s, 40);
      }
      assertEquals(5, segmentNames().size(), "commits alone merge nothing: five segments, under the tiered "
          + "policy's eight per tier");
      w.maybeMerge();
      w.commit();
      assertEquals(1, policy.compactions());
    }
    assertEquals(1, segmentNames().size());
    assertEquals(200, hits("common"), "every document survives the merge");
  }

  @Test
  void segmentsAboveTheFloorAreLeftAsTheyAre() throws IOException {
    TieredMergePolicy tiered = new TieredMergePolicy();
    CompactingMergePolicy policy = new CompactingMergePolicy(tiered);
    String big;
    try (IndexWriter w = writer(policy)) {
      segment(w, "big", 3_000);
      big = segmentNames().getFirst();
      segment(w, "a", 10);
      segment(w, "b", 10);
      segment(w, "c", 10);
      assertEquals(4, segmentNames().size());
      // a floor between the small segments' size and the big one's
      tiered.setFloorSegmentMB(bytesOf(big) / 2 / 1024.0 / 1024.0);
      w.maybeMerge();
      w.commit();
      assertEquals(1, policy.compactions());
    }
    List<String> after = segmentNames();
    assertEquals(2, after.size(), "the three small segments became one: " + after);
    assertTrue(after.contains(big), "the big segment was not rewritten: " + after);
    assertEquals(3_030, hits("common"));
  }

  @Test
  void nothingToCompactWithOneSmallSegment() throws IOException {
    CompactingMergePolicy policy = new CompactingMergePolicy();
    try (IndexWriter w = writer(policy)) {
      segment(w, "only", 50);
      w.maybeMerge();
      w.commit();
      assertEquals(0, policy.compactions());
    }
    assertEquals(1, segmentNames().size());
  }

  private long bytesOf(String segment) throws IOException {
    long bytes = 0;
    for (String f : dir.listAll()) {
      if (f.startsWith(segment + ".") || f.startsWith(segment + "_")) {
        bytes += dir.fileLength(f);
      }
    }
    return bytes;
  }
}
