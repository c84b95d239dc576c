package dev.shoal.bench;

import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.LocalCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * How search cost grows with the work: latency and throughput against corpus size, shard count,
 * top-k and rerank depth, each cell next to the same-run baseline on the same shard indexes (raw
 * Lucene for bm25; ONNX Runtime + Lucene + the same fusion in one process for neural, see
 * {@link SearchLoad}).
 *
 * <p>Each setting gets its own cluster in this process (embedded Kafka, ranker, one index node,
 * query service; caches off), fed on {@code shoal.docs.enriched} directly: the documents and
 * embeddings are those a demo's enricher wrote, so nothing is embedded again. Corpora larger than
 * SciFact are synthetic and built from it: copy {@code c} of document {@code d} keeps each of
 * {@code d}'s words with probability 1/2 and otherwise draws a word from the collection's unigram
 * distribution (so postings grow as a real collection's would and query terms keep their
 * frequencies), and its embedding is {@code d}'s plus 0.35 times a random other document's plus
 * Gaussian noise, normalised (so the vectors stay on the model's manifold and HNSW does real
 * work). The load runs in this process too, so the baseline pays the same JVM and cores.
 * Not thread-safe; one run at a time.
 */
public final class CostCurves {

  /**
   * @param dataDir a demo data directory whose enriched topic gives the documents and embeddings
   * @param dataset the BEIR folder of the queries
   * @param scales  corpus sizes as multiples of the dataset (1 is the dataset itself)
   * @param shards  shard counts, on one index node, for the shard-count curve (at scale 1)
   * @param topKs   page sizes for the top-k curve (at scale 1, 4 shards)
   * @param depths  rerank depths for the depth curve (neural, at scale 1, 4 shards)
   * @param clients concurrent clients per cell
   */
  public record Options(Path dataDir, Path dataset, List<Integer> scales, List<Integer> shards, List<Integer> topKs,
                        List<Integer> depths, int clients, int seconds, int warmup, Path output) {
  }

  /**
   * One comparison: the service and the baseline for one setting of one curve.
   *
   * @param ids the service with {@code ids_only} (the baseline's output: no titles or snippets), bm25 only; else null
   */
  record Row(String curve, String setting, long docs, int shards, int topK, int depth, SearchLoad.Cell shoal,
             SearchLoad.Cell ids, SearchLoad.Cell raw) {
  }

  private static final int DEFAULT_SHARDS = 4;
  private static final int DEFAULT_TOP_K = 10;
  private static final int DEFAULT_DEPTH = 100;
  private static final long BUILD_TIMEOUT_MINUTES = 60;
  private static final int JVM_WARMUP_SECONDS = 10;
  private static final Pattern WORD = Pattern.compile("\\S+");

  private final Options o;
  private final List<String> queries;
  private final List<Row> rows = new ArrayList<>();
  /** The cluster the paths last warmed up on. */
  private Built warmed;

  private CostCurves(Options o) throws IOException {
    this.o = o;
    this.queries = new BeirDataset(o.dataset()).queries().stream().map(BeirDataset.Query::text).toList();
  }

  /** Runs every curve and writes the tables; returns them as Markdown. */
  public static String run(Options o) throws Exception {
    return new CostCurves(o).runAll();
  }

  private String runAll() throws Exception {
    List<EnrichedDocument> base = readEnriched(o.dataDir());
    if (base.isEmpty()) {
      throw new IllegalStateException(o.dataDir() + " has no enriched documents: run bin/shoal demo --data-dir "
          + o.dataDir() + " once first");
    }
    System.out.printf("%d enriched documents from %s%n", base.size(), o.dataDir());
    Path tmp = Files.createTempDirectory("shoal-bench-curves");
    for (int scale : o.scales()) {
      try (Built b = build(tmp.resolve("scale-" + scale), base, scale, DEFAULT_SHARDS)) {
        String setting = scale == 1 ? "SciFact" : scale + "x SciFact (synthetic)";
        measure(b, "corpus size", setting, List.of("bm25", "neural"), DEFAULT_TOP_K, DEFAULT_DEPTH);
        if (scale == 1) {
          for (int k : o.topKs()) {
            measure(b, "top k", "k = " + k, List.of("bm25", "neural"), k, DEFAULT_DEPTH);
          }
          for (int d : o.depths()) {
            measure(b, "rerank depth", "depth = " + d, List.of("neural"), DEFAULT_TOP_K, d);
          }
        }
      }
    }
    for (int n : o.shards()) {
      if (n == DEFAULT_SHARDS && o.scales().contains(1)) {
        continue; // the corpus-size curve's SciFact cells are this point
      }
      try (Built b = build(tmp.resolve("shards-" + n), base, 1, n)) {
        measure(b, "shards", n + (n == 1 ? " shard" : " shards"), List.of("bm25", "neural"), DEFAULT_TOP_K,
            DEFAULT_DEPTH);
      }
    }
    Files.deleteIfExists(tmp);
    String md = markdown(base.size());
    Files.writeString(o.output(), md);
    Files.writeString(Path.of(o.output().toString().replaceAll("\\.md$", "") + ".tsv"), tsv());
    return md;
  }

