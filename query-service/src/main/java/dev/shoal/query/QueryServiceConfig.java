package dev.shoal.query;

import dev.shoal.query.plan.Fusion;
import dev.shoal.query.plan.FusionWeights;
import dev.shoal.query.plan.Rrf;
import dev.shoal.server.tls.TlsFiles;
import java.util.Map;

/**
 * Settings of one query service; {@link #defaults} documents each default. Immutable.
 *
 * @param bootstrap        Kafka bootstrap servers (routing table and heartbeats)
 * @param rankerTarget     the ranker's host:port (query embeddings, model rescorers)
 * @param host             address the gRPC and HTTP servers bind
 * @param grpcPort         SearchService (and any extra service) port; 0 = any free port
 * @param httpPort         HTTP/JSON port; 0 = any free port
 * @param resultCacheBytes estimated heap the result cache may hold; 0 turns it off (benchmarks of the uncached path)
 * @param httpThreads      threads serving HTTP requests
 * @param rankerBudgetMillis the most of a query's time a ranker call may take, so a slow ranker
 *                         still leaves time for a degraded answer
 * @param limits           the documented request limits
 * @param fusion           how lists are fused unless a request says otherwise
 * @param weights          each signal's weight unless a request says otherwise
 * @param apiKeyFile       API keys required on every call but health ({@code ApiKeyFile}); null: open
 * @param tls              TLS of the gRPC and HTTP fronts, and the certificate and CA of its calls to index
 *                         nodes and the ranker; null: plaintext
 * @param admission        per-key rates and the bounds on requests in flight
 * @param logQueryText     whether logs may hold query text (a request that failed); off in production examples,
 *                         where queries may be personal data: logs then say only the query's length
 * @param slowQueryMillis  a search that takes at least this long is logged (its shape, its trace id, its
 *                         stage timings); 0 turns the slow-query log off
 * @param warmup           the searches run before the service reports SERVING ({@link WarmupSettings})
 * @param inProcessCalls   an index node or ranker served by this same JVM is called over gRPC's in-process
 *                         transport (dev.shoal.server.Colocated: no socket, no serialisation); false: every
 *                         call goes over the network, as between machines (what a benchmark of the
 *                         distributed path measures on one machine)
 */
public record QueryServiceConfig(String bootstrap, String rankerTarget, String host, int grpcPort, int httpPort,
                                 long resultCacheBytes, int httpThreads, long rankerBudgetMillis, SearchLimits limits,
                                 Fusion fusion, FusionWeights weights, java.nio.file.Path apiKeyFile,
                                 TlsFiles tls, AdmissionLimits admission, boolean logQueryText,
                                 long slowQueryMillis, WarmupSettings warmup, boolean inProcessCalls) {

  /** The result cache's default budget: 64 MiB, about 1,000 k=100 answers with snippets or 60 of k=1000. */
  public static final long RESULT_CACHE_BYTES = 64L << 20;

  /** Searches that take this long or longer are logged by default. */
  public static final long SLOW_QUERY_MILLIS = 1_000;

  /**
   * Localhost, any free ports, a result cache of 64 MiB, 8 HTTP threads, a
   * ranker budget of 1 s, {@link WarmupSettings#defaults()}, {@link SearchLimits#defaults()}, and the fusion defaults: RRF with k = 60;
   * BM25 and kNN weighted equally; in NEURAL the exact cosine's ranking of the head weighs three
   * times BM25's (the ranker rescorer's too). Chosen by {@code shoal eval sweep --profile neural}
   * over k in {10, 60} and the model weight in {1..4} on SciFact, Cranfield, CACM and TREC DL 2019
   * at once: k = 60 with weight 3 has the best mean nDCG@10 (0.5884 against 0.5777 for k = 10) and
   * the smallest worst shortfall against the best single profile (0.014 on CACM, against 0.053);
   * left-one-collection-out picks it in two of four folds. No fixed setting is at or above the best
   * single profile on all four (eval/fusion-study.py); see README.
   */
  public static QueryServiceConfig defaults(String bootstrap, String rankerTarget) {
    return new QueryServiceConfig(bootstrap, rankerTarget, "127.0.0.1", 0, 0, RESULT_CACHE_BYTES, 8, 1_000,
        SearchLimits.defaults(), new Rrf(60), new FusionWeights(Map.of("bm25", 1.0, "dense", 1.0, "cosine", 3.0,
            "ranker", 3.0)), null, null, AdmissionLimits.defaults(), true,
        SLOW_QUERY_MILLIS, WarmupSettings.defaults(), true);
  }

  public QueryServiceConfig withAddress(String h, int grpc, int http) {
    return new QueryServiceConfig(bootstrap, rankerTarget, h, grpc, http, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, tls, admission, logQueryText, slowQueryMillis,
        warmup, inProcessCalls);
  }

  public QueryServiceConfig withResultCacheBytes(long budget) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, budget, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, tls, admission, logQueryText, slowQueryMillis,
        warmup, inProcessCalls);
  }

  /** These settings with API keys required, from a key file watched for changes. */
  public QueryServiceConfig withApiKeyFile(java.nio.file.Path file) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, file, tls, admission, logQueryText, slowQueryMillis,
        warmup, inProcessCalls);
  }

  public QueryServiceConfig withAdmission(AdmissionLimits a) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, tls, a, logQueryText, slowQueryMillis,
        warmup, inProcessCalls);
  }

  public QueryServiceConfig withQueryTextInLogs(boolean on) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, tls, admission, on, slowQueryMillis,
        warmup, inProcessCalls);
  }

  public QueryServiceConfig withSlowQueryMillis(long millis) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, tls, admission, logQueryText, millis,
        warmup, inProcessCalls);
  }

  /** These settings with another warm-up before SERVING; {@link WarmupSettings#off()} for none. */
  public QueryServiceConfig withWarmup(WarmupSettings w) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, tls, admission, logQueryText, slowQueryMillis,
        w, inProcessCalls);
  }

  /** These settings with TLS on both fronts and on the calls to index nodes and the ranker; null: plaintext. */
  public QueryServiceConfig withTls(TlsFiles files) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, files, admission, logQueryText, slowQueryMillis,
        warmup, inProcessCalls);
  }

  /** These settings with calls to a node or ranker of this JVM made in-process (true, the default) or over the network. */
  public QueryServiceConfig withInProcessCalls(boolean on) {
    return new QueryServiceConfig(bootstrap, rankerTarget, host, grpcPort, httpPort, resultCacheBytes, httpThreads,
        rankerBudgetMillis, limits, fusion, weights, apiKeyFile, tls, admission, logQueryText, slowQueryMillis, warmup,
        on);
  }
}
