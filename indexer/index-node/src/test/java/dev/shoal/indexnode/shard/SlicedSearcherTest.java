package dev.shoal.indexnode.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.junit.jupiter.api.Test;

/** How {@link SlicedSearcher} cuts a reader of six segments into slices. */
class SlicedSearcherTest {

  private static DirectoryReader sixSegments(ByteBuffersDirectory dir) throws Exception {
    try (IndexWriter w = new IndexWriter(dir, new IndexWriterConfig().setMergePolicy(NoMergePolicy.INSTANCE))) {
      for (int segment = 0; segment < 6; segment++) {
        for (int i = 0; i < 10 * (segment + 1); i++) {
          Document d = new Document();
          d.add(new StringField("id", segment + "-" + i, Field.Store.NO));
          w.addDocument(d);
        }
        w.commit();
      }
    }
    return DirectoryReader.open(dir);
  }

  private static List<LeafReaderContext> leavesOf(IndexSearcher s) {
    List<LeafReaderContext> out = new ArrayList<>();
    for (IndexSearcher.LeafSlice slice : s.getSlices()) {
      for (var p : slice.partitions) {
        out.add(p.ctx);
      }
    }
    return out;
  }

  @Test
  void withAnExecutorEachSegmentIsInExactlyOneOfUpToThreadsSlices() throws Exception {
    try (ByteBuffersDirectory dir = new ByteBuffersDirectory(); DirectoryReader reader = sixSegments(dir)) {
      assertEquals(6, reader.leaves().size());
      Executor direct = Runnable::run;
      SlicedSearcher s = new SlicedSearcher(reader, direct, 2, 1);
      assertEquals(2, s.getSlices().length, "210 documents in two slices of about 105");
      List<LeafReaderContext> leaves = leavesOf(s);
      assertEquals(reader.leaves().size(), leaves.size());
      assertEquals(new java.util.HashSet<>(reader.leaves()), new java.util.HashSet<>(leaves));
    }
  }

  @Test
  void fewerDocumentsThanTwoSlicesOfTheMinimumAreOneSlice() throws Exception {
    try (ByteBuffersDirectory dir = new ByteBuffersDirectory(); DirectoryReader reader = sixSegments(dir)) {
      Executor direct = Runnable::run;
      assertEquals(1, new SlicedSearcher(reader, direct, 2, SlicedSearcher.MIN_DOCS_PER_SLICE).getSlices().length,
          "210 documents, far below " + SlicedSearcher.MIN_DOCS_PER_SLICE + " a slice");
      assertEquals(1, new SlicedSearcher(reader, direct, 2, 106).getSlices().length, "two slices would hold 105");
      assertEquals(2, new SlicedSearcher(reader, direct, 2, 105).getSlices().length);
    }
  }

  @Test
  void withoutAnExecutorAllSegmentsAreOneSlice() throws Exception {
    try (ByteBuffersDirectory dir = new ByteBuffersDirectory(); DirectoryReader reader = sixSegments(dir)) {
      // slices of one document at least, so that only the missing executor keeps them together
      assertEquals(1, new SlicedSearcher(reader, null, 4, 1).getSlices().length,
          "no executor: Lucene searches the segments as one slice, whatever threads says");
      assertEquals(1, new SlicedSearcher(reader, new SlicedSearcher(reader, null, 4, 1)).getSlices().length);
    }
  }
}
