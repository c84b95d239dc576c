package dev.shoal.encoder.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.model.Pooler;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class OnnxEncoderTest {

  static List<ModelSpec> models() {
    return List.of(ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), ModelSpec.ALL_MINILM_L6_V2);
  }

  @ParameterizedTest
  @MethodSource("models")
  void batchEqualsOneByOneWithAndWithoutLengthBucketing(ModelSpec spec) {
    List<String> texts = new ArrayList<>(TestTexts.passages(12));
    texts.addAll(TestTexts.queries(12));
    // maxBatch 32 puts all 24 texts in one padded batch; maxBatch 4 buckets them by length
    try (OnnxEncoder one = new OnnxEncoder(spec, 1, 1);
         OnnxEncoder padded = new OnnxEncoder(spec, 2, 32);
         OnnxEncoder bucketed = new OnnxEncoder(spec, 2, 4)) {
      float[][] single = new float[texts.size()][];
      for (int i = 0; i < texts.size(); i++) {
        single[i] = one.embed(List.of(texts.get(i)), Encoder.Kind.PASSAGE)[0];
      }
      for (OnnxEncoder batched : List.of(padded, bucketed)) {
        float[][] batch = batched.embed(texts, Encoder.Kind.PASSAGE);
        assertEquals(texts.size(), batch.length);
        for (int i = 0; i < texts.size(); i++) {
          assertEquals(spec.dimension(), batch[i].length);
          assertEquals(1.0, Pooler.dot(batch[i], batch[i]), 1e-5, "L2-normalised");
          double maxDiff = 0;
          for (int k = 0; k < spec.dimension(); k++) {
            maxDiff = Math.max(maxDiff, Math.abs(batch[i][k] - single[i][k]));
          }
          assertTrue(maxDiff < 1e-5, spec.name() + " text " + i + " differs by " + maxDiff);
        }
      }
    }
  }

  /** 20 fixed pairs: each text scores higher with its paraphrase than with any other pair's text. */
  @ParameterizedTest
  @MethodSource("models")
  void paraphrasesScoreHigherThanUnrelatedPairs(ModelSpec spec) {
    String[][] pairs = {
        {"How do I reset my password?", "I forgot my password and need to change it."},
        {"The cat sat on the mat.", "A cat was sitting on the rug."},
        {"Vitamin D deficiency is linked to bone loss.", "Low vitamin D levels are associated with weaker bones."},
        {"The stock market fell sharply today.", "Share prices dropped steeply on the exchange today."},
        {"She is learning to play the violin.", "She takes violin lessons to learn the instrument."},
        {"Smoking increases the risk of lung cancer.", "Tobacco use raises the chance of developing lung cancer."},
        {"The train was delayed by heavy snow.", "Heavy snowfall made the train run late."},
        {"Aspirin reduces the risk of heart attack.", "Taking aspirin lowers the likelihood of myocardial infarction."},
        {"He bought a new laptop for work.", "He purchased a new notebook computer for his job."},
        {"The museum opens at nine in the morning.", "Opening time of the museum is 9 am."},
        {"Regular exercise improves mood.", "Working out often makes people feel happier."},
        {"Bees are essential for pollinating crops.", "Crop pollination depends heavily on bees."},
        {"The river flooded the village.", "The village was inundated when the river overflowed."},
        {"Insulin regulates blood sugar.", "Blood glucose levels are controlled by insulin."},
        {"The concert was cancelled because of rain.", "Rain forced the organisers to call off the concert."},
        {"Antibiotics do not work against viruses.", "Viral infections cannot be treated with antibiotics."},
        {"The chef prepared a spicy curry.", "A hot curry was cooked by the chef."},
        {"Children need plenty of sleep.", "Kids require a lot of sleep."},
        {"The spacecraft landed on Mars.", "The probe touched down on the Martian surface."},
        {"Mutations in BRCA1 raise breast cancer risk.", "BRCA1 gene variants increase the risk of breast cancer."}};
    try (OnnxEncoder e = new OnnxEncoder(spec, 2, 16)) {
      List<String> left = new ArrayList<>();
      List<String> right = new ArrayList<>();
      for (String[] p : pairs) {
        left.add(p[0]);
        right.add(p[1]);
      }
      float[][] a = e.embed(left, Encoder.Kind.PASSAGE);
      float[][] b = e.embed(right, Encoder.Kind.PASSAGE);
      for (int i = 0; i < pairs.length; i++) {
        double own = Pooler.dot(a[i], b[i]);
        for (int j = 0; j < pairs.length; j++) {
          if (j != i) {
            double other = Pooler.dot(a[i], b[j]);
            assertTrue(own > other, spec.name() + ": pair " + i + " (" + own + ") vs unrelated " + j + " (" + other + ")");
          }
        }
      }
    }
  }

  /** The paraphrase check for the int8 model too: quantisation keeps what the model tells apart. */
  @org.junit.jupiter.api.Test
  void theInt8ModelTellsParaphrasesFromUnrelatedPairs() {
    paraphrasesScoreHigherThanUnrelatedPairs(ModelSpec.BGE_SMALL_EN_V15_INT8.withMaxTokens(256));
  }

  /**
   * The int8 model's vectors are close to fp32 bge-small's on real passages and queries, and a
   * text's vector does not depend on the texts it is embedded with (its activations are quantised
   * per ONNX Runtime call, over the whole input: batched, a vector moved to cosine 0.995 with its
   * batch-mates, so the encoder runs each text of such a model alone).
   */
  @org.junit.jupiter.api.Test
  void int8VectorsStayCloseToFp32AndToThemselvesInABatch() {
    List<String> texts = new ArrayList<>(TestTexts.passages(12));
    texts.addAll(TestTexts.queries(12));
    try (OnnxEncoder fp32 = new OnnxEncoder(ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), 1, 32);
         OnnxEncoder int8 = new OnnxEncoder(ModelSpec.BGE_SMALL_EN_V15_INT8.withMaxTokens(256), 1, 32)) {
      float[][] full = fp32.embed(texts, Encoder.Kind.PASSAGE);
      float[][] batch = int8.embed(texts, Encoder.Kind.PASSAGE);
      double worstToFp32 = 1;
      double worstBatch = 1;
      for (int i = 0; i < texts.size(); i++) {
        float[] single = int8.embed(List.of(texts.get(i)), Encoder.Kind.PASSAGE)[0];
        assertEquals(1.0, Pooler.dot(single, int8.embed(List.of(texts.get(i)), Encoder.Kind.PASSAGE)[0]), 1e-6,
            "the same call gives the same vector");
        worstToFp32 = Math.min(worstToFp32, Pooler.dot(single, full[i]));
        worstBatch = Math.min(worstBatch, Pooler.dot(single, batch[i]));
      }
      System.out.printf("int8 vs fp32: worst cosine %.4f; int8 alone vs in a batch of 24: worst cosine %.5f%n",
          worstToFp32, worstBatch);
      assertTrue(worstToFp32 > 0.95, "int8 vs fp32 cosine " + worstToFp32);
      assertTrue(worstBatch > 0.99999, "alone vs in a batch cosine " + worstBatch);
    }
  }

  @ParameterizedTest
  @MethodSource("models")
  void queryPrefixFollowsTheModelCard(ModelSpec spec) {
    try (OnnxEncoder e = new OnnxEncoder(spec, 1, 4)) {
      int[] q = e.tokenize("protein folding", Encoder.Kind.QUERY);
      int[] p = e.tokenize("protein folding", Encoder.Kind.PASSAGE);
      if (spec.queryPrefix().isEmpty()) {
        assertEquals(p.length, q.length);
      } else {
        assertTrue(q.length > p.length + 5, "bge queries carry the retrieval instruction");
      }
    }
  }
}
