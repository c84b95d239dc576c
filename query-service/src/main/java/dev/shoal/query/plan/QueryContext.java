package dev.shoal.query.plan;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import java.util.List;

/**
 * What every stage of a plan knows about one query: the validated request (defaults applied)
 * and the query's embedding, when the plan needed one and the ranker gave it. Immutable.
 *
 * @param request     the validated request
 * @param queryVector the query's L2-normalised embedding, or null when none was computed
 */
public record QueryContext(SearchRequest request, float[] queryVector) {

  public String text() {
    return request.getQuery();
  }

  public QuerySyntax syntax() {
    return request.getSyntax();
  }

  public List<Filter> filters() {
    return request.getFiltersList();
  }

  public boolean hasQueryVector() {
    return queryVector != null;
  }

  /** The embedding; only for stages that declared they need it (the plan drops them when there is none). */
  public float[] requireQueryVector() {
    if (queryVector == null) {
      throw new IllegalStateException("this stage needs the query's embedding, and the plan has none");
    }
    return queryVector;
  }
}
