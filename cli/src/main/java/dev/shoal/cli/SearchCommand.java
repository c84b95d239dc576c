package dev.shoal.cli;

import com.google.protobuf.util.JsonFormat;
import dev.shoal.api.v1.Explanation;
import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.server.tls.Tls;
import dev.shoal.server.tls.TlsFiles;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code shoal search}: one query against a SearchService, as a table or JSON. */
@Command(name = "search", mixinStandardHelpOptions = true, description = "Search a running Shoal.")
final class SearchCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "the query text")
  String query;

  @Option(names = {"-k", "--top-k"}, defaultValue = "10", description = "hits to return (default: ${DEFAULT-VALUE})")
  int k;

  @Option(names = "--offset", defaultValue = "0", description = "hits to skip, for paging")
  int offset;

  @Option(names = "--profile", defaultValue = "neural", description = "bm25, dense, hybrid or neural (default: ${DEFAULT-VALUE})")
  String profile;

  @Option(names = "--lucene", description = "parse the query with Lucene syntax (phrases, +/-, field:term, boosts; default: off)",
      defaultValue = "false")
  boolean lucene;

  @Option(names = "--retrievers", split = ",", description = "run these retrievers instead of the profile's "
      + "(e.g. bm25,dense)")
  java.util.List<String> retrievers = new java.util.ArrayList<>();

  @Option(names = "--rescorer", defaultValue = "", description = "re-score the head with this rescorer "
      + "(cosine, ranker, cross-encoder; none for none)")
  String rescorer;

  @Option(names = "--rerank-depth", defaultValue = "0", description = "candidates the rescorer re-orders "
      + "(0: the service's default, 100)")
  int rerankDepth;

  @Option(names = "--explain", description = "show where each score came from (default: off)", defaultValue = "false")
  boolean explain;

  @Option(names = "--ids-only", description = "hits without title, snippet or fields: no document is read "
      + "(default: off)", defaultValue = "false")
  boolean idsOnly;

  @Option(names = "--json", description = "print the response as JSON (default: off)", defaultValue = "false")
  boolean json;

  @Option(names = "--target", defaultValue = "127.0.0.1:50051", description = "SearchService address (default: ${DEFAULT-VALUE})")
  String target;

  @Option(names = "--tls-ca", description = "speak TLS and check the server against this CA certificate (PEM); "
      + "default: plaintext")
  java.nio.file.Path tlsCa;

  @Option(names = "--key-file", description = "send the API key this file holds (authorization: Bearer); "
      + "default: none")
  java.nio.file.Path keyFile;

  @Option(names = "--timeout-ms", defaultValue = "5000", description = "deadline (default: ${DEFAULT-VALUE})")
  long timeoutMs;

  /** One line per node of the explanation tree: value, rank, weight and contribution, inputs indented. */
  private static void print(Explanation e, String indent) {
    StringBuilder line = new StringBuilder(indent).append(e.getName()).append(' ')
        .append(String.format(Locale.ROOT, "%.4f", e.getValue()));
    if (e.getRank() > 0) {
      line.append(" #").append(e.getRank());
    }
    if (e.getWeight() != 0 || e.getContribution() != 0) {
      line.append(String.format(Locale.ROOT, "  weight %s, adds %.4f", fmt(e.getWeight()), e.getContribution()));
    }
    if (!e.getRule().isEmpty()) {
      line.append("  = ").append(e.getRule()).append(" of:");
    }
    System.out.println(line);
    for (Explanation in : e.getInputsList()) {
      print(in, indent + "  ");
    }
  }

  private static String fmt(double w) {
    return w == Math.rint(w) ? Long.toString((long) w) : Double.toString(w);
  }

  @Override
  public Integer call() throws Exception {
    RankProfile p;
    try {
      p = RankProfile.valueOf(profile.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      System.err.println("--profile must be bm25, dense, hybrid or neural");
      return 2;
    }
    Tls tls = Tls.of(tlsCa == null ? null : TlsFiles.trusting(tlsCa));
    ManagedChannel channel = tls.channel(target).build();
    try {
      var stub = SearchServiceGrpc.newBlockingStub(channel);
      if (keyFile != null) {
        stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(keyFile)));
      }
      SearchResponse r = stub.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
          .search(SearchRequest.newBuilder().setQuery(query).setTopK(k).setOffset(offset).setProfile(p)
              .setSyntax(lucene ? QuerySyntax.LUCENE : QuerySyntax.PLAIN).setExplain(explain).setIdsOnly(idsOnly)
              .addAllRetrievers(retrievers).setRescorer(rescorer).setRerankDepth(rerankDepth).build());
      if (json) {
        System.out.println(JsonFormat.printer().print(r));
        return 0;
      }
      System.out.printf("%-5s %-12s %-9s %s%n", "rank", "id", "score", "title");
      int rank = offset;
      for (Hit h : r.getHitsList()) {
        String title = h.getTitle().isEmpty() ? plainText(h.getSnippet()) : h.getTitle();
        System.out.printf("%-5d %-12s %-9.4f %s%n", ++rank, h.getId(), h.getScore(),
            title.length() > 90 ? title.substring(0, 87) + "..." : title);
        if (explain && h.hasExplanation()) {
          print(h.getExplanation(), "      ");
        }
      }
      System.out.printf("%d hits of %d matching; %d/%d shards%s%s%n", r.getHitsCount(), r.getTotalHits(),
          r.getShardsAnswered(), r.getShardsTotal(), r.getPartial() ? " (partial)" : "",
          r.getDegraded() ? " (degraded: " + r.getDegradedReason() + ")" : "");
      return 0;
    } catch (StatusRuntimeException e) {
      System.err.println("search failed: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription()
          + (e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE && tlsCa == null
              ? " (if the server speaks TLS, pass --tls-ca with its CA certificate)" : ""));
      return 1;
    } finally {
      channel.shutdownNow();
      tls.close();
    }
  }

  /** The {@code authorization: Bearer} header with the key the file holds (surrounding white space dropped). */
  static Metadata bearer(java.nio.file.Path keyFile) throws java.io.IOException {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + java.nio.file.Files.readString(keyFile).strip());
    return m;
  }

  /** A snippet is HTML (escaped text, {@code <em>} highlights); a terminal wants the text. */
  static String plainText(String snippetHtml) {
    return snippetHtml.replace("<em>", "").replace("</em>", "").replace("&lt;", "<").replace("&gt;", ">")
        .replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&");
  }
}
