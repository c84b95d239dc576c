package dev.shoal.it.stages;

import dev.shoal.query.plan.Candidate;
import dev.shoal.query.plan.Explain;
import dev.shoal.query.plan.RescoreContext;
import dev.shoal.query.plan.Rescorer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A rescorer added from test code: the head by passage length, shortest first (score = minus the
 * length), reading the passages from the shards through the context.
 */
public final class ShortestPassageRescorer implements Rescorer {

  @Override
  public String name() {
    return "shortest-passage";
  }

  @Override
  public List<Candidate> rescore(List<Candidate> head, RescoreContext context) {
    Map<String, String> passages = context.passages(head);
    List<Candidate> out = new ArrayList<>();
    for (Candidate c : head) {
      double score = -passages.get(c.id()).length();
      out.add(c.rescored(score, Explain.stage(name(), score, 0, "-length",
          List.of(c.explanation().asInput(0, 0, 0)))));
    }
    out.sort(Candidate.ORDER);
    return out;
  }
}
