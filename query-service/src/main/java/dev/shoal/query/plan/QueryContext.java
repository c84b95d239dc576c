package dev.shoal.query.plan;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What every stage of a plan knows about one query: the validated request (defaults applied)
 * and the query's embedding, when the plan needed one and the ranker gave it. Immutable.
 */
public final class QueryContext {

  private final SearchRequest request;
  private final float[] queryVector;
  private final List<Float> queryVectorValues;
  private final String model;

  /** A query without an embedding. */
  public QueryContext(SearchRequest request) {
    this(request, null, "");
  }

  /**
   * @param request     the validated request
   * @param queryVector the query's L2-normalised embedding, or null when none was computed
   * @param model       the model that embedded it (shards check it against their passages' model)
   */
  public QueryContext(SearchRequest request, float[] queryVector, String model) {
    this.request = request;
    this.model = model;
    this.queryVector = queryVector == null ? null : queryVector.clone();
    List<Float> values = null;
    if (queryVector != null) {
      values = new ArrayList<>(queryVector.length);
      for (float x : queryVector) {
        values.add(x);
      }
    }
    this.queryVectorValues = values == null ? null : Collections.unmodifiableList(values);
  }

  public SearchRequest request() {
    return request;
  }

  public String text() {
    return request.getQuery();
  }

  public QuerySyntax syntax() {
    return request.getSyntax();
  }

  public List<Filter> filters() {
    return request.getFiltersList();
  }

  /** The model that embedded the query ("" when there is no embedding). */
  public String model() {
    return model;
  }

  public boolean hasQueryVector() {
    return queryVector != null;
  }

  /** The embedding; only for stages that declared they need it (the plan drops them when there is none). */
  public float[] requireQueryVector() {
    requireQueryVectorValues();
    return queryVector.clone();
  }

  /** The embedding as the values a proto's repeated float takes (boxed once per query, shared by the stages). */
  public List<Float> requireQueryVectorValues() {
    if (queryVector == null) {
      throw new IllegalStateException("this stage needs the query's embedding, and the plan has none");
    }
    return queryVectorValues;
  }
}
