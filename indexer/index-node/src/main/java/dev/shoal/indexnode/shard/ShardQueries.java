package dev.shoal.indexnode.shard;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.server.lucene.RegexpBudget;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.FuzzyQuery;
import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.PrefixQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.RegexpQuery;
import org.apache.lucene.search.TermInSetQuery;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TermRangeQuery;
import org.apache.lucene.search.WildcardQuery;
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
    return List.copyOf(termCounts(text).keySet());
  }

  /** The analysed terms of a plain query, in order of first use, each with its count in the query. */
  public Map<String, Integer> termCounts(String text) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    try (TokenStream ts = analyzer.tokenStream(ShardSchema.CONTENTS, text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (ts.incrementToken()) {
        counts.merge(term.toString(), 1, Integer::sum);
      }
      ts.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return counts;
  }

  /**
   * The BM25 query over {@code contents} (title + text): for PLAIN, a disjunction of the analysed
   * terms, each boosted by its count in the query (a bag of words, as Anserini queries BEIR); for LUCENE, the classic query syntax where
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
    Map<String, Integer> terms = termCounts(text);
    if (terms.isEmpty()) {
      return new MatchNoDocsQuery("no searchable terms");
    }
    // each term weighted by its count in the query, as Anserini's bag of words: a paragraph-long
    // query that repeats a word means it more
    BooleanQuery.Builder b = new BooleanQuery.Builder();
    for (Map.Entry<String, Integer> t : terms.entrySet()) {
      Query q = new TermQuery(new Term(field, t.getKey()));
      b.add(t.getValue() == 1 ? q : new BoostQuery(q, t.getValue()), BooleanClause.Occur.SHOULD);
    }
    return b.build();
  }

  /**
   * What a Lucene-syntax query requires of every document, as a filter: its required ({@code +},
   * {@code AND}) and prohibited ({@code -}, {@code NOT}) top-level clauses, or the whole query when
   * it is a single fielded clause ({@code journal:X}). Optional clauses constrain nothing (they only
   * score), so {@code vitamin bone} gives null: no constraint.
   */
  public Query constraints(String luceneText) throws ParseException {
    Query q = lexical(luceneText, QuerySyntax.LUCENE, ShardSchema.CONTENTS);
    BooleanQuery.Builder b = new BooleanQuery.Builder();
    int n = 0;
    boolean anyRequired = false;
    if (q instanceof BooleanQuery bq) {
      for (BooleanClause c : bq.clauses()) {
        switch (c.occur()) {
          case MUST, FILTER -> {
            b.add(c.query(), BooleanClause.Occur.FILTER);
            n++;
            anyRequired = true;
          }
          case MUST_NOT -> {
            b.add(c.query(), BooleanClause.Occur.MUST_NOT);
            n++;
          }
          case SHOULD -> { }
        }
      }
    } else if (!usesOnly(q, ShardSchema.CONTENTS)) {
      return q;
    }
    if (n == 0) {
      return null;
    }
    if (!anyRequired) {
      b.add(new org.apache.lucene.search.MatchAllDocsQuery(), BooleanClause.Occur.FILTER); // MUST_NOT alone matches nothing
    }
    return b.build();
  }

  /** Whether the query reads only this field (a plain term or phrase of the default field). */
  private static boolean usesOnly(Query q, String field) {
    Set<String> fields = new java.util.HashSet<>();
    q.visit(new org.apache.lucene.search.QueryVisitor() {
      @Override
      public boolean acceptField(String f) {
        fields.add(f);
        return true;
      }
    });
    return fields.equals(Set.of(field));
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

  /**
   * Classic syntax with Shoal's field names mapped onto the index layout, for every kind of clause:
   * {@code text:} and {@code contents:} are the analysed title + text, {@code title:} the analysed
   * title; any other name is a document field, matched as stored (keywords, case-sensitive) or as a
   * number: {@code year:2019} matches the number 2019 or the keyword "2019", {@code year:[2000 TO
   * 2010]} is a numeric range when both ends are numbers (or *), {@code tag:mri*} a keyword prefix.
   */
  private static final class FieldMappingParser extends QueryParser {
    FieldMappingParser(String defaultField, Analyzer analyzer) {
      super(defaultField, analyzer);
    }

    /** The analysed field a name maps to, or null for a document field. */
    private static String analysed(String field) {
      return switch (field) {
        case ShardSchema.CONTENTS, "text" -> ShardSchema.CONTENTS;
        case ShardSchema.TITLE -> ShardSchema.TITLE;
        default -> null;
      };
    }

    private static String keyword(String field) {
      return ShardSchema.KEYWORD_PREFIX + field;
    }

    private static Double number(String s) {
      if (s == null || s.equals("*")) {
        return null;
      }
      try {
        double d = Double.parseDouble(s);
        return Double.isFinite(d) ? d : null;
      } catch (NumberFormatException e) {
        return null;
      }
    }

    @Override
    protected Query getFieldQuery(String field, String queryText, boolean quoted) throws ParseException {
      String a = analysed(field);
      if (a != null) {
        return super.getFieldQuery(a, queryText, quoted);
      }
      Query term = new TermQuery(new Term(keyword(field), queryText));
      Double n = number(queryText);
      if (n == null) {
        return term;
      }
      return new BooleanQuery.Builder().add(term, BooleanClause.Occur.SHOULD)
          .add(DoublePoint.newExactQuery(ShardSchema.NUMBER_PREFIX + field, n), BooleanClause.Occur.SHOULD).build();
    }

    @Override
    protected Query getRangeQuery(String field, String part1, String part2, boolean startInclusive,
                                  boolean endInclusive) throws ParseException {
      String a = analysed(field);
      if (a != null) {
        return super.getRangeQuery(a, part1, part2, startInclusive, endInclusive);
      }
      boolean open1 = part1 == null || part1.equals("*");
      boolean open2 = part2 == null || part2.equals("*");
      Double lo = number(part1);
      Double hi = number(part2);
      if ((open1 || lo != null) && (open2 || hi != null)) {
        double min = lo == null ? Double.NEGATIVE_INFINITY : startInclusive ? lo : Math.nextUp(lo);
        double max = hi == null ? Double.POSITIVE_INFINITY : endInclusive ? hi : Math.nextDown(hi);
        return DoublePoint.newRangeQuery(ShardSchema.NUMBER_PREFIX + field, min, max);
      }
      return TermRangeQuery.newStringRange(keyword(field), open1 ? null : part1, open2 ? null : part2, startInclusive,
          endInclusive);
    }

    @Override
    protected Query getPrefixQuery(String field, String termStr) throws ParseException {
      String a = analysed(field);
      return a != null ? super.getPrefixQuery(a, termStr) : new PrefixQuery(new Term(keyword(field), termStr));
    }

    @Override
    protected Query getWildcardQuery(String field, String termStr) throws ParseException {
      String a = analysed(field);
      return a != null ? super.getWildcardQuery(a, termStr) : new WildcardQuery(new Term(keyword(field), termStr));
    }

    @Override
    protected Query getFuzzyQuery(String field, String termStr, float minSimilarity) throws ParseException {
      String a = analysed(field);
      return a != null ? super.getFuzzyQuery(a, termStr, minSimilarity)
          // as the parser does for analysed fields: ~5 means at most the 2 edits Lucene allows (a fuzz finding)
          : new FuzzyQuery(new Term(keyword(field), termStr),
              FuzzyQuery.floatToEdits(minSimilarity, termStr.codePointCount(0, termStr.length())));
    }

    @Override
    protected Query getRegexpQuery(String field, String termStr) throws ParseException {
      try {
        RegexpBudget.check(termStr);
      } catch (IllegalArgumentException e) {
        throw new ParseException(e.getMessage());
      }
      String a = analysed(field);
      return a != null ? super.getRegexpQuery(a, termStr) : new RegexpQuery(new Term(keyword(field), termStr));
    }
  }
}
