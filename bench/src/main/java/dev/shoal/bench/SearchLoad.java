package dev.shoal.bench;

import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.Encoders;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.indexnode.shard.ShardQueries;
import dev.shoal.indexnode.shard.SearchThreads;
import dev.shoal.indexnode.shard.ShardSchema;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.query.plan.Fusion;
import dev.shoal.query.plan.FusionWeights;
import dev.shoal.query.plan.Signal;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.MultiReader;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.FSDirectory;

/**
 * Closed-loop search load against a Shoal query service, and the same queries against the
 * baseline: the shards' Lucene indexes opened directly in this process (one
 * {@link IndexSearcher} over a {@link MultiReader} of all shards). For {@code neural} the
 * baseline also embeds the query with ONNX Runtime in this process and fuses like the service
 * (RRF of BM25 and kNN, then of BM25 and the exact cosine over the head), so the ratio is the
 * cost of the distributed system, not of the model. Not thread-safe; one cell at a time.
 */
public final class SearchLoad implements AutoCloseable {

  /**
   * What the paths of a results file measure.
   *
   * @param networkCalls whether the query service called its node and ranker over loopback TCP (else in-process)
   */
  public static String description(boolean networkCalls) {
    String calls = networkCalls
        ? "The query service reaches the index node and the ranker over loopback TCP (gRPC over HTTP/2, "
          + "protobuf serialised), as between machines (--network-calls). "
        : "The query service reaches the index node and the ranker, which run in its JVM here as in the demo, "
          + "over grpc-java's in-process transport (the same calls, interceptors and deadlines; no socket, no "
          + "serialisation; a call runs on the query's own thread instead of the node's pool); between machines, "
          + "or with --network-calls, they go over TCP. ";
    String trips = networkCalls
        ? "A bm25 search makes two round trips in sequence (client → query service → index node, which sends "
          + "ids, scores and, for the best hits over its shards, titles and snippets); neural makes four (client → "
          + "query service, Embed, the node for ids, scores and exact cosines, the node's shards for the page)."
        : "A search makes one network round trip (client → query service); its calls to the node (bm25: one; "
          + "neural: ids, scores and exact cosines, then the page) and the ranker (neural: Embed) stay in the "
          + "process.";
    return """
      Paths. **shoal**: the client calls SearchService.Search over gRPC (one channel, a 10 s deadline); \
      the query service embeds the query through the ranker (neural), sends one SearchShards call carrying \
      the 4 shards to the index node (which searches them as one index: one MultiReader, BM25 \
      with their summed statistics, and for neural the exact cosine of the candidates' stored embeddings), \
      fuses, re-scores the head of 100 (neural), and fetches titles and snippets for the page. Result cache \
      and query-embedding cache off, so every query takes the whole path. \
      """ + calls + """
      **shoal, ids only**: the same search with `ids_only` set: hits carry ids and scores, and no document is \
      read for titles or snippets (the raw Lucene baseline's output). \
      **raw Lucene**: one IndexSearcher over the same 4 shard indexes (their last commit), opened in the \
      client's JVM; bm25: the same BM25 query (Shoal's analyzer and similarity), top k ids; neural: ONNX \
      Runtime embeds the query (the same bge-small-en-v1.5, 2 threads), BM25 top 100 + HNSW top 100, RRF, \
      exact cosine over the head of 100, RRF with BM25, top k ids. The baseline returns ids only (no titles, \
      snippets): in the shoal row's ratio that work is part of what is measured, in the ids-only row's it is not. \
      **raw Lucene, sliced**: the same, on a searcher that cuts the segments into one slice per core and \
      searches them at once while at most half the cores have a query in flight, as the index node does \
      (one thread each past that; one slice for a reader under twice 20,000 documents, as SciFact's is): \
      the baseline for a Shoal that may use a second core for a lone query. \
      p50 ratio = shoal p50 / raw p50 at the same number of clients (the last column: against the sliced baseline); QPS ratio = shoal QPS / raw QPS; CPU per query = the CPU time of this client's JVM \
      and the cluster's over the measured window, per query (from /proc; the raw rows' cluster sits idle), \
      and CPU ratio = shoal's / raw's. **gRPC ping**: grpc.health.v1 Check against the query service over the same \
      channel: the cost of one round trip on this machine, with no work behind it. \
      """ + trips;
  }

