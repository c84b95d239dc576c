package dev.shoal.indexnode.shard;

import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.TermStates;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.TermQuery;

/**
 * The lexical legs of one request, analysed and parsed once for every shard a call searches, and
 * their scored terms looked up once per shard searcher ({@link #lookUp}). One lookup of a term in
 * a shard's term dictionaries gives both the shard's part of the corpus statistics
 * ({@link Lookups#statistics}) and the states its search starts from ({@link Lookups#query}: each
 * {@link TermQuery} carries its {@link TermStates}), where a statistics pass and a search walked
 * every segment's term dictionary three times per term (document frequency, total term frequency,
 * the search's own), the most expensive part of a BM25 search on a node after the scoring itself.
 *
 * <p>The scored terms are a query's terms outside prohibited clauses, as {@link CorpusStats}
 * counts them; a prohibited term, a phrase or an expanded (wildcard, fuzzy) term is looked up by
 * the search as before. Immutable and thread-safe; a {@link Lookups} belongs to one searcher and
 * is not thread-safe.
 */
public final class LexicalLegs {

  /** Leg index in the request → its query; vector legs have none. */
  private final Map<Integer, Query> queries;

  private LexicalLegs(Map<Integer, Query> queries) {
    this.queries = queries;
  }

  /**
   * @throws ParseException           for invalid Lucene syntax in a leg
   * @throws IllegalArgumentException for a field that is not analysed
   */
  public static LexicalLegs parse(ShardQueries parser, List<Leg> legs) throws ParseException {
    Map<Integer, Query> out = new LinkedHashMap<>();
    for (int i = 0; i < legs.size(); i++) {
      if (legs.get(i).hasLexical()) {
        out.put(i, parse(parser, legs.get(i).getLexical()));
      }
    }
    return new LexicalLegs(out);
  }

  /** The legs of a statistics request, numbered in their order. */
  static LexicalLegs parseLexical(ShardQueries parser, List<LexicalLeg> legs) throws ParseException {
    Map<Integer, Query> out = new LinkedHashMap<>();
    for (int i = 0; i < legs.size(); i++) {
      out.put(i, parse(parser, legs.get(i)));
    }
    return new LexicalLegs(out);
  }

  private static Query parse(ShardQueries parser, LexicalLeg leg) throws ParseException {
    return parser.lexical(leg.getText(), leg.getSyntax(), leg.getField().isEmpty() ? ShardSchema.CONTENTS
        : leg.getField());
  }

  public boolean isEmpty() {
    return queries.isEmpty();
  }

  /** The scored terms of every leg looked up in one shard searcher's segments. */
  public Lookups lookUp(IndexSearcher searcher) throws IOException {
    Set<Term> terms = new LinkedHashSet<>();
    QueryVisitor scored = new ScoredTerms(terms);
    queries.values().forEach(q -> q.visit(scored));
    Map<Term, TermStates> states = new LinkedHashMap<>();
    for (Term t : terms) {
      states.put(t, TermStates.build(searcher, t, true));
    }
    return new Lookups(searcher, states);
  }

  /** One shard searcher's lookups of the legs' scored terms. */
  public final class Lookups {
    private final IndexSearcher searcher;
    private final Map<Term, TermStates> states;

    private Lookups(IndexSearcher searcher, Map<Term, TermStates> states) {
      this.searcher = searcher;
      this.states = states;
    }

    /** The searcher the terms were looked up in: the search must read the same one. */
    public IndexSearcher searcher() {
      return searcher;
    }

    /** This shard's counts for the scored terms and their fields (see {@link CorpusStats}). */
    public dev.shoal.internal.v1.CorpusStatistics statistics() throws IOException {
      return CorpusStats.local(searcher, states);
    }

    /** The query of leg {@code legIndex} with its looked-up terms, or null if that leg is not lexical. */
    public Query query(int legIndex) {
      Query q = queries.get(legIndex);
      return q == null ? null : withStates(q);
    }

    /** The query with each term query of a looked-up term given its states; other parts as they were. */
    private Query withStates(Query q) {
      return switch (q) {
        case TermQuery t when states.containsKey(t.getTerm()) -> new TermQuery(t.getTerm(), states.get(t.getTerm()));
        case BoostQuery b -> {
          Query inner = withStates(b.getQuery());
          yield inner == b.getQuery() ? b : new BoostQuery(inner, b.getBoost());
        }
        case BooleanQuery b -> {
          List<BooleanClause> clauses = new ArrayList<>(b.clauses().size());
          boolean changed = false;
          for (BooleanClause c : b.clauses()) {
            // a prohibited clause scores nothing: its terms were not looked up
            Query inner = c.occur() == BooleanClause.Occur.MUST_NOT ? c.query() : withStates(c.query());
            changed |= inner != c.query();
            clauses.add(new BooleanClause(inner, c.occur()));
          }
          if (!changed) {
            yield b;
          }
          BooleanQuery.Builder out = new BooleanQuery.Builder().setMinimumNumberShouldMatch(b.getMinimumNumberShouldMatch());
          clauses.forEach(out::add);
          yield out.build();
        }
        default -> q;
      };
    }
  }

  /** The terms that score: every term but those under a prohibited clause. */
  static final class ScoredTerms extends QueryVisitor {
    private final Set<Term> terms;

    ScoredTerms(Set<Term> terms) {
      this.terms = terms;
    }

    @Override
    public void consumeTerms(Query query, Term... ts) {
      terms.addAll(List.of(ts));
    }

    @Override
    public QueryVisitor getSubVisitor(BooleanClause.Occur occur, Query parent) {
      return occur == BooleanClause.Occur.MUST_NOT ? QueryVisitor.EMPTY_VISITOR : this;
    }
  }
}
