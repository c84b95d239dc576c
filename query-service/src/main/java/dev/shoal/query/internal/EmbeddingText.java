package dev.shoal.query.internal;

import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.index.Term;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;

/**
 * The text a query's embedding is made from. A plain query is embedded as it is. A Lucene-syntax
 * query is embedded as the words of its clauses that are not prohibited, on the text fields, in
 * order: {@code +vitamin -bone journal:BMJ} is embedded as "vitamin", so neither the operators
 * nor the word it excludes pull the nearest neighbours towards bone. Stateless and thread-safe.
 */
final class EmbeddingText {

  private static final Set<String> TEXT_FIELDS = Set.of("contents", "text", "title");

  private EmbeddingText() {
  }

  static String of(SearchRequest r) {
    if (r.getSyntax() != QuerySyntax.LUCENE) {
      return r.getQuery();
    }
    Query q;
    try {
      // whitespace analysis keeps the words as the user wrote them (case included) for the model
      q = new QueryParser("contents", new WhitespaceAnalyzer()).parse(r.getQuery());
    } catch (ParseException | RuntimeException e) {
      return r.getQuery(); // the shards report the syntax error
    }
    List<String> words = new ArrayList<>();
    collect(q, words);
    return words.isEmpty() ? r.getQuery() : String.join(" ", words);
  }

  /**
   * Boolean clauses are walked in the order written: {@code BooleanQuery.visit} goes through
   * them grouped in hashed sets, whose order changes from one JVM to the next, so the same query
   * would be embedded as different texts (and different vectors) by different processes.
   */
  private static void collect(Query q, List<String> words) {
    if (q instanceof BoostQuery b) {
      collect(b.getQuery(), words);
    } else if (q instanceof BooleanQuery b) {
      for (BooleanClause c : b.clauses()) {
        if (c.occur() != BooleanClause.Occur.MUST_NOT) {
          collect(c.query(), words);
        }
      }
    } else {
      q.visit(new Words(words));
    }
  }

  private static final class Words extends QueryVisitor {
    private final List<String> words;

    Words(List<String> words) {
      this.words = words;
    }

    @Override
    public boolean acceptField(String field) {
      return TEXT_FIELDS.contains(field);
    }

    @Override
    public void consumeTerms(Query query, Term... terms) {
      for (Term t : terms) {
        words.add(t.text());
      }
    }

    @Override
    public QueryVisitor getSubVisitor(BooleanClause.Occur occur, Query parent) {
      return occur == BooleanClause.Occur.MUST_NOT ? QueryVisitor.EMPTY_VISITOR : this;
    }
  }
}
