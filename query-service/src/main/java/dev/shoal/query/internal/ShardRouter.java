package dev.shoal.query.internal;

import dev.shoal.cluster.ReplicaTier;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardSearchGrpc;
import dev.shoal.server.tls.Tls;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The query service's view of the routing table: which replicas serve each shard, a channel
 * per node, and the choice of replica by outstanding requests, then latency EWMA. Thread-safe.
 */
public final class ShardRouter implements AutoCloseable {

  /** Per-replica load statistics: outstanding requests, latency EWMA, and the last 64 latencies. */
  static final class ReplicaStats {
    final AtomicInteger outstanding = new AtomicInteger();
    volatile double ewmaMillis = 1.0;
    private final double[] recent = new double[64];
    private int count;
    /** The p95 of {@link #recent} as it is now, or null until asked again after a new sample. */
    private Double p95;

    synchronized void record(double millis) {
      ewmaMillis = 0.8 * ewmaMillis + 0.2 * millis;
      recent[count++ % recent.length] = millis;
      p95 = null;
    }

    /** A failure doubles the EWMA (at least to the penalty), so a replica that fails fast sorts last. */
    synchronized void penalize() {
      ewmaMillis = Math.max(FAILURE_PENALTY_MILLIS, 2 * ewmaMillis);
    }

    /**
     * The 95th percentile of the recent latencies, or NaN with fewer than 8 samples. Kept until the
     * next sample: the shards of one node share its statistics, so a query over them asks as many
     * times between two samples.
     */
    synchronized double p95Millis() {
      if (p95 == null) {
        int n = Math.min(count, recent.length);
        if (n < 8) {
          return Double.NaN;
        }
        double[] sorted = java.util.Arrays.copyOf(recent, n);
        java.util.Arrays.sort(sorted);
        p95 = sorted[(int) Math.ceil(0.95 * n) - 1];
      }
      return p95;
    }
  }

  /** What one failed call makes a replica's latency EWMA at least. */
  static final double FAILURE_PENALTY_MILLIS = 250;
  /** Before a replica has 8 samples, hedge after this long. */
  static final double DEFAULT_HEDGE_MILLIS = 50;
  /** Never hedge sooner: below this the copy costs more than it saves. */
  static final double MIN_HEDGE_MILLIS = 2;

  /** How long to wait for a replica before sending a hedged copy to the next one: its recent p95. */
  public long hedgeDelayNanos(String address) {
    double p95 = address == null ? Double.NaN : stats(address).p95Millis();
    double ms = Double.isNaN(p95) ? DEFAULT_HEDGE_MILLIS : Math.max(MIN_HEDGE_MILLIS, p95);
    return (long) (ms * 1_000_000);
  }

  private final AtomicReference<ShardAssignment> table = new AtomicReference<>();
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Map<String, ReplicaStats> stats = new ConcurrentHashMap<>();
  private final Function<String, ManagedChannelBuilder<?>> channelTo;

  /** Plaintext connections to the index nodes. */
  public ShardRouter() {
    this(Tls.plaintext());
  }

  /** @param tls how index nodes are reached (their CA, and this service's certificate where they ask for one) */
  public ShardRouter(Tls tls) {
    this(tls::channel);
  }

  /**
   * @param channelTo a channel builder for a node's address: {@link Tls#channel}, or
   *                  {@code Colocated.channel} for a node this JVM may serve in-process
   */
  public ShardRouter(Function<String, ManagedChannelBuilder<?>> channelTo) {
    this.channelTo = channelTo;
  }

  private volatile BiFunction<String, Integer, ReplicaTier> tiers = (address, shard) -> ReplicaTier.SERVING;

