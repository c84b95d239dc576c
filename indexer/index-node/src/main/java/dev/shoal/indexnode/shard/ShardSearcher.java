package dev.shoal.indexnode.shard;

import dev.shoal.api.document.DocumentText;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.internal.v1.VectorScorer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;

/**
 * One shard's part of a search, on a given searcher: each leg's list (BM25 over an analysed
 * field, or kNN over the embeddings), every filter on every leg, each scorer's value for every
 * hit (the exact dot product of the stored embedding with the scorer's vector, read from Lucene's
 * vector values, so re-scoring by stored vectors happens here), and the stored parts of a few
 * hits from the document store. Stateless apart from its analyzers; thread-safe.
 */
public final class ShardSearcher {

  private final int shard;
  private final ShardQueries queries;
  private final Snippets snippets;

  public ShardSearcher(int shard) {
    this.shard = shard;
    this.queries = new ShardQueries(ShardSchema.analyzer());
    this.snippets = new Snippets(ShardSchema.analyzer());
  }

  /**
   * @param model     the model that embedded the shard's passages ("" before the first)
   * @param dimension their dimension (0 before the first)
   * @throws ParseException           for invalid Lucene syntax in a lexical leg
   * @throws ModelMismatchException   for a vector of another model or dimension
   * @throws IllegalArgumentException for a leg or scorer this shard cannot run
   */
  public ShardSearchResponse search(IndexSearcher shardSearcher, DocStore docs, ShardSearchRequest req, String model,
                                    int dimension) throws ParseException, IOException {
    return search(shardSearcher, docs, req, model, dimension, null);
  }

  /**
   * As {@link #search(IndexSearcher, DocStore, ShardSearchRequest, String, int)}, the lexical legs
   * already parsed and their terms looked up in {@code shardSearcher} (null: parse and look up here).
   */
  public ShardSearchResponse search(IndexSearcher shardSearcher, DocStore docs, ShardSearchRequest req, String model,
                                    int dimension, LexicalLegs.Lookups lookups) throws ParseException, IOException {
    if (lookups != null && lookups.searcher() != shardSearcher) {
      throw new IllegalArgumentException("the terms were looked up in another searcher");
    }
    IndexSearcher s = req.hasStatistics() ? CorpusStats.scoring(shardSearcher, req.getStatistics()) : shardSearcher;
    checkModels(req, model, dimension);
    Found found = find(s, req, lookups, new int[] {0});
    Map<String, ShardHit.Builder> hits = found.hits();
    long total = found.total();
    ShardSearchResponse.Builder out = ShardSearchResponse.newBuilder().setShard(shard).setTotalHits(total).setModel(model)
        .setSearcherGeneration(((DirectoryReader) s.getIndexReader()).getVersion());
    Set<String> toLoad = req.getLegsCount() == 0 ? Set.of() : best(hits, req.getLegs(0).getName(), req.getHydrateTop());
    if (toLoad.isEmpty()) {
      hits.values().forEach(out::addHits);
      return out.build();
    }
    Map<String, ShardHit> loaded = new HashMap<>();
    for (ShardHit h : hydrate(docs, toLoad, req.getHighlight(), req.getFieldsList(), true, true, false)) {
      loaded.put(h.getId(), h);
    }
    for (ShardHit.Builder h : hits.values()) {
      ShardHit d = loaded.get(h.getId());
      if (d != null) {
        out.addHits(h.mergeFrom(d).setHydrated(true));
      } else if (!toLoad.contains(h.getId())) {
        out.addHits(h);
      } // else deleted after the searcher was opened
    }
    return out.build();
  }

  /** Refuses a request whose vector legs or scorers were embedded by another model than this shard's passages. */
  void checkModels(ShardSearchRequest req, String model, int dimension) {
    for (Leg leg : req.getLegsList()) {
      if (leg.hasVector()) {
        checkModel("leg '" + leg.getName() + "'", leg.getVector().getModel(), leg.getVector().getVectorCount(), model,
            dimension);
      }
    }
    for (VectorScorer scorer : req.getScorersList()) {
      checkModel("scorer '" + scorer.getName() + "'", scorer.getModel(), scorer.getVectorCount(), model, dimension);
    }
  }

  /**
   * What one pass of the legs and scorers over a searcher found.
   *
   * @param hits  each hit once, in the order the legs found them, with every leg's score and scorer's value
   * @param parts each hit's part: the index of the sub-reader (one shard's) its document is in
   * @param total the first leg's matches over the whole searcher
   */
  record Found(Map<String, ShardHit.Builder> hits, Map<String, Integer> parts, long total) {
  }

