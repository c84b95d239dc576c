package dev.shoal.encoder.reference;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderModel;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.ClassifierHead;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.util.List;

/**
 * A cross-encoder's forward pass in plain Java, fp32, from the ONNX file's own weights: the
 * encoder of {@link ReferenceEncoder} over a pair with its segment ids, then the head on the
 * [CLS] row: {@code tanh(cls · Wp + bp)} (the pooler, when the model has one), then
 * {@code · Wc + bc} to the logits, each product as {@link ReferenceEncoder#gemmBias}. Each pair
 * runs at its own length (no padding). For checking ONNX Runtime and the CUDA kernels, not for
 * serving. Thread-safe; pairs of one call run one after another on the caller's thread.
 */
public final class ReferenceCrossEncoder implements CrossEncoder {

  private final CrossEncoderModel model;
  private final BertWeights w;
  private final ClassifierHead head;

  public ReferenceCrossEncoder(CrossEncoderSpec spec) {
    this.model = CrossEncoderModel.load(spec);
    this.w = model.weights();
    this.head = model.head();
  }

  public BertWeights weights() {
    return w;
  }

  public ClassifierHead head() {
    return head;
  }

  @Override
  public CrossEncoderSpec model() {
    return model.spec();
  }

  @Override
  public String backend() {
    return "java reference (fp32)";
  }

  @Override
  public float[] score(List<TextPair> pairs) {
    float[] out = new float[pairs.size()];
    for (int i = 0; i < out.length; i++) {
      WordPieceTokenizer.Pair p = model.tokenize(pairs.get(i));
      out[i] = scoreIds(p.ids(), p.typeIds());
    }
    return out;
  }

  /** The relevance score of one tokenised pair. */
  public float scoreIds(int[] ids, int[] typeIds) {
    float[] hidden = ReferenceEncoder.forward(w, ids, typeIds);
    return head.score(logits(head, java.util.Arrays.copyOf(hidden, w.hidden())), 0);
  }

  /** The head's logits for one [CLS] row. */
  public static float[] logits(ClassifierHead head, float[] cls) {
    float[] x = cls;
    int h = head.hidden();
    if (head.hasPooler()) {
      x = ReferenceEncoder.gemmBias(x, 1, h, head.poolerWeight(), head.poolerBias(), h);
      for (int j = 0; j < h; j++) {
        x[j] = (float) Math.tanh(x[j]);
      }
    }
    return ReferenceEncoder.gemmBias(x, 1, h, head.weight(), head.bias(), head.labels());
  }

  @Override
  public void close() {
    // nothing native
  }
}
