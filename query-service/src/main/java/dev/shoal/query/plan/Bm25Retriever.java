package dev.shoal.query.plan;

import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;

/** {@code bm25}: BM25 over title + text, with the request's syntax (plain bag of words or Lucene syntax). */
public final class Bm25Retriever implements Retriever {

  public static final String NAME = "bm25";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Leg leg(QueryContext query, int k) {
    return Leg.newBuilder().setName(NAME).setK(k)
        .setLexical(LexicalLeg.newBuilder().setText(query.text()).setSyntax(query.syntax())).build();
  }
}