  /**
   * Runs the legs and scorers over {@code s}, which may read several shards (a node's shards in one
   * MultiReader: one top k per leg over all of them, as one index would give it).
   *
   * @param lookups the legs' terms looked up in {@code s}'s reader, or null
   * @param starts  the first document of each part (one shard's reader), ascending; {0} for one shard
   */
  Found find(IndexSearcher s, ShardSearchRequest req, LexicalLegs.Lookups lookups, int[] starts)
      throws ParseException, IOException {
    Query filter = queries.filter(req.getFiltersList());
    Map<String, ShardHit.Builder> hits = new LinkedHashMap<>();
    Map<String, Integer> docIds = new HashMap<>();
    Map<String, Integer> parts = new HashMap<>();
    StoredFields stored = s.storedFields();
    long total = 0;
    for (int i = 0; i < req.getLegsCount(); i++) {
      Leg leg = req.getLegs(i);
      if (leg.getK() <= 0) {
        continue;
      }
      TopDocs top = run(s, leg, lookups == null ? null : lookups.query(i), filter);
      if (i == 0) {
        total = top.totalHits.value();
      }
      for (ScoreDoc sd : top.scoreDocs) {
        String id = stored.document(sd.doc).get(ShardSchema.ID);
        if (docIds.putIfAbsent(id, sd.doc) == null && starts.length > 1) {
          parts.put(id, partOf(sd.doc, starts));
        }
        // Lucene scores DOT_PRODUCT as (1 + cos) / 2; a vector leg reports the cosine itself
        double score = leg.hasVector() ? 2.0 * sd.score - 1.0 : sd.score;
        hits.computeIfAbsent(id, k -> ShardHit.newBuilder().setId(k)).putSignals(leg.getName(), score);
      }
    }
    for (VectorScorer scorer : req.getScorersList()) {
      score(s, scorer, docIds, hits);
    }
    return new Found(hits, parts, total);
  }

  /** The last part starting at or before the document (an empty shard's part starts where the next one does). */
  private static int partOf(int doc, int[] starts) {
    int at = starts.length - 1;
    while (starts[at] > doc) {
      at--;
    }
    return at;
  }

  /** The request's lexical legs, parsed with this shard's analyzer (any shard's gives the same). */
  public LexicalLegs parse(List<Leg> legs) throws ParseException {
    return LexicalLegs.parse(queries, legs);
  }

  /** This shard's counts for the terms of the lexical legs (see {@link CorpusStats}). */
  public CorpusStatistics statistics(IndexSearcher s, StatisticsRequest req) throws ParseException, IOException {
    return CorpusStats.local(s, queries, req.getLegsList());
  }

  private void checkModel(String what, String queryModel, int queryDimension, String model, int dimension) {
    if (!queryModel.isEmpty() && !model.isEmpty() && !queryModel.equals(model)) {
      throw new ModelMismatchException("shard " + shard + " holds passages embedded by '" + model + "', but the "
          + what + " has a query embedded by '" + queryModel + "': run the ranker with the index's model "
          + "(--model " + model + ") or re-enrich the corpus with '" + queryModel + "'");
    }
    if (dimension > 0 && queryDimension != dimension) {
      throw new ModelMismatchException("shard " + shard + " holds embeddings of dimension " + dimension + " (model '"
          + model + "'), but the " + what + " has a vector of " + queryDimension + " values"
          + (queryModel.isEmpty() ? "" : " (model '" + queryModel + "')"));
    }
  }

  /** @param parsed the leg's query already parsed (lexical legs), or null */
  private TopDocs run(IndexSearcher s, Leg leg, Query parsed, Query filter) throws ParseException, IOException {
    return switch (leg.getKindCase()) {
      case LEXICAL -> {
        String field = leg.getLexical().getField().isEmpty() ? ShardSchema.CONTENTS : leg.getLexical().getField();
        Query q = parsed != null ? parsed : queries.lexical(leg.getLexical().getText(), leg.getLexical().getSyntax(),
            field);
        if (filter != null) {
          q = new BooleanQuery.Builder().add(q, BooleanClause.Occur.MUST).add(filter, BooleanClause.Occur.FILTER).build();
        }
        yield s.search(q, leg.getK());
      }
      case VECTOR -> {
        float[] v = floats(leg.getVector().getVectorList());
        Query constraints = leg.getVector().hasConstraints()
            ? queries.constraints(leg.getVector().getConstraints().getText()) : null;
        Query f = and(filter, constraints);
        yield s.search(new KnnFloatVectorQuery(ShardSchema.VECTOR, v, leg.getK(), f), leg.getK());
      }
      default -> throw new IllegalArgumentException("leg '" + leg.getName() + "' has no kind this shard knows");
    };
  }

