package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.KeywordList;
import dev.shoal.api.v1.NumericRange;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.query.SearchLimits;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RequestValidatorTest {

  private final RequestValidator v = new RequestValidator(SearchLimits.defaults());

  private String reject(SearchRequest r) {
    StatusException e = assertThrows(StatusException.class, () -> v.validate(r));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    return e.getStatus().getDescription();
  }

  private static SearchRequest.Builder q(String text) {
    return SearchRequest.newBuilder().setQuery(text);
  }

  @Test
  void appliesDefaults() throws Exception {
    SearchRequest r = v.validate(q("protein").build());
    assertEquals(10, r.getTopK());
    assertEquals(RankProfile.NEURAL, r.getProfile());
    assertEquals(QuerySyntax.PLAIN, r.getSyntax());
    assertEquals(100, r.getRerankDepth());
    assertEquals(100, v.validate(q("x").setTopK(200).setOffset(100).build()).getRerankDepth(),
        "the default depth does not follow the window: pages deeper than it rank in further tiers");
  }

  @Test
  void eachLimitIsNamedInItsMessage() {
    assertTrue(reject(q("").build()).contains("empty"));
    assertTrue(reject(q("a".repeat(5000)).build()).contains("limit is 4096"));
    assertTrue(reject(q("x").setTopK(1001).build()).contains("between 1 and 1000"));
    assertTrue(reject(q("x").setTopK(-1).build()).contains("top_k"));
    assertTrue(reject(q("x").setOffset(-5).build()).contains("offset"));
    assertTrue(reject(q("x").setTopK(500).setOffset(600).build()).contains("offset + top_k must be at most 1000"));
    SearchRequest.Builder many = q("x");
    for (int i = 0; i < 33; i++) {
      many.addFilters(Filter.newBuilder().setField("f").setTerm("v"));
    }
    assertTrue(reject(many.build()).contains("at most 32 filters"));
    assertTrue(reject(q("x").setIdsOnly(true).addFields("year").build()).contains("drop fields or ids_only"));
    assertTrue(reject(q("x").addFilters(Filter.newBuilder().setField("bad field").setTerm("v")).build())
        .contains("must match"));
    assertTrue(reject(q("x").addFilters(Filter.newBuilder().setField("f")).build()).contains("needs one of"));
    assertTrue(reject(q("x").addFilters(Filter.newBuilder().setField("f").setTerms(KeywordList.getDefaultInstance()))
        .build()).contains("1..1024 terms"));
    assertTrue(reject(q("x").addFilters(Filter.newBuilder().setField("y")
        .setRange(NumericRange.newBuilder().setMin(5).setMax(1))).build()).contains("min > max"));
    assertTrue(reject(q("x").setRerankDepth(5).setTopK(60).build()).contains("at most 10 tiers of rerank_depth (5)"));
    assertTrue(reject(q("x").setRerankDepth(5000).build()).contains("between 1 and 1000"));
    assertTrue(reject(q("x").setTimeoutMs(-1).build()).contains("timeout_ms"));
    assertTrue(reject(q("x").setProfileValue(42).build()).contains("unknown rank profile"));
  }

  @Test
  void invalidLuceneSyntaxSaysWhereAndWhat() {
    String msg = reject(q("title:(protein AND").setSyntax(QuerySyntax.LUCENE).build());
    assertTrue(msg.contains("invalid query syntax"), msg);
    assertTrue(msg.contains("column"), "the position: " + msg);
    assertTrue(msg.contains("syntax PLAIN"), "what to do instead: " + msg);
  }

  /** Thousands of random requests: each is accepted or INVALID_ARGUMENT, never another error, never a hang. */
  @Test
  void randomInputNeverCausesAnythingButInvalidArgument() {
    Random rnd = new Random(20261125);
    String alphabet = "ab cd\"()[]{}:+-!~^*?\\/&|ñ日\u0000\t";
    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
      int accepted = 0;
      for (int i = 0; i < 5_000; i++) {
        StringBuilder text = new StringBuilder();
        int len = rnd.nextInt(i % 100 == 0 ? 6000 : 40);
        for (int j = 0; j < len; j++) {
          text.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
        }
        SearchRequest.Builder r = q(text.toString()).setTopK(rnd.nextInt(1200) - 100)
            .setOffset(rnd.nextInt(1200) - 100).setRerankDepth(rnd.nextInt(1200) - 100)
            .setSyntaxValue(rnd.nextInt(4)).setProfileValue(rnd.nextInt(6)).setTimeoutMs(rnd.nextInt(70_000) - 10);
        if (rnd.nextBoolean()) {
          r.addFilters(Filter.newBuilder().setField(rnd.nextBoolean() ? "year" : text.toString())
              .setRange(NumericRange.newBuilder().setMin(rnd.nextGaussian()).setMax(rnd.nextGaussian())));
        }
        try {
          v.validate(r.build());
          accepted++;
        } catch (StatusException e) {
          assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
          assertTrue(e.getStatus().getDescription() != null && !e.getStatus().getDescription().isBlank());
        }
      }
      assertTrue(accepted > 100, "the generator also produces valid requests: " + accepted);
    });
  }
}
