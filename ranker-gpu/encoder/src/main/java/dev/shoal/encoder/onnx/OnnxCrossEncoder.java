package dev.shoal.encoder.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.model.ClassifierHead;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.model.OnnxGraph;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A cross-encoder on ONNX Runtime (CPU): pairs tokenised as {@code [CLS] query [SEP] passage [SEP]}
 * with segment ids, spread over the cores as {@link OrtSessions} does, the logits turned into one
 * score per pair by the model's {@link ClassifierHead} rule. The graph must take
 * {@code input_ids}, {@code attention_mask} and {@code token_type_ids} and give
 * {@code logits} [batch, 1 or 2] (checked when loading, so a wrong model fails at start-up).
 *
 * <p>Thread-safe; {@link #close()} waits for runs in flight, then frees the sessions.
 */
public final class OnnxCrossEncoder implements CrossEncoder {

  private static final List<String> INPUTS = List.of("input_ids", "attention_mask", "token_type_ids");

  private final CrossEncoderSpec spec;
  private final WordPieceTokenizer tokenizer;
  private final OrtEnvironment env;
  private final OrtSessions sessions;
  private final ClassifierHead head;
  private final int maxBatch;
  private final String output;

  /**
   * @param parallelism sub-batches run at once
   * @param maxBatch    the largest sub-batch handed to ONNX Runtime
   */
  public OnnxCrossEncoder(CrossEncoderSpec spec, int parallelism, int maxBatch) {
    this.spec = spec;
    this.maxBatch = Math.max(1, maxBatch);
    try (InputStream tok = ModelFiles.open(spec.tokenizer())) {
      this.tokenizer = WordPieceTokenizer.load(tok);
      this.env = OrtRuntime.environment();
      byte[] model = ModelFiles.readAll(spec.onnx());
      this.head = ClassifierHead.from(OnnxGraph.read(model));
      this.sessions = new OrtSessions(env, model, parallelism, "onnx-cross-encoder");
      Set<String> inputs = sessions.inputNames();
      if (!inputs.containsAll(INPUTS)) {
        sessions.close();
        throw new IllegalArgumentException("cross-encoder " + spec.name() + " takes inputs " + inputs + "; expected "
            + INPUTS);
      }
      this.output = outputName();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read cross-encoder " + spec.name(), e);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime cannot load " + spec.name() + ": " + e.getMessage(), e);
    }
  }

  private String outputName() throws OrtException {
    Set<String> names = sessions.outputNames();
    if (names.size() != 1 && !names.contains("logits")) {
      throw new IllegalArgumentException("cross-encoder " + spec.name() + " has outputs " + names
          + "; expected logits");
    }
    return names.contains("logits") ? "logits" : names.iterator().next();
  }

  @Override
  public CrossEncoderSpec model() {
    return spec;
  }

  @Override
  public String backend() {
    return "cpu (ONNX Runtime " + env.getVersion() + ")";
  }

  /** A pair as the model reads it; exposed for tests and GPU parity. */
  public WordPieceTokenizer.Pair tokenize(TextPair pair) {
    return tokenizer.encodePair(pair.query(), pair.passage(), spec.maxTokens());
  }

  @Override
  public float[] score(List<TextPair> pairs) {
    if (sessions.closed()) {
      throw new IllegalStateException("cross-encoder closed");
    }
    int n = pairs.size();
    WordPieceTokenizer.Pair[] tokens = new WordPieceTokenizer.Pair[n];
    int[] lengths = new int[n];
    for (int i = 0; i < n; i++) {
      tokens[i] = tokenize(pairs.get(i));
      lengths[i] = tokens[i].length();
    }
    float[] out = new float[n];
    sessions.runAll(lengths, maxBatch, (rows, session) -> runBatch(rows, tokens, out, session));
    return out;
  }

  private void runBatch(int[] rows, WordPieceTokenizer.Pair[] tokens, float[] out, OrtSession session)
      throws OrtException {
    int b = rows.length;
    int t = 0;
    for (int r : rows) {
      t = Math.max(t, tokens[r].length());
    }
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    long[] types = new long[b * t];
    for (int i = 0; i < b; i++) {
      WordPieceTokenizer.Pair p = tokens[rows[i]];
      for (int j = 0; j < t; j++) {
        boolean real = j < p.length();
        ids[i * t + j] = real ? p.ids()[j] : tokenizer.padId();
        mask[i * t + j] = real ? 1 : 0;
        types[i * t + j] = real ? p.typeIds()[j] : 0;
      }
    }
    long[] shape = {b, t};
    try (OnnxTensor idT = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
         OnnxTensor maskT = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
         OnnxTensor typeT = OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape);
         OrtSession.Result result = session.run(Map.of("input_ids", idT, "attention_mask", maskT,
             "token_type_ids", typeT), Set.of(output))) {
      OnnxValue v = result.get(0);
      FloatBuffer logits = ((OnnxTensor) v).getFloatBuffer();
      float[] all = new float[logits.remaining()];
      logits.get(all);
      if (all.length != b * head.labels()) {
        throw new IllegalStateException("cross-encoder " + spec.name() + " gave " + all.length + " logits for " + b
            + " pairs; its classifier has " + head.labels() + " labels");
      }
      for (int i = 0; i < b; i++) {
        out[rows[i]] = head.score(all, i * head.labels());
      }
    }
  }

  @Override
  public void close() {
    sessions.close();
  }
}
