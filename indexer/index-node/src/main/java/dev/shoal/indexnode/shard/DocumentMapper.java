package dev.shoal.indexnode.shard;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.internal.v1.EnrichedDocument;
import java.util.Map;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.VectorSimilarityFunction;

/**
 * An enriched document as the Lucene fields of {@link ShardSchema}: the id, title + text for BM25,
 * the title alone, the embedding for HNSW (dot product of unit vectors = cosine), and each field
 * as a keyword, keyword list or numeric point for filters. Stateless.
 */
public final class DocumentMapper {

  private DocumentMapper() {
  }

  public static org.apache.lucene.document.Document toLucene(EnrichedDocument e) {
    Document d = e.getDocument();
    org.apache.lucene.document.Document doc = new org.apache.lucene.document.Document();
    doc.add(new StringField(ShardSchema.ID, d.getId(), Field.Store.YES));
    doc.add(new TextField(ShardSchema.CONTENTS, d.getTitle() + "\n" + d.getText(), Field.Store.NO));
    doc.add(new TextField(ShardSchema.TITLE, d.getTitle(), Field.Store.NO));
    if (e.getEmbeddingCount() > 0) {
      float[] v = new float[e.getEmbeddingCount()];
      for (int i = 0; i < v.length; i++) {
        v[i] = e.getEmbedding(i);
      }
      doc.add(new KnnFloatVectorField(ShardSchema.VECTOR, v, VectorSimilarityFunction.DOT_PRODUCT));
    }
    for (Map.Entry<String, FieldValue> f : d.getFieldsMap().entrySet()) {
      String kw = ShardSchema.KEYWORD_PREFIX + f.getKey();
      switch (f.getValue().getKindCase()) {
        case KEYWORD -> doc.add(new StringField(kw, f.getValue().getKeyword(), Field.Store.NO));
        case KEYWORDS -> f.getValue().getKeywords().getValuesList()
            .forEach(v -> doc.add(new StringField(kw, v, Field.Store.NO)));
        case NUMBER -> doc.add(new DoublePoint(ShardSchema.NUMBER_PREFIX + f.getKey(), f.getValue().getNumber()));
        default -> { }
      }
    }
    return doc;
  }
}
