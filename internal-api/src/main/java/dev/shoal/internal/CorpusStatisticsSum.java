package dev.shoal.internal;

import com.google.protobuf.ByteString;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.FieldStatistics;
import dev.shoal.internal.v1.TermStatistics;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adds up the shards' {@link CorpusStatistics}: every count is additive over disjoint shards, so
 * the sum is what one index over the whole corpus would report. Stateless; thread-safe.
 */
public final class CorpusStatisticsSum {

  private CorpusStatisticsSum() {
  }

  private record TermKey(String field, ByteString term) {
  }

  public static CorpusStatistics of(List<CorpusStatistics> shards) {
    Map<String, FieldStatistics.Builder> fields = new LinkedHashMap<>();
    Map<TermKey, TermStatistics.Builder> terms = new LinkedHashMap<>();
    for (CorpusStatistics c : shards) {
      for (FieldStatistics f : c.getFieldsList()) {
        fields.merge(f.getField(), f.toBuilder(), (a, b) -> a.setMaxDoc(a.getMaxDoc() + b.getMaxDoc())
            .setDocCount(a.getDocCount() + b.getDocCount())
            .setSumTotalTermFreq(a.getSumTotalTermFreq() + b.getSumTotalTermFreq())
            .setSumDocFreq(a.getSumDocFreq() + b.getSumDocFreq()));
      }
      for (TermStatistics t : c.getTermsList()) {
        terms.merge(new TermKey(t.getField(), t.getTerm()), t.toBuilder(), (a, b) -> a
            .setDocFreq(a.getDocFreq() + b.getDocFreq()).setTotalTermFreq(a.getTotalTermFreq() + b.getTotalTermFreq()));
      }
    }
    CorpusStatistics.Builder out = CorpusStatistics.newBuilder();
    fields.values().forEach(out::addFields);
    terms.values().forEach(out::addTerms);
    return out.build();
  }
}
