package dev.shoal.indexnode.internal;

import dev.shoal.indexnode.shard.LexicalLegs;
import dev.shoal.indexnode.shard.ShardGroup;
import dev.shoal.indexnode.shard.SearchThreads;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.ShardFailure;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.server.Metrics;
import io.grpc.Status;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import org.apache.lucene.queryparser.classic.ParseException;

/**
 * One {@code SearchShards} call. The query is parsed once for every shard asked. When the scores
 * are to be global (the request carries the corpus's statistics, or the call holds every shard
 * and is asked to sum them), the shards are searched as one index ({@link ShardGroup}: one
 * MultiReader, one top k per leg, its statistics the shards' sums); else, each scoring by its own
 * statistics (a shard could not be read, or none were asked for), one after another on the calling
 * thread. Each shard answers or fails on its own: a shard not hosted here, or whose passages
 * another model embedded, fails alone (and then nothing is summed); a query the shards cannot
 * parse fails them all, as does an error while the group searches. The documents hydrated are the
 * best {@code hydrate_top} of the first leg (the node request's, else the shard request's) over
 * all the shards (ordered as the query service merges: score, then id), not that many per shard.
 * Not thread-safe: one per call.
 */
final class NodeSearch {

  /** How a failure on one shard becomes its status (as its own Search call would answer). */
  interface Failures {
    Status of(Exception e, int shard);
  }

  private final NodeSearchRequest request;
  private final IntFunction<ShardStore> stores;
  private final Metrics.Histogram searchSeconds;
  private final Failures failures;
  private final String nodeId;
  private final SearchThreads threads;

  NodeSearch(NodeSearchRequest request, String nodeId, IntFunction<ShardStore> stores,
             Metrics.Histogram searchSeconds, Failures failures, SearchThreads threads) {
    this.request = request;
    this.threads = threads;
    this.nodeId = nodeId;
    this.stores = stores;
    this.searchSeconds = searchSeconds;
    this.failures = failures;
  }

  NodeSearchResponse run() {
    NodeSearchResponse.Builder out = NodeSearchResponse.newBuilder();
    Map<Integer, ShardStore> held = new LinkedHashMap<>();
    Map<Integer, ShardStore.Pinned> pinned = new LinkedHashMap<>();
    try {
      for (int s : request.getShardsList()) {
        ShardStore store = held.containsKey(s) ? null : stores.apply(s);
        if (store != null && store.tryAcquire()) {
          held.put(s, store);
        } else if (!held.containsKey(s)) {
          out.addFailures(failure(s, ShardSearchService.notHosted(nodeId, s)));
        }
      }
      if (held.isEmpty()) {
        return out.build();
      }
      // the query is the same on every shard: analysed and parsed once, each term looked up once per shard
      LexicalLegs legs;
      try {
        legs = held.values().iterator().next().parse(request.getRequest().getLegsList());
      } catch (ParseException | RuntimeException x) {
        held.keySet().forEach(s -> out.addFailures(failure(s, failures.of(x, s))));
        return out.build();
      }
      ShardSearchRequest template = request.getRequest().toBuilder().setHydrateTop(0).build();
      for (Map.Entry<Integer, ShardStore> e : held.entrySet()) {
        try {
          ShardStore.Pinned p = e.getValue().pin(legs);
          pinned.put(e.getKey(), p);
          p.check(template); // a shard whose passages another model embedded fails alone
        } catch (IOException | RuntimeException x) {
          out.addFailures(failure(e.getKey(), failures.of(x, e.getKey())));
        }
      }
      pinned.keySet().removeIf(s -> failed(out, s) && close(pinned.get(s)));
      // scores are global when the request carries the corpus's statistics, or when this call holds
      // every shard and may sum them; else each shard scores by its own and is searched alone
      boolean sumHere = request.getSumStatistics() && !template.hasStatistics();
      boolean global = template.hasStatistics() || sumHere && out.getFailuresCount() == 0;
      Map<Integer, ShardSearchResponse.Builder> answers = new LinkedHashMap<>();
      if (global && pinned.size() > 1) {
        long t0 = System.nanoTime();
        try {
          answers = ShardGroup.search(List.copyOf(pinned.values()), legs, template, threads);
          searchSeconds.observe((System.nanoTime() - t0) / 1e9);
        } catch (IOException | ParseException | RuntimeException x) {
          pinned.keySet().forEach(s -> out.addFailures(failure(s, failures.of(x, s))));
        }
      } else {
        for (Map.Entry<Integer, ShardStore.Pinned> e : pinned.entrySet()) {
          long t0 = System.nanoTime();
          try {
            answers.put(e.getKey(), e.getValue().search(template.toBuilder().setShard(e.getKey()).build()).toBuilder());
            searchSeconds.observe((System.nanoTime() - t0) / 1e9);
          } catch (IOException | ParseException | RuntimeException x) {
            out.addFailures(failure(e.getKey(), failures.of(x, e.getKey())));
          }
        }
      }
      hydrateBest(answers, held, out);
      answers.values().forEach(out::addAnswers);
      return out.setStatisticsSummed(sumHere && out.getFailuresCount() == 0).build();
    } finally {
      pinned.values().forEach(NodeSearch::close);
      held.values().forEach(ShardStore::release);
    }
  }