  /** Which side of the comparison a cell measures. */
  public enum Target {
    SHOAL("shoal"), SHOAL_IDS("shoal, ids only"), BASELINE("raw Lucene"), BASELINE_SLICED("raw Lucene, sliced"),
    PING("gRPC ping");

    final String label;

    Target(String label) {
      this.label = label;
    }
  }

  /**
   * One cell's measurements.
   *
   * @param cpuMillisPerQuery CPU time of the measured processes (this client's JVM and the
   *                          cluster's) over the measured window, per query answered; NaN when it
   *                          could not be read
   */
  public record Cell(String profile, int clients, Target target, double seconds, double[] millis, long errors,
                     long partial, Map<String, Double> stageMedians, double cpuMillisPerQuery) {
    public double qps() {
      return millis.length / seconds;
    }

    public double p50() {
      return percentile(0.50);
    }

    public double p95() {
      return percentile(0.95);
    }

    public double p99() {
      return percentile(0.99);
    }

    private double percentile(double p) {
      return millis.length == 0 ? Double.NaN : millis[Math.max(0, (int) Math.ceil(p * millis.length) - 1)];
    }

    public String line() {
      return String.format(Locale.ROOT, "%-7s %3d clients  %-10s %8.1f q/s  p50 %7.2f  p95 %7.2f  p99 %7.2f ms"
          + "  CPU %5.2f ms/q  errors %d  partial %d  %s", profile, clients, target.label, qps(), p50(), p95(), p99(),
          cpuMillisPerQuery, errors, partial, stages());
    }

    /** The server's own per-stage timings (medians, ms), as the responses report them. */
    public String stages() {
      StringBuilder sb = new StringBuilder();
      stageMedians.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : " ").append(k).append(' ')
          .append(String.format(Locale.ROOT, "%.2f", v)));
      return sb.toString();
    }

    /** A Markdown table row; {@code label} names the path, {@code last} fills the last column. */
    public String row(String label, String last) {
      return String.format(Locale.ROOT, "| %s | %d | %s | %.1f | %.2f | %.2f | %.2f | %.2f | %d | %d | %s |%n",
          profile, clients, label, qps(), p50(), p95(), p99(), cpuMillisPerQuery, errors, partial, last);
    }

    public String row(String last) {
      return row(target.label, last);
    }

    public String tsv() {
      return String.format(Locale.ROOT, "%s\t%d\t%s\t%d\t%.1f\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d", profile,
          clients, target.label, millis.length, seconds, qps(), p50(), p95(), p99(), cpuMillisPerQuery, errors,
          partial);
    }
  }

  private interface Call {
    /** Runs one query; returns whether the answer was partial. */
    boolean run(String query) throws Exception;
  }

  private static final int HEAD = 100;

  private final Map<String, List<Double>> stageMillis = new HashMap<>();

  private final ManagedChannel channel;
  private final SearchServiceGrpc.SearchServiceBlockingStub stub;
  private final HealthGrpc.HealthBlockingStub health;
  private final IndexReader reader;
  private final IndexSearcher searcher;
  private final AtomicInteger baselineInFlight = new AtomicInteger();
  /** The sliced baseline's threads, on the index node's rule (its {@link SearchThreads}). */
  private final SearchThreads slices = SearchThreads.upTo(Runtime.getRuntime().availableProcessors(),
      baselineInFlight);
  private final ShardQueries queries = new ShardQueries(ShardSchema.analyzer());
  private final ModelSpec model;
  private int topK;
  private int depth = HEAD;
  /** The processes whose CPU a cell counts: this one, and the cluster's when it runs elsewhere. */
  private List<Long> cpuPids = List.of(ProcessHandle.current().pid());
  private Encoder encoder;

  public SearchLoad(String target, List<java.nio.file.Path> shardDirs, ModelSpec model, int topK) throws IOException {
    this.channel = ManagedChannelBuilder.forTarget(target).usePlaintext().build();
    this.stub = SearchServiceGrpc.newBlockingStub(channel);
    this.health = HealthGrpc.newBlockingStub(channel);
    List<IndexReader> shards = new ArrayList<>();
    for (java.nio.file.Path d : shardDirs) {
      shards.add(DirectoryReader.open(FSDirectory.open(d)));
    }
    this.reader = new MultiReader(shards.toArray(IndexReader[]::new), true);
    this.searcher = new IndexSearcher(reader);
    searcher.setSimilarity(ShardSchema.similarity());
    this.model = model;
    this.topK = topK;
  }

  /** Counts the CPU of the cluster's process too (a cluster in another JVM than this client). */
  public SearchLoad withServerProcess(long pid) {
    this.cpuPids = List.of(ProcessHandle.current().pid(), pid);
    return this;
  }

  /**
   * The page size and rerank depth of the cells that follow (both sides: the service's request and
   * the baseline's work). The depth only changes neural: its legs go to {@code depth} (to the next
   * multiple of it past the page), and the head is re-scored in tiers of {@code depth}, as the
   * query service does.
   */
  public SearchLoad shape(int topK, int depth) {
    if (topK < 1 || depth < 1) {
      throw new IllegalArgumentException("top k and rerank depth must be at least 1: " + topK + ", " + depth);
    }
    this.topK = topK;
    this.depth = depth;
    return this;
  }

  public Cell run(Target target, String profile, int clients, List<String> texts, int warmupSeconds,
                  int seconds) throws InterruptedException {
    long start = System.nanoTime();
    long measureFrom = start + TimeUnit.SECONDS.toNanos(warmupSeconds);
    return measure(target, profile, clients, texts, measureFrom, measureFrom + TimeUnit.SECONDS.toNanos(seconds),
        Integer.MAX_VALUE, seconds);
  }

  /**
   * The first {@code count} queries of {@code texts}, each sent once, by {@code clients} clients
   * at a time, all measured: what a user sees right after a start (the cold row). Its QPS is
   * over the time the queries took.
   */
  public Cell first(Target target, String profile, int clients, List<String> texts, int count)
      throws InterruptedException {
    long start = System.nanoTime();
    Cell c = measure(target, profile, clients, texts, start, Long.MAX_VALUE, count, 0);
    double took = (System.nanoTime() - start) / 1e9;
    return new Cell(c.profile(), c.clients(), c.target(), took, c.millis(), c.errors(), c.partial(),
        c.stageMedians(), c.cpuMillisPerQuery());
  }

  private Cell measure(Target target, String profile, int clients, List<String> texts, long measureFrom, long end,
                       int maxQueries, double seconds) throws InterruptedException {
    RankProfile p = RankProfile.valueOf(profile.toUpperCase(Locale.ROOT));
    Call call = switch (target) {
      case SHOAL -> shoal(p, false);
      case SHOAL_IDS -> shoal(p, true);
      case BASELINE -> baseline(p, false);
      case BASELINE_SLICED -> baseline(p, true);
      case PING -> q -> {
        health.withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
        return false;
      };
    };
    AtomicInteger next = new AtomicInteger();
    AtomicLong errors = new AtomicLong();
    AtomicLong partial = new AtomicLong();
    List<double[]> perClient = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      double[][] slot = {new double[1024]};
      int[] count = {0};
      Thread t = Thread.ofPlatform().name("load-" + c).start(() -> {
        while (true) {
          long t0 = System.nanoTime();
          int i = next.getAndIncrement();
          if (t0 >= end || i >= maxQueries) {
            break;
          }
          String q = texts.get(Math.floorMod(i, texts.size()));
          boolean measured = t0 >= measureFrom;
          try {
            if (call.run(q) && measured) {
              partial.incrementAndGet();
            }
          } catch (Exception e) {
            if (measured) {
              errors.incrementAndGet();
            }
            continue;
          }
          if (measured) {
            if (count[0] == slot[0].length) {
              slot[0] = Arrays.copyOf(slot[0], count[0] * 2);
            }
            slot[0][count[0]++] = (System.nanoTime() - t0) / 1e6;
          }
        }
        synchronized (perClient) {
          perClient.add(Arrays.copyOf(slot[0], count[0]));
        }
      });
      threads.add(t);
    }
    long now = System.nanoTime();
    if (measureFrom > now) {
      TimeUnit.NANOSECONDS.sleep(measureFrom - now);
    }
    long cpuFrom = ProcessCpu.nanos(cpuPids);
    for (Thread t : threads) {
      t.join();
    }
    long cpuTo = ProcessCpu.nanos(cpuPids);
    double[] all = perClient.stream().flatMapToDouble(Arrays::stream).sorted().toArray();
    Map<String, Double> medians = new java.util.TreeMap<>();
    synchronized (stageMillis) {
      stageMillis.forEach((k, v) -> {
        double[] x = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        medians.put(k, x[x.length / 2]);
      });
      stageMillis.clear();
    }
    double cpuPerQuery = cpuFrom < 0 || cpuTo < 0 || all.length == 0 ? Double.NaN
        : (cpuTo - cpuFrom) / 1e6 / all.length;
    return new Cell(profile, clients, target, seconds, all, errors.get(), partial.get(), medians, cpuPerQuery);
  }

  private Call shoal(RankProfile profile, boolean idsOnly) {
    return q -> {
      SearchResponse r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).search(SearchRequest.newBuilder()
          .setQuery(q).setTopK(topK).setRerankDepth(depth).setProfile(profile).setIdsOnly(idsOnly).build());
      if (r.getHitsCount() == 0) {
        throw new IllegalStateException("no hits for '" + q + "'");
      }
      synchronized (stageMillis) {
        r.getTimingsList().forEach(t -> stageMillis.computeIfAbsent(t.getStage(), k -> new ArrayList<>())
            .add(t.getMillis()));
      }
      return r.getPartial();
    };
  }

  private Call baseline(RankProfile profile, boolean sliced) {
    Call work = switch (profile) {
      case BM25 -> q -> {
        ids(searcherNow(sliced).search(queries.lexical(q, QuerySyntax.PLAIN), topK).scoreDocs);
        return false;
      };
      case NEURAL -> q -> {
        neural(q, searcherNow(sliced));
        return false;
      };
      default -> throw new IllegalArgumentException("the benchmark's baselines cover bm25 and neural");
    };
    return q -> {
      baselineInFlight.incrementAndGet();
      try {
        return work.run(q);
      } finally {
        baselineInFlight.decrementAndGet();
      }
    };
  }

  /**
   * For the sliced baseline, a searcher made per query as the index node makes one per call, with
   * the slice threads its rule gives a search starting now; else the one-thread searcher.
   */
  private IndexSearcher searcherNow(boolean sliced) {
    if (!sliced) {
      return searcher;
    }
    IndexSearcher s = slices.searcher(reader);
    s.setSimilarity(ShardSchema.similarity());
    return s;
  }

  private List<String> ids(ScoreDoc[] docs) throws IOException {
    StoredFields stored = searcher.storedFields();
    List<String> out = new ArrayList<>(docs.length);
    for (ScoreDoc d : docs) {
      out.add(stored.document(d.doc).get(ShardSchema.ID));
    }
    if (out.isEmpty()) {
      throw new IllegalStateException("no hits");
    }
    return out;
  }

  /**
   * The neural profile's work without the distributed system: BM25 and HNSW each to the legs' depth,
   * RRF, then tier by tier of {@code depth} in fused order the exact cosine, re-ranked by RRF of
   * BM25 and the cosine's rank within the tier; the first {@code topK}.
   */
  private List<String> neural(String q, IndexSearcher searcher) throws Exception {
    if (encoder == null) {
      encoder = Encoders.create(model, "cpu", 2, 16);
    }
    float[] v = encoder.embed(List.of(q), Encoder.Kind.QUERY)[0];
    int legK = (topK + depth - 1) / depth * depth;
    TopDocs bm25 = searcher.search(queries.lexical(q, QuerySyntax.PLAIN), legK);
    TopDocs knn = searcher.search(new KnnFloatVectorQuery(ShardSchema.VECTOR, v, legK), legK);
    Map<Integer, int[]> ranks = new HashMap<>(); // doc -> {bm25 rank, dense rank}
    for (int i = 0; i < bm25.scoreDocs.length; i++) {
      ranks.computeIfAbsent(bm25.scoreDocs[i].doc, d -> new int[2])[0] = i + 1;
    }
    for (int i = 0; i < knn.scoreDocs.length; i++) {
      ranks.computeIfAbsent(knn.scoreDocs[i].doc, d -> new int[2])[1] = i + 1;
    }
    QueryServiceConfig defaults = QueryServiceConfig.defaults("", "");
    Fusion f = defaults.fusion();
    FusionWeights w = defaults.weights();
    List<Integer> fused = ranks.keySet().stream().sorted(Comparator.comparingDouble((Integer d) -> -f.fuse(List.of(
        new Signal("bm25", w.of("bm25"), 0, ranks.get(d)[0], 0, 0),
        new Signal("dense", w.of("dense"), 0, ranks.get(d)[1], 0, 0))).score())).limit(legK).toList();
    List<ScoreDoc> top = new ArrayList<>(topK);
    for (int from = 0; from < fused.size() && top.size() < topK; from += depth) {
      List<Integer> tier = fused.subList(from, Math.min(fused.size(), from + depth));
      double[] cos = new double[tier.size()];
      for (int i = 0; i < cos.length; i++) {
        cos[i] = dot(v, vector(tier.get(i)));
      }
      Integer[] byModel = new Integer[tier.size()];
      for (int i = 0; i < byModel.length; i++) {
        byModel[i] = i;
      }
      Arrays.sort(byModel, Comparator.comparingDouble(i -> -cos[i]));
      int[] modelRank = new int[tier.size()];
      for (int r = 0; r < byModel.length; r++) {
        modelRank[byModel[r]] = r + 1;
      }
      Integer[] order = byModel.clone();
      Arrays.sort(order, Comparator.comparingDouble(i -> -f.fuse(List.of(
          new Signal("bm25", w.of("bm25"), 0, ranks.get(tier.get(i))[0], 0, 0),
          new Signal("cosine", w.of("cosine"), 0, modelRank[i], 0, 0))).score()));
      for (int i = 0; i < order.length && top.size() < topK; i++) {
        top.add(new ScoreDoc(tier.get(order[i]), (float) cos[order[i]]));
      }
    }
    return ids(top.toArray(ScoreDoc[]::new));
  }

  private float[] vector(int doc) throws IOException {
    List<LeafReaderContext> leaves = reader.leaves();
    LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(doc, leaves));
    FloatVectorValues values = leaf.reader().getFloatVectorValues(ShardSchema.VECTOR);
    KnnVectorValues.DocIndexIterator it = values.iterator();
    if (it.advance(doc - leaf.docBase) != doc - leaf.docBase) {
      throw new IllegalStateException("document " + doc + " has no vector");
    }
    return values.vectorValue(it.index());
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  @Override
  public void close() throws Exception {
    channel.shutdownNow();
    slices.close();
    reader.close();
    if (encoder != null) {
      encoder.close();
    }
  }
}