  private static Query and(Query a, Query b) {
    if (a == null || b == null) {
      return a == null ? b : a;
    }
    return new BooleanQuery.Builder().add(a, BooleanClause.Occur.FILTER).add(b, BooleanClause.Occur.FILTER).build();
  }

  /** Each hit's stored embedding · the scorer's vector, accumulated in double as the ranker always has. */
  private static void score(IndexSearcher s, VectorScorer scorer, Map<String, Integer> docIds,
                            Map<String, ShardHit.Builder> hits) throws IOException {
    float[] q = floats(scorer.getVectorList());
    List<LeafReaderContext> leaves = s.getIndexReader().leaves();
    Map.Entry<String, Integer>[] byDoc = docIds.entrySet().toArray(Map.Entry[]::new);
    Arrays.sort(byDoc, Map.Entry.comparingByValue());
    int leafIndex = -1;
    FloatVectorValues values = null;
    KnnVectorValues.DocIndexIterator it = null;
    LeafReaderContext leaf = null;
    for (Map.Entry<String, Integer> e : byDoc) {
      int doc = e.getValue();
      int li = ReaderUtil.subIndex(doc, leaves);
      if (li != leafIndex) {
        leafIndex = li;
        leaf = leaves.get(li);
        values = leaf.reader().getFloatVectorValues(ShardSchema.VECTOR);
        it = values == null ? null : values.iterator();
      }
      if (it == null) {
        continue;
      }
      int target = doc - leaf.docBase;
      int at = it.docID() >= target ? it.docID() : it.advance(target);
      if (at != target) {
        continue; // a document without an embedding: no value for this scorer
      }
      float[] v = values.vectorValue(it.index());
      if (v.length != q.length) {
        throw new IllegalArgumentException("scorer '" + scorer.getName() + "' has a vector of " + q.length
            + " values; the stored embeddings have " + v.length);
      }
      double dot = 0;
      for (int i = 0; i < q.length; i++) {
        dot += q[i] * v[i];
      }
      hits.get(e.getKey()).putSignals(scorer.getName(), dot);
    }
  }

  private static float[] floats(List<Float> xs) {
    float[] v = new float[xs.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = xs.get(i);
    }
    return v;
  }

  /** The ids of the n best hits of a leg, best first. */
  private static Set<String> best(Map<String, ShardHit.Builder> hits, String leg, int n) {
    if (n <= 0) {
      return Set.of();
    }
    List<ShardHit.Builder> in = new ArrayList<>();
    for (ShardHit.Builder h : hits.values()) {
      if (h.containsSignals(leg)) {
        in.add(h);
      }
    }
    in.sort(Comparator.<ShardHit.Builder>comparingDouble(h -> h.getSignalsOrThrow(leg)).reversed()
        .thenComparing(ShardHit.Builder::getId));
    Set<String> out = new LinkedHashSet<>();
    for (int i = 0; i < Math.min(n, in.size()); i++) {
      out.add(in.get(i).getId());
    }
    return out;
  }

  /**
   * The stored parts of a few documents a search returned: title, a snippet highlighting the terms
   * of {@code highlight}, the requested fields, the passage. Ids no longer stored are left out.
   * Each document is one document-store read.
   */
  public List<ShardHit> hydrate(DocStore docs, Collection<String> ids, String highlight, List<String> fields,
                                boolean withTitles, boolean withSnippets, boolean withText) throws IOException {
    Set<String> terms = withSnippets && !highlight.isEmpty() ? new HashSet<>(queries.terms(highlight)) : Set.of();
    Snippets.Highlight highlighted = withSnippets ? snippets.highlight(terms) : null;
    List<ShardHit> out = new ArrayList<>(ids.size());
    for (String id : ids) {
      EnrichedDocument e = docs.load(id);
      if (e == null) {
        continue;
      }
      Document d = e.getDocument();
      ShardHit.Builder h = ShardHit.newBuilder().setId(id);
      if (withTitles) {
        h.setTitle(d.getTitle());
      }
      if (withSnippets) {
        h.setSnippet(highlighted.snippet(d.getText()));
      }
      if (withText) {
        h.setText(DocumentText.passage(d));
      }
      for (String f : fields) {
        FieldValue v = d.getFieldsMap().get(f);
        if (v != null) {
          h.putFields(f, v);
        }
      }
      out.add(h.build());
    }
    return out;
  }
}
