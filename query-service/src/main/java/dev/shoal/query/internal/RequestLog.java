package dev.shoal.query.internal;

import dev.shoal.api.v1.SearchRequest;

/**
 * What a log line says about a search: its shape always, its text only where the deployment
 * allows it ({@code QueryServiceConfig#logQueryText}), since queries may be personal data. Never
 * an API key: keys travel in headers, which are not logged.
 */
final class RequestLog {

  private RequestLog() {
  }

  static String describe(SearchRequest r, boolean withText) {
    StringBuilder sb = new StringBuilder("search{profile=").append(r.getProfile()).append(", top_k=").append(r.getTopK())
        .append(", offset=").append(r.getOffset()).append(", rerank_depth=").append(r.getRerankDepth())
        .append(", filters=").append(r.getFiltersCount()).append(", syntax=").append(r.getSyntax());
    if (withText) {
      sb.append(", query=\"").append(r.getQuery().replace("\n", "\\n")).append('"');
    } else {
      sb.append(", query=(").append(r.getQuery().length()).append(" characters, not logged)");
    }
    return sb.append('}').toString();
  }
}