  private static boolean failed(NodeSearchResponse.Builder out, int shard) {
    return out.getFailuresList().stream().anyMatch(f -> f.getShard() == shard);
  }

  /** Releases a pinned searcher; true, so it can stand in a condition. */
  private static boolean close(ShardStore.Pinned p) {
    try {
      p.close();
    } catch (IOException e) {
      // releasing a searcher reference: nothing a caller could do
    }
    return true;
  }

  private record Ranked(int shard, ShardHit.Builder hit, double score) {
  }

  /** Titles, snippets and fields for the best {@code hydrate_top} hits of the first leg over all answers. */
  private void hydrateBest(Map<Integer, ShardSearchResponse.Builder> answers, Map<Integer, ShardStore> held,
                           NodeSearchResponse.Builder out) {
    ShardSearchRequest r = request.getRequest();
    int top = request.getHydrateTop() > 0 ? request.getHydrateTop() : r.getHydrateTop();
    if (top <= 0 || r.getLegsCount() == 0) {
      return;
    }
    String leg = r.getLegs(0).getName();
    List<Ranked> ranked = new ArrayList<>();
    answers.forEach((shard, a) -> {
      for (ShardHit.Builder h : a.getHitsBuilderList()) {
        if (h.containsSignals(leg)) {
          ranked.add(new Ranked(shard, h, h.getSignalsOrThrow(leg)));
        }
      }
    });
    ranked.sort(Comparator.comparingDouble(Ranked::score).reversed().thenComparing(x -> x.hit().getId()));
    Map<Integer, List<String>> toLoad = new LinkedHashMap<>();
    for (Ranked x : ranked.subList(0, Math.min(top, ranked.size()))) {
      toLoad.computeIfAbsent(x.shard(), k -> new ArrayList<>()).add(x.hit().getId());
    }
    for (Map.Entry<Integer, List<String>> e : toLoad.entrySet()) {
      int shard = e.getKey();
      Map<String, ShardHit> loaded = new HashMap<>();
      try {
        for (ShardHit h : held.get(shard).hydrate(e.getValue(), r.getHighlight(), r.getFieldsList(), true, true,
            false)) {
          loaded.put(h.getId(), h);
        }
      } catch (IOException | RuntimeException x) {
        answers.remove(shard);
        out.addFailures(failure(shard, failures.of(x, shard)));
        continue;
      }
      ShardSearchResponse.Builder a = answers.get(shard);
      List<ShardHit> hits = new ArrayList<>(a.getHitsCount());
      for (ShardHit.Builder h : a.getHitsBuilderList()) {
        ShardHit d = loaded.get(h.getId());
        if (d != null) {
          hits.add(h.mergeFrom(d).setHydrated(true).build());
        } else if (!e.getValue().contains(h.getId())) {
          hits.add(h.build());
        } // else deleted after the searcher was opened
      }
      a.clearHits().addAllHits(hits);
    }
  }

  private static ShardFailure failure(int shard, Status status) {
    return ShardFailure.newBuilder().setShard(shard).setCode(status.getCode().value())
        .setDescription(status.getDescription() == null ? status.getCode().name() : status.getDescription()).build();
  }
}
