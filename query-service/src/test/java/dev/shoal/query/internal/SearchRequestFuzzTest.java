package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.indexnode.shard.ShardQueries;
import dev.shoal.indexnode.shard.ShardSchema;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.query.SearchLimits;
import dev.shoal.query.plan.QueryStages;
import io.grpc.Status;
import io.grpc.StatusException;
import java.nio.charset.StandardCharsets;
import org.apache.lucene.queryparser.classic.ParseException;

/**
 * Coverage-guided fuzzing (Jazzer) of what a client controls on the search path: the HTTP query
 * string, the JSON body, and the query text in Lucene syntax. In the default suite each method
 * replays its regression corpus under
 * {@code src/test/resources/dev/shoal/query/internal/SearchRequestFuzzTestInputs/<method>/};
 * {@code .ci/fuzz} fuzzes each for a fixed budget.
 *
 * <p>What must hold for any input: it becomes a request or an INVALID_ARGUMENT with a message
 * (never another exception, which a client would see as INTERNAL); a valid request resolves to a
 * plan or names the stage that is wrong; and a Lucene query the query service accepts is one every
 * shard can parse, so a client's typo is the client's 400, never a shard's failure.
 */
class SearchRequestFuzzTest {

  private static final RequestValidator VALIDATOR = new RequestValidator(SearchLimits.defaults());
  private static final QueryServiceConfig CONFIG = QueryServiceConfig.defaults("unused:9092", "unused:1");
  private static final Plans PLANS = new Plans(QueryStages.load(), CONFIG.fusion(), CONFIG.weights());
  private static final ShardQueries SHARD = new ShardQueries(ShardSchema.analyzer());

  @FuzzTest(maxDuration = "2m")
  @DictionaryEntries({"q=", "&", "=", "%", "%2", "+", "k=", "offset=", "profile=", "neural", "bm25", "syntax=lucene",
      "rerank_depth=", "explain=true", "fields=", "retrievers=", "bm25,dense", "rescorer=", "cosine", "fusion=", "rrf",
      "linear", "rrf_k=", "w.bm25=", "w.", "timeout_ms=", "session=", "-1", "2147483648", "1e9", "NaN"})
  void anyHttpQueryStringIsARequestOrAnInvalidArgument(byte[] input) {
    SearchRequest r;
    try {
      r = HttpGateway.fromQueryString(new String(input, StandardCharsets.UTF_8));
    } catch (StatusException e) {
      assertInvalidArgument(e);
      return;
    }
    validateAndPlan(r);
  }

  @FuzzTest(maxDuration = "2m")
  @DictionaryEntries({"{", "}", "[", "]", ":", ",", "\"", "null", "\"query\"", "\"topK\"", "\"offset\"",
      "\"filters\"", "\"field\"", "\"term\"", "\"terms\"", "\"values\"", "\"range\"", "\"min\"", "\"max\"",
      "\"profile\"", "\"NEURAL\"", "\"rerankDepth\"", "\"syntax\"", "\"LUCENE\"", "\"fields\"",
      "\"retrievers\"", "\"rescorer\"", "\"fusion\"", "\"rule\"", "\"rrfK\"", "\"weights\"", "\"timeoutMs\"",
      "1e308", "-1"})
  void anyJsonBodyIsARequestOrAnInvalidArgument(byte[] input) {
    SearchRequest.Builder b = SearchRequest.newBuilder();
    try {
      JsonFormat.parser().merge(new String(input, StandardCharsets.UTF_8), b);
    } catch (InvalidProtocolBufferException e) {
      return; // the gateway answers INVALID_ARGUMENT with the parser's message
    }
    validateAndPlan(b.build());
  }

  @FuzzTest(maxDuration = "2m")
  @DictionaryEntries({"AND", "OR", "NOT", " ", "+", "-", "\"", "(", ")", "[", " TO ", "]", "{", "}", "*", "?", "~",
      "~2", "^", "^0.5", "/", ":", "title:", "text:", "contents:", "year:", "tag:", "_id:", "\\", "&&", "||", "!"})
  void aLuceneQueryTheServiceAcceptsEveryShardParses(byte[] input) {
    String q = new String(input, StandardCharsets.UTF_8);
    try {
      VALIDATOR.validate(SearchRequest.newBuilder().setQuery(q).setSyntax(QuerySyntax.LUCENE).build());
    } catch (StatusException e) {
      assertInvalidArgument(e);
      return;
    }
    try {
      SHARD.lexical(q, QuerySyntax.LUCENE);
      SHARD.constraints(q);
    } catch (ParseException e) {
      throw new AssertionError("the query service accepted [" + q + "] but a shard cannot parse it: "
          + e.getMessage(), e);
    }
  }

  private static void validateAndPlan(SearchRequest r) {
    SearchRequest valid;
    try {
      valid = VALIDATOR.validate(r);
    } catch (StatusException e) {
      assertInvalidArgument(e);
      return;
    }
    try {
      PLANS.resolve(valid);
    } catch (IllegalArgumentException e) {
      // the pipeline answers INVALID_ARGUMENT with this message: it must say something
      assertFalse(e.getMessage() == null || e.getMessage().isBlank(), "a plan refusal without a message");
    }
  }

  private static void assertInvalidArgument(StatusException e) {
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
    String d = e.getStatus().getDescription();
    assertFalse(d == null || d.isBlank(), "an INVALID_ARGUMENT without a message to fix it by");
  }
}