  /**
   * Takes a new routing table, and closes the channels and forgets the statistics of nodes it no
   * longer names (a node on port 0 gets a new address at every restart).
   */
  public void update(ShardAssignment a) {
    table.set(a);
    Set<String> named = new HashSet<>();
    for (ShardPlacement p : a.getPlacementsList()) {
      p.getReplicasList().forEach(r -> named.add(r.getAddress()));
    }
    channels.entrySet().removeIf(e -> {
      boolean gone = !named.contains(e.getKey().substring(0, e.getKey().lastIndexOf('#')));
      if (gone) {
        e.getValue().shutdown();
      }
      return gone;
    });
    stats.keySet().retainAll(named);
  }

  /**
   * What is known of each replica (address, shard). A shard is routed only to its best tier: a
   * replica that is still building gets no queries while another is LIVE, and a silent node none
   * while another one reports. Default: every assigned replica is equal.
   */
  public void tiers(BiFunction<String, Integer, ReplicaTier> tiers) {
    this.tiers = tiers;
  }

  /** What the heartbeats say of one replica now. */
  public ReplicaTier tier(String address, int shard) {
    return tiers.apply(address, shard);
  }

  public ShardAssignment table() {
    return table.get();
  }

  public int shardCount() {
    ShardAssignment a = table.get();
    return a == null ? 0 : a.getShardCount();
  }

  /** Replicas of a shard, best first; {@code preferenceKey} (non-empty) pins the order per session. */
  public List<Replica> replicas(int shard, String preferenceKey) {
    ShardAssignment a = table.get();
    if (a == null) {
      return List.of();
    }
    for (ShardPlacement p : a.getPlacementsList()) {
      if (p.getShard() == shard) {
        List<Replica> rs = new ArrayList<>();
        int best = Integer.MAX_VALUE;
        for (Replica r : p.getReplicasList()) {
          int t = tiers.apply(r.getAddress(), shard).ordinal();
          if (t < best) {
            best = t;
            rs.clear();
          }
          if (t == best) {
            rs.add(r);
          }
        }
        if (preferenceKey != null && !preferenceKey.isEmpty() && !rs.isEmpty()) {
          int start = Math.floorMod((preferenceKey + "/" + shard).hashCode(), rs.size());
          List<Replica> rotated = new ArrayList<>(rs.subList(start, rs.size()));
          rotated.addAll(rs.subList(0, start));
          return rotated;
        }
        rs.sort(Comparator.<Replica>comparingInt(r -> stats(r.getAddress()).outstanding.get())
            .thenComparingDouble(r -> stats(r.getAddress()).ewmaMillis));
        return rs;
      }
    }
    return List.of();
  }

  ReplicaStats stats(String address) {
    return stats.computeIfAbsent(address, k -> new ReplicaStats());
  }

  /**
   * Connections per node. A node runs shard calls on the event loop of the connection they
   * arrive on, so calls for different shards over separate connections run in parallel.
   */
  static final int CONNECTIONS_PER_NODE = 4;

  /** A stub for a shard's calls to a node; each shard keeps to one of the node's connections. */
  public ShardSearchGrpc.ShardSearchFutureStub stub(String address, int shard) {
    int lane = Math.floorMod(shard, CONNECTIONS_PER_NODE);
    return ShardSearchGrpc.newFutureStub(channels.computeIfAbsent(address + "#" + lane,
        // responses complete futures on the event loop: no hand-off to an executor per shard answer
        k -> channelTo.apply(address).directExecutor()
            .maxInboundMessageSize(64 << 20).build()));
  }

  public void begin(String address) {
    stats(address).outstanding.incrementAndGet();
  }

  /** A call that answered, and its latency. */
  public void end(String address, double millis) {
    ReplicaStats s = stats(address);
    s.outstanding.decrementAndGet();
    s.record(millis);
  }

  /** A call that failed: no latency sample, and the replica sorts behind those that answer. */
  public void failed(String address) {
    ReplicaStats s = stats(address);
    s.outstanding.decrementAndGet();
    s.penalize();
  }

  /** A call cancelled by its caller (a lost hedge race): it only stops being outstanding. */
  public void abandoned(String address) {
    stats(address).outstanding.decrementAndGet();
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
