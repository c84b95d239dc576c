package dev.shoal.query.internal;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.query.SearchLimits;
import dev.shoal.server.lucene.RegexpBudget;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.regex.Pattern;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.queryparser.classic.TokenMgrError;

/**
 * Checks a request against {@link SearchLimits} and fills in defaults. Every rejection is
 * INVALID_ARGUMENT with a message that says what to change. Thread-safe.
 */
final class RequestValidator {

  private static final Pattern FIELD = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
  static final int MAX_WEIGHTS = 16;
  private final SearchLimits limits;

  RequestValidator(SearchLimits limits) {
    this.limits = limits;
  }

  /** The request with defaults applied (top_k, profile, syntax, rerank depth). */
  SearchRequest validate(SearchRequest r) throws StatusException {
    if (r.getSerializedSize() > limits.maxRequestBytes()) {
      throw invalid("request is " + r.getSerializedSize() + " bytes; the limit is " + limits.maxRequestBytes());
    }
    String q = r.getQuery();
    if (q.isBlank()) {
      throw invalid("query is empty: send some text to search for");
    }
    if (q.length() > limits.maxQueryChars()) {
      throw invalid("query has " + q.length() + " characters; the limit is " + limits.maxQueryChars());
    }
    int topK = r.getTopK() == 0 ? SearchLimits.DEFAULT_TOP_K : r.getTopK();
    if (topK < 1 || topK > limits.maxTopK()) {
      throw invalid("top_k must be between 1 and " + limits.maxTopK() + ", got " + r.getTopK());
    }
    if (r.getOffset() < 0) {
      throw invalid("offset must be 0 or more, got " + r.getOffset());
    }
    if ((long) r.getOffset() + topK > limits.maxWindow()) {
      throw invalid("offset + top_k must be at most " + limits.maxWindow() + ", got " + ((long) r.getOffset() + topK)
          + ": page deeper with a narrower query");
    }
    if (r.getFiltersCount() > limits.maxFilters()) {
      throw invalid("at most " + limits.maxFilters() + " filters, got " + r.getFiltersCount());
    }
    for (Filter f : r.getFiltersList()) {
      if (!FIELD.matcher(f.getField()).matches()) {
        throw invalid("filter field '" + abbreviate(f.getField()) + "' must match [A-Za-z0-9_.-]{1,64}");
      }
      switch (f.getKindCase()) {
        case TERM -> { }
        case TERMS -> {
          if (f.getTerms().getValuesCount() == 0 || f.getTerms().getValuesCount() > limits.maxFilterValues()) {
            throw invalid("filter on '" + f.getField() + "' must list 1.." + limits.maxFilterValues() + " terms, got "
                + f.getTerms().getValuesCount());
          }
        }
        case RANGE -> {
          if (!f.getRange().hasMin() && !f.getRange().hasMax()) {
            throw invalid("range filter on '" + f.getField() + "' needs min, max or both");
          }
          if (f.getRange().hasMin() && f.getRange().hasMax() && f.getRange().getMin() > f.getRange().getMax()) {
            throw invalid("range filter on '" + f.getField() + "' has min > max");
          }
          if ((f.getRange().hasMin() && Double.isNaN(f.getRange().getMin()))
              || (f.getRange().hasMax() && Double.isNaN(f.getRange().getMax()))) {
            throw invalid("range filter on '" + f.getField() + "' has a NaN bound");
          }
        }
        default -> throw invalid("filter on '" + f.getField() + "' needs one of term, terms or range");
      }
    }
    if (r.getFieldsCount() > limits.maxFields()) {
      throw invalid("at most " + limits.maxFields() + " requested fields, got " + r.getFieldsCount());
    }
    if (r.getIdsOnly() && r.getFieldsCount() > 0) {
      throw invalid("ids_only returns no stored fields, but " + r.getFieldsCount() + " are requested: drop fields "
          + "or ids_only");
    }
    if (r.getTimeoutMs() < 0 || r.getTimeoutMs() > limits.maxTimeoutMs()) {
      throw invalid("timeout_ms must be between 0 and " + limits.maxTimeoutMs() + ", got " + r.getTimeoutMs());
    }
    RankProfile profile = switch (r.getProfile()) {
      case RANK_PROFILE_UNSPECIFIED -> RankProfile.NEURAL;
      case BM25, DENSE, HYBRID, NEURAL -> r.getProfile();
      default -> throw invalid("unknown rank profile " + r.getProfileValue() + ": use bm25, dense, hybrid or neural");
    };
    int depth = r.getRerankDepth() == 0 ? SearchLimits.DEFAULT_RERANK_DEPTH : r.getRerankDepth();
    if (depth < 1 || depth > limits.maxRerankDepth()) {
      throw invalid("rerank_depth must be between 1 and " + limits.maxRerankDepth() + ", got " + r.getRerankDepth());
    }
    int tiers = (r.getOffset() + topK + depth - 1) / depth;
    if (tiers > SearchLimits.MAX_TIERS) {
      throw invalid("offset + top_k (" + (r.getOffset() + topK) + ") may reach at most " + SearchLimits.MAX_TIERS
          + " tiers of rerank_depth (" + depth + "), i.e. " + SearchLimits.MAX_TIERS * depth + ": raise rerank_depth");
    }
    if (r.hasFusion()) {
      var f = r.getFusion();
      if (f.getRrfK() < 0 || f.getRrfK() > 10_000) {
        throw invalid("fusion.rrf_k must be between 1 and 10000 (0 = default), got " + f.getRrfK());
      }
      if (f.getWeightsCount() > MAX_WEIGHTS) {
        throw invalid("at most " + MAX_WEIGHTS + " fusion weights, got " + f.getWeightsCount());
      }
      for (var w : f.getWeightsMap().entrySet()) {
        if (!FIELD.matcher(w.getKey()).matches()) {
          throw invalid("fusion weight name '" + abbreviate(w.getKey()) + "' must match [A-Za-z0-9_.-]{1,64}");
        }
        if (!(w.getValue() >= 0 && w.getValue() <= 100)) {
          throw invalid("fusion weights must be between 0 and 100 (0 = default), got " + w.getKey() + "="
              + w.getValue());
        }
      }
    }
    QuerySyntax syntax = r.getSyntax() == QuerySyntax.QUERY_SYNTAX_UNSPECIFIED ? QuerySyntax.PLAIN : r.getSyntax();
    if (syntax == QuerySyntax.LUCENE) {
      checkSyntax(q);
    } else if (syntax != QuerySyntax.PLAIN) {
      throw invalid("unknown query syntax " + r.getSyntaxValue() + ": use plain or lucene");
    }
    return r.toBuilder().setTopK(topK).setProfile(profile).setRerankDepth(depth).setSyntax(syntax).build();
  }

  private static void checkSyntax(String q) throws StatusException {
    try {
      new BoundedRegexpParser().parse(q);
    } catch (ParseException | TokenMgrError | RuntimeException e) {
      String msg = e.getMessage() == null ? e.toString() : e.getMessage().split("\n")[0];
      throw invalid("invalid query syntax: " + msg
          + " (check quotes, parentheses and operators, or send the query with syntax PLAIN)");
    }
  }

  /**
   * Lucene's parser with {@link RegexpBudget} applied to every regular expression, as each shard
   * applies it, so that what the validator accepts every shard parses.
   */
  private static final class BoundedRegexpParser extends QueryParser {
    BoundedRegexpParser() {
      super("contents", new EnglishAnalyzer());
    }

    @Override
    protected org.apache.lucene.search.Query newRegexpQuery(org.apache.lucene.index.Term t) {
      RegexpBudget.check(t.text());
      return super.newRegexpQuery(t);
    }
  }

  private static StatusException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asException();
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}
