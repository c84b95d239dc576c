package dev.shoal.eval;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.KeywordList;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

/**
 * A run collected from a live {@code SearchService}, as any client would: each query sent with a
 * template's settings, its hits written in rank order. Counts the answers that were degraded or
 * partial, which make a run untrustworthy. Stateless; each call opens and closes its own channel.
 */
public final class RunCollector {

  /** How long one query may take (an evaluation is not latency-bound; a slow answer is still an answer). */
  public static final int QUERY_TIMEOUT_MS = 30_000;

  private RunCollector() {
  }

  /** The run and how many of its answers were degraded or partial. */
  public record Collected(Run run, int degraded, int partial) {
  }

  /**
   * @param target   the SearchService's host:port
   * @param template every request's settings; the query text is set per query
   * @param pool     when not null, each query's candidates are restricted to this run's documents for it
   *                 (a {@code _id} terms filter: re-ranking a published pool)
   * @param progress told the number of queries done after each one
   */
  public static Collected collect(String target, List<BeirDataset.Query> queries, SearchRequest template, Run pool,
                                  String tag, IntConsumer progress) {
    ManagedChannel ch = ManagedChannelBuilder.forTarget(target).usePlaintext().maxInboundMessageSize(64 << 20).build();
    Map<String, List<Run.Entry>> entries = new LinkedHashMap<>();
    int degraded = 0;
    int partial = 0;
    try {
      var stub = SearchServiceGrpc.newBlockingStub(ch);
      int n = 0;
      for (BeirDataset.Query q : queries) {
        SearchRequest.Builder req = template.toBuilder().setQuery(q.text()).setTimeoutMs(QUERY_TIMEOUT_MS);
        if (pool != null) {
          req.addFilters(Filter.newBuilder().setField("_id").setTerms(KeywordList.newBuilder()
              .addAllValues(pool.of(q.id()).stream().map(Run.Entry::doc).toList())));
        }
        SearchResponse r = stub.withDeadlineAfter(QUERY_TIMEOUT_MS, TimeUnit.MILLISECONDS).search(req.build());
        degraded += r.getDegraded() ? 1 : 0;
        partial += r.getPartial() ? 1 : 0;
        List<Run.Entry> list = new ArrayList<>();
        int rank = 0;
        for (Hit h : r.getHitsList()) {
          list.add(new Run.Entry(h.getId(), ++rank, h.getScore()));
        }
        entries.put(q.id(), list);
        progress.accept(++n);
      }
    } finally {
      ch.shutdownNow();
    }
    return new Collected(new Run(tag, entries), degraded, partial);
  }
}