  private void measure(Built b, String curve, String setting, List<String> profiles, int topK, int depth)
      throws Exception {
    try (SearchLoad load = new SearchLoad("127.0.0.1:" + b.cluster.grpcPort(), b.shardDirs,
        ModelSpec.BGE_SMALL_EN_V15, topK)) {
      if (warmed != b) {
        // each cluster's paths warm before its first cell, both sides: this JVM's client and baseline
        // code, and the cluster's; a larger corpus makes other code hot (longer postings), and the
        // service, measured before the baseline, would otherwise pay the JIT for both (they share
        // Lucene's code in this process)
        for (String profile : List.of("bm25", "neural")) {
          for (SearchLoad.Target t : List.of(SearchLoad.Target.SHOAL, SearchLoad.Target.BASELINE)) {
            load.run(t, profile, o.clients(), queries, 0, JVM_WARMUP_SECONDS);
          }
        }
        warmed = b;
      }
      load.shape(topK, depth);
      for (String profile : profiles) {
        SearchLoad.Cell shoal = load.run(SearchLoad.Target.SHOAL, profile, o.clients(), queries, o.warmup(),
            o.seconds());
        SearchLoad.Cell ids = !profile.equals("bm25") ? null
            : load.run(SearchLoad.Target.SHOAL_IDS, profile, o.clients(), queries, o.warmup(), o.seconds());
        SearchLoad.Cell raw = load.run(SearchLoad.Target.BASELINE, profile, o.clients(), queries, o.warmup(),
            o.seconds());
        System.out.printf("%-12s %-28s %s%n", curve, setting, shoal.line());
        if (ids != null) {
          System.out.printf("%-12s %-28s %s%n", "", "", ids.line());
        }
        System.out.printf("%-12s %-28s %s%n", "", "", raw.line());
        rows.add(new Row(curve, setting, b.docs, b.shards, topK, depth, shoal, ids, raw));
      }
    }
  }

  /** A started cluster holding one corpus, and its shards' Lucene directories (committed) for the baseline. */
  private record Built(Path dir, LocalCluster cluster, long docs, int shards, List<Path> shardDirs)
      implements AutoCloseable {
    /** Stops the cluster and deletes its data (the 100x corpus takes gigabytes). */
    @Override
    public void close() throws IOException {
      cluster.close();
      BenchFiles.deleteTree(dir);
    }
  }

  private Built build(Path dir, List<EnrichedDocument> base, int scale, int shards) throws Exception {
    long t0 = System.nanoTime();
    LocalCluster cluster = new LocalCluster(new LocalCluster.Options(dir, null, shards,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2).withoutCaches()).start();
    try {
      long docs = produce(cluster.bootstrap(), base, scale);
      long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(BUILD_TIMEOUT_MINUTES);
      while (cluster.searchableDocs() < docs || !cluster.caughtUp()) {
        if (System.nanoTime() > until) {
          throw new IllegalStateException("gave up waiting for " + docs + " documents in " + shards + " shards after "
              + BUILD_TIMEOUT_MINUTES + " min (" + cluster.searchableDocs() + " searchable)");
        }
        Thread.sleep(100);
      }
      cluster.awaitCompacted(Duration.ofMinutes(BUILD_TIMEOUT_MINUTES)); // warm up on the final segments
      System.out.printf(Locale.ROOT, "%d documents in %d shards searchable and compacted after %.1f s; %s%n", docs,
          shards, (System.nanoTime() - t0) / 1e9, cluster.warmUp());
      List<Path> dirs = new ArrayList<>();
      for (ShardStore s : cluster.indexNode().shards().values()) {
        s.commit(); // the baseline opens the last commit
        dirs.add(LocalCluster.luceneDir(dir, s.shard()));
      }
      return new Built(dir, cluster, docs, shards, dirs);
    } catch (Exception | Error e) {
      cluster.close();
      throw e;
    }
  }

