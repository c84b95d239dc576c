package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import org.junit.jupiter.api.Test;

class EmbeddingTextTest {

  private static String lucene(String q) {
    return EmbeddingText.of(SearchRequest.newBuilder().setQuery(q).setSyntax(QuerySyntax.LUCENE).build());
  }

  @Test
  void plainQueriesAreEmbeddedAsWritten() {
    assertEquals("+vitamin -bone", EmbeddingText.of(SearchRequest.newBuilder().setQuery("+vitamin -bone").build()));
  }

  @Test
  void luceneQueriesAreEmbeddedWithoutOperatorsProhibitedWordsOrFieldFilters() {
    assertEquals("vitamin", lucene("+vitamin -bone"));
    assertEquals("Vitamin D deficiency", lucene("+\"Vitamin D\" deficiency NOT bone journal:BMJ"));
    assertEquals("folding proteins", lucene("title:folding AND text:proteins AND year:[2000 TO 2010]"));
  }

  /** Lucene visits boolean clauses in hashed order, which differs between JVMs; the text must not. */
  @Test
  void clausesKeepTheOrderTheyWereWrittenIn() {
    String words = "alpha beta gamma delta epsilon zeta eta theta";
    assertEquals(words, lucene(String.join(" AND ", words.split(" "))));
    assertEquals(words, lucene("+(" + String.join(" ", words.split(" ")) + ") -iota"));
  }

  @Test
  void invalidSyntaxOrNothingToEmbedFallsBackToTheQuery() {
    assertEquals("vitamin AND (", lucene("vitamin AND ("));
    assertEquals("journal:BMJ", lucene("journal:BMJ"));
  }
}
