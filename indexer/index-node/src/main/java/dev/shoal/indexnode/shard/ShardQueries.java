package dev.shoal.indexnode.shard;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.QuerySyntax;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.index.Term;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.TermInSetQuery;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.util.BytesRef;

/**
 * Builds Lucene queries from the wire form. Thread-safe (stateless but for the analyzer,
 * which Lucene allows to be shared).
 */
public final class ShardQueries {

  /** The filter field that matches document ids. */
  public static final String ID_FILTER = "_id";
  private final Analyzer analyzer;

  public ShardQueries(Analyzer analyzer) {
    this.analyzer = analyzer;
  }

  /** The analysed terms of a plain query, each once, in order. */
  public List<String> terms(String text) {
    Set<String> terms = new LinkedHashSet<>();
    try (TokenStream ts = analyzer.tokenStream(ShardSchema.CONTENTS, text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (ts.incrementToken()) {
        terms.add(term.toString());
      }
      ts.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return List.copyOf(terms);
  }

  /**
   * The BM25 query over {@code contents} (title + text): for PLAIN, a disjunction of the analysed
   * terms (a bag of words, as Anserini queries BEIR); for LUCENE, the classic query syntax where
   * {@code title:} and {@code text:} are analysed fields and any other {@code name:} is a keyword
   * field. Invalid syntax throws {@link ParseException}.
   */
  public Query lexical(String text, QuerySyntax syntax) throws ParseException {
    return lexical(text, syntax, ShardSchema.CONTENTS);
  }

  /** As {@link #lexical(String, QuerySyntax)} over another analysed field ({@code contents} or {@code title}). */
  public Query lexical(String text, QuerySyntax syntax, String field) throws ParseException {
    if (!field.equals(ShardSchema.CONTENTS) && !field.equals(ShardSchema.TITLE)) {
      throw new IllegalArgumentException("no analysed field '" + field + "': use contents or title");
    }
    if (syntax == QuerySyntax.LUCENE) {
      return new FieldMappingParser(field, analyzer).parse(text);
    }
    List<String> terms = terms(text);
    if (terms.isEmpty()) {
      return new MatchNoDocsQuery("no searchable terms");
    }
    BooleanQuery.Builder b = new BooleanQuery.Builder();
    for (String t : terms) {
      b.add(new TermQuery(new Term(field, t)), BooleanClause.Occur.SHOULD);
    }
    return b.build();
  }

  /** The conjunction of the filters as one non-scoring query, or null when there are none. */
  public Query filter(List<Filter> filters) {
    if (filters.isEmpty()) {
      return null;
    }
    BooleanQuery.Builder b = new BooleanQuery.Builder();
    for (Filter f : filters) {
      // "_id" restricts to given documents (e.g. re-ranking someone else's candidate list)
      String kw = ID_FILTER.equals(f.getField()) ? ShardSchema.ID : ShardSchema.KEYWORD_PREFIX + f.getField();
      Query q = switch (f.getKindCase()) {
        case TERM -> new TermQuery(new Term(kw, f.getTerm()));
        case TERMS -> new TermInSetQuery(kw, f.getTerms().getValuesList().stream().map(BytesRef::new).toList());
        case RANGE -> DoublePoint.newRangeQuery(ShardSchema.NUMBER_PREFIX + f.getField(),
            f.getRange().hasMin() ? f.getRange().getMin() : Double.NEGATIVE_INFINITY,
            f.getRange().hasMax() ? f.getRange().getMax() : Double.POSITIVE_INFINITY);
        default -> throw new IllegalArgumentException("filter on '" + f.getField() + "' has no condition");
      };
      b.add(q, BooleanClause.Occur.FILTER);
    }
    return b.build();
  }

  /** Classic syntax with Shoal's field names mapped onto the index layout. */
  private static final class FieldMappingParser extends QueryParser {
    FieldMappingParser(String defaultField, Analyzer analyzer) {
      super(defaultField, analyzer);
    }

    @Override
    protected Query getFieldQuery(String field, String queryText, boolean quoted) throws ParseException {
      return switch (field) {
        case ShardSchema.CONTENTS, "text" -> super.getFieldQuery(ShardSchema.CONTENTS, queryText, quoted);
        case ShardSchema.TITLE -> super.getFieldQuery(ShardSchema.TITLE, queryText, quoted);
        default -> new TermQuery(new Term(ShardSchema.KEYWORD_PREFIX + field, queryText));
      };
    }
  }
}