  /**
   * Writes the corpus at {@code scale} to the enriched topic, keyed by id with the default
   * partitioner (as the enricher writes it); returns how many documents.
   */
  static long produce(String bootstrap, List<EnrichedDocument> base, int scale) {
    Synthesis synth = new Synthesis(base);
    long n = 0;
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(KafkaSettings.producer(bootstrap),
        new StringSerializer(), new ByteArraySerializer())) {
      for (int copy = 0; copy < scale; copy++) {
        for (int i = 0; i < base.size(); i++) {
          EnrichedDocument e = copy == 0 ? base.get(i) : synth.copy(base.get(i), copy);
          e = e.toBuilder().setSourcePartition(0).setSourceOffset(n).build();
          p.send(new ProducerRecord<>(Topics.ENRICHED, e.getDocument().getId(), e.toByteArray()));
          n++;
        }
      }
      p.flush();
    }
    return n;
  }

  /** The synthetic documents' recipe (see the class comment). Deterministic for a given base. */
  static final class Synthesis {
    private final List<EnrichedDocument> base;
    private final List<String> unigrams = new ArrayList<>();
    private final Random random = new Random(42);

    Synthesis(List<EnrichedDocument> base) {
      this.base = base;
      for (EnrichedDocument e : base) {
        Matcher m = WORD.matcher(e.getDocument().getText());
        while (m.find()) {
          unigrams.add(m.group());
        }
      }
    }

    EnrichedDocument copy(EnrichedDocument d, int copy) {
      EnrichedDocument.Builder b = d.toBuilder();
      b.getDocumentBuilder().setId(d.getDocument().getId() + "~" + copy)
          .setTitle(mix(d.getDocument().getTitle())).setText(mix(d.getDocument().getText()));
      if (d.getEmbeddingCount() > 0) {
        EnrichedDocument other = base.get(random.nextInt(base.size()));
        int dim = d.getEmbeddingCount();
        float[] v = new float[dim];
        double norm = 0;
        for (int j = 0; j < dim; j++) {
          double o = other.getEmbeddingCount() == dim ? other.getEmbedding(j) : 0;
          v[j] = (float) (d.getEmbedding(j) + 0.35 * o + 0.02 * random.nextGaussian());
          norm += v[j] * v[j];
        }
        b.clearEmbedding();
        float inv = (float) (1 / Math.sqrt(norm));
        for (float x : v) {
          b.addEmbedding(x * inv);
        }
      }
      return b.build();
    }

    private String mix(String text) {
      if (unigrams.isEmpty() || text.isEmpty()) {
        return text;
      }
      StringBuilder out = new StringBuilder(text.length() + 16);
      Matcher m = WORD.matcher(text);
      while (m.find()) {
        if (!out.isEmpty()) {
          out.append(' ');
        }
        out.append(random.nextBoolean() ? m.group() : unigrams.get(random.nextInt(unigrams.size())));
      }
      return out.toString();
    }
  }

  /**
   * The live documents of the demo's enriched topic, partition by partition: the topic is a log of
   * upserts and deletes keyed by id (a document loaded twice, or enriched again after a restart, is
   * there twice), so each id counts once, at its last version, and a delete drops it, as an index
   * node replaying the topic would. Without this, a corpus built from a topic holding a document
   * twice would wait for more searchable documents than it has ids.
   */
  private static List<EnrichedDocument> readEnriched(Path dataDir) throws Exception {
    try (EmbeddedKafka kafka = new EmbeddedKafka(dataDir.resolve("kafka")).start();
         KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaSettings.consumer(kafka.bootstrap(), null))) {
      int partitions = c.partitionsFor(Topics.ENRICHED).size();
      List<EnrichedDocument> records = new ArrayList<>();
      for (int p = 0; p < partitions; p++) {
        records.addAll(IndexBench.readPartition(kafka.bootstrap(), p));
      }
      return live(records);
    }
  }

  /** Each id's last version, in the order ids first appear; deleted ids left out. */
  static List<EnrichedDocument> live(List<EnrichedDocument> records) {
    Map<String, EnrichedDocument> byId = new LinkedHashMap<>();
    for (EnrichedDocument e : records) {
      if (e.getOp() == dev.shoal.api.v1.Operation.DELETE) {
        byId.remove(e.getDocument().getId());
      } else {
        byId.put(e.getDocument().getId(), e);
      }
    }
    return List.copyOf(byId.values());
  }

  private String markdown(int baseDocs) {
    StringBuilder md = new StringBuilder("# Search cost curves\n\n");
    md.append(String.format(Locale.ROOT, "%d SciFact queries cycled, %d client%s, closed loop, %d s per cell after "
        + "%d s warm-up; one cluster per corpus and shard count, in this process with the load (%d CPUs; each path "
        + "and profile ran " + JVM_WARMUP_SECONDS + " s on each cluster before its first cell, and each cluster warmed "
        + "up before it reported SERVING); result and query-embedding caches off. Unless a table varies it: SciFact (%d "
        + "documents), %d shards, top %d, rerank depth %d. Larger corpora are synthetic, built from SciFact's "
        + "documents, vocabulary and embeddings (see CostCurves). Baseline: raw Lucene over the same shard indexes "
        + "(bm25); ONNX Runtime query embedding + "
        + "the same BM25, HNSW, RRF and exact-cosine re-scoring in one process (neural).%n", queries.size(),
        o.clients(), o.clients() == 1 ? "" : "s", o.seconds(), o.warmup(), Runtime.getRuntime().availableProcessors(),
        baseDocs, DEFAULT_SHARDS, DEFAULT_TOP_K, DEFAULT_DEPTH));
    for (String curve : List.of("corpus size", "shards", "top k", "rerank depth")) {
      List<Row> table = new ArrayList<>(rows.stream().filter(r -> r.curve().equals(curve)).toList());
      if (curve.equals("shards")) {
        // the corpus-size curve's SciFact cells are the shard curve's 4-shard point
        rows.stream().filter(r -> r.curve().equals("corpus size") && r.docs() == baseDocs)
            .map(r -> new Row("shards", r.shards() + " shards", r.docs(), r.shards(), r.topK(), r.depth(), r.shoal(),
                r.ids(), r.raw())).forEach(table::add);
        table.sort(java.util.Comparator.comparingInt(Row::shards));
      }
      if (table.isEmpty()) {
        continue;
      }
      md.append("\n## ").append(Character.toUpperCase(curve.charAt(0))).append(curve.substring(1)).append("\n\n");
      md.append("| ").append(curve).append(" | documents | profile | Shoal QPS | Shoal p50 / p99 ms | raw QPS | "
          + "raw p50 / p99 ms | p50 ratio | ids only: QPS, p50 / p99 ms, p50 ratio | errors | partial |\n"
          + "|---|---:|---|---:|---|---:|---|---:|---|---:|---:|\n");
      for (Row r : table) {
        String ids = r.ids() == null ? "–" : String.format(Locale.ROOT, "%.1f, %.2f / %.2f, %.2f", r.ids().qps(),
            r.ids().p50(), r.ids().p99(), r.ids().p50() / r.raw().p50());
        md.append(String.format(Locale.ROOT, "| %s | %d | %s | %.1f | %.2f / %.2f | %.1f | %.2f / %.2f | %.2f | %s | "
            + "%d | %d |%n", r.setting(), r.docs(), r.shoal().profile(), r.shoal().qps(), r.shoal().p50(),
            r.shoal().p99(), r.raw().qps(), r.raw().p50(), r.raw().p99(), r.shoal().p50() / r.raw().p50(), ids,
            r.shoal().errors() + r.raw().errors() + (r.ids() == null ? 0 : r.ids().errors()),
            r.shoal().partial() + (r.ids() == null ? 0 : r.ids().partial())));
      }
    }
    return md.toString();
  }

  private String tsv() {
    StringBuilder t = new StringBuilder("curve\tsetting\tdocs\tshards\ttop_k\tdepth\tprofile\tpath\tqueries\tseconds"
        + "\tqps\tp50_ms\tp95_ms\tp99_ms\tcpu_ms_per_query\terrors\tpartial\n");
    for (Row r : rows) {
      for (SearchLoad.Cell c : r.ids() == null ? List.of(r.shoal(), r.raw()) : List.of(r.shoal(), r.ids(), r.raw())) {
        t.append(String.join("\t", r.curve(), r.setting(), Long.toString(r.docs()), Integer.toString(r.shards()),
            Integer.toString(r.topK()), Integer.toString(r.depth()))).append('\t')
            .append(c.tsv().replaceFirst("^[^\t]*\t[^\t]*\t", c.profile() + "\t")).append('\n');
      }
    }
    return t.toString();
  }
}
