package dev.shoal.it.stages;

import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.query.plan.QueryContext;
import dev.shoal.query.plan.Retriever;

/** A retriever added from test code: BM25 over the titles alone. Registered in this module's META-INF/services. */
public final class TitleRetriever implements Retriever {

  @Override
  public String name() {
    return "title";
  }

  @Override
  public Leg leg(QueryContext query, int k) {
    return Leg.newBuilder().setName("title").setK(k)
        .setLexical(LexicalLeg.newBuilder().setText(query.text()).setSyntax(query.syntax()).setField("title")).build();
  }
}
