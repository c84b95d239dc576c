package dev.shoal.indexnode.shard;

import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexReaderContext;
import org.apache.lucene.index.MultiReader;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.IndexSearcher;

/**
 * Several shards of one node searched as one index: their pinned searchers' readers in one
 * {@link MultiReader}, each leg run once over all of them (one top k, Lucene's pruning across every
 * segment of every shard, as a single index searches), and the hits split back to the shards they
 * are in. The combined reader's own statistics are its shards' sums, so with no statistics in the
 * request it scores BM25 as one index over those shards would; with statistics (the corpus's, from
 * a round trip over every node) it scores by those. The caller uses it only when the scores are
 * meant to be global: a search where each shard scores by its own statistics is searched shard by
 * shard.
 *
 * <p>Each shard's answer carries its own hits (a node's top k of a leg is the union of its
 * shards' contributions to it, so merging the nodes' lists gives the global top k as merging the
 * shards' did), its searcher generation and model. The first leg's total matches over the group
 * is reported by the first shard's answer, the others report 0, so the totals still add up.
 *
 * <p>The group's segments may be searched as slices at once ({@link SearchThreads}, {@link
 * SlicedSearcher}): the same hits, scores and order as on one thread, sooner when cores are free.
 * Static and stateless: callers may search groups from any number of threads.
 */
public final class ShardGroup {

  private ShardGroup() {
  }

  /**
   * @param pinned the shards, each checked against the request's models ({@link ShardStore.Pinned#check})
   * @param legs   the request's lexical legs, parsed
   * @param threads how the group's segments may be searched in slices at once (the same hits and scores)
   * @return shard → its answer, in the order of {@code pinned}
   */
  public static Map<Integer, ShardSearchResponse.Builder> search(List<ShardStore.Pinned> pinned, LexicalLegs legs,
                                                                 ShardSearchRequest req, SearchThreads threads)
      throws ParseException, IOException {
    IndexReader[] readers = new IndexReader[pinned.size()];
    for (int i = 0; i < readers.length; i++) {
      readers[i] = pinned.get(i).searcher().getIndexReader();
    }
    // not closing the sub-readers: they belong to the pinned searchers, released by their owners
    try (MultiReader all = new MultiReader(readers, false)) {
      IndexSearcher group = CorpusStats.scoringAs(threads.searcher(all),
          pinned.getFirst().searcher());
      IndexSearcher scoring = req.hasStatistics() ? CorpusStats.scoring(group, req.getStatistics()) : group;
      List<IndexReaderContext> children = all.getContext().children();
      int[] starts = new int[children.size()];
      for (int i = 0; i < starts.length; i++) {
        starts[i] = children.get(i).docBaseInParent;
      }
      ShardSearcher.Found found = pinned.getFirst().store().searcher().find(scoring, req, legs.lookUp(group), starts);
      Map<Integer, ShardSearchResponse.Builder> out = new LinkedHashMap<>();
      for (ShardStore.Pinned p : pinned) {
        out.put(p.shard(), ShardSearchResponse.newBuilder().setShard(p.shard()).setModel(p.store().model())
            .setSearcherGeneration(((DirectoryReader) p.searcher().getIndexReader()).getVersion()));
      }
      out.get(pinned.getFirst().shard()).setTotalHits(found.total());
      for (Map.Entry<String, ShardHit.Builder> h : found.hits().entrySet()) {
        int part = found.parts().getOrDefault(h.getKey(), 0);
        out.get(pinned.get(part).shard()).addHits(h.getValue());
      }
      return out;
    }
  }
}
