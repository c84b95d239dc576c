package dev.shoal.query.internal;

import com.google.common.util.concurrent.ListenableFuture;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.query.plan.Candidate;
import dev.shoal.server.time.Clock;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The second phase: the stored parts of a few candidates (titles, snippets, fields for the page;
 * passages for a model rescorer), asked of the replica that returned them in the first phase
 * (same searcher, most likely) and, if it fails, of the shard's other replicas, all shards at
 * once. Candidates whose shard cannot answer by the deadline are missing from the result, and
 * the shard is named in {@link Hydrated#failed}. Thread-safe.
 */
final class Hydrator {

  /**
   * @param hits   id → stored parts, for the candidates whose shard answered
   * @param failed shard → why none of its replicas answered
   */
  record Hydrated(Map<String, ShardHit> hits, Map<Integer, String> failed) {
  }

  private final ShardRouter router;
  private final ShardClient client;
  private final Clock clock;

  Hydrator(ShardRouter router, ShardClient client, Clock clock) {
    this.router = router;
    this.client = client;
    this.clock = clock;
  }

  /**
   * @param what       the parts to load (shard and ids are filled in here)
   * @param answeredBy shard → the replica that answered its first phase
   */
  Hydrated hydrate(List<Candidate> candidates, Map<Integer, String> answeredBy, String session,
                   HydrateRequest.Builder what, long deadlineNanos) {
    Map<Integer, List<String>> idsByShard = new TreeMap<>();
    for (Candidate c : candidates) {
      idsByShard.computeIfAbsent(c.shard(), k -> new ArrayList<>()).add(c.id());
    }
    Map<Integer, ListenableFuture<HydrateResponse>> first = new HashMap<>();
    idsByShard.forEach((shard, ids) -> first.put(shard,
        client.hydrate(answeredBy.get(shard), request(what, shard, ids), deadlineNanos)));
    Map<String, ShardHit> out = new HashMap<>();
    Map<Integer, String> failed = new TreeMap<>();
    for (var e : first.entrySet()) {
      int shard = e.getKey();
      List<String> why = new ArrayList<>();
      HydrateResponse resp = await(e.getValue(), deadlineNanos, answeredBy.get(shard), why);
      if (resp == null) {
        HydrateRequest req = request(what, shard, idsByShard.get(shard));
        for (Replica other : router.replicas(shard, session)) {
          if (!other.getAddress().equals(answeredBy.get(shard))) {
            resp = await(client.hydrate(other.getAddress(), req, deadlineNanos), deadlineNanos, other.getAddress(), why);
            if (resp != null) {
              break;
            }
          }
        }
      }
      if (resp != null) {
        resp.getHitsList().forEach(h -> out.put(h.getId(), h));
      } else {
        failed.put(shard, String.join("; ", why));
      }
    }
    return new Hydrated(out, failed);
  }

  private static HydrateRequest request(HydrateRequest.Builder what, int shard, List<String> ids) {
    return what.clone().setShard(shard).clearIds().addAllIds(ids).build();
  }

  private <T> T await(ListenableFuture<T> f, long deadlineNanos, String address, List<String> why) {
    try {
      return f.get(Math.max(0, deadlineNanos - clock.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      why.add(address + ": interrupted");
      return null;
    } catch (ExecutionException e) {
      why.add(address + ": " + Status.fromThrowable(e.getCause()).getCode());
      return null;
    } catch (TimeoutException e) {
      f.cancel(true);
      why.add(address + ": no answer by the deadline");
      return null;
    }
  }
}
