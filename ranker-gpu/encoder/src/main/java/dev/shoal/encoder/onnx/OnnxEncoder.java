package dev.shoal.encoder.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.model.OnnxGraph;
import dev.shoal.encoder.model.Pooler;
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
 * The CPU backend: ONNX Runtime on the model's own ONNX graph, a call's texts spread over the
 * cores as {@link OrtSessions} does (sorted by length, sub-batches in parallel on
 * single-threaded sessions, a single text on a session with every thread). A model with
 * dynamically quantised activations ({@code DynamicQuantizeLinear}, as in bge-small-en-v1.5-int8)
 * runs every text as its own sub-batch: its scales are taken over the whole input, so a batch
 * would make a text's vector depend on the texts it happened to be batched with.
 *
 * <p>Thread-safe: concurrent {@link #embed} calls share the worker pool. {@link #close()} refuses
 * new calls, waits for the model runs in flight to finish, then frees the sessions.
 */
public final class OnnxEncoder implements Encoder {

  private final ModelSpec spec;
  private final WordPieceTokenizer tokenizer;
  private final OrtEnvironment env;
  private final OrtSessions sessions;
  private final Set<String> inputs;
  private final int maxBatch;

  /**
   * @param parallelism sub-batches run at once (one ONNX Runtime thread each)
   * @param maxBatch    the largest sub-batch handed to ONNX Runtime
   */
  public OnnxEncoder(ModelSpec spec, int parallelism, int maxBatch) {
    this.spec = spec;
    try (InputStream tok = ModelFiles.open(spec.tokenizer())) {
      this.tokenizer = WordPieceTokenizer.load(tok);
      this.env = OrtRuntime.environment();
      byte[] model = ModelFiles.readAll(spec.onnx());
      // dynamic quantisation scales activations over the whole batch: a text's vector would move
      // with its batch-mates (cosine 0.995 measured), so such a model runs each text on its own
      this.maxBatch = OnnxGraph.operators(model).contains("DynamicQuantizeLinear") ? 1 : maxBatch;
      this.sessions = new OrtSessions(env, model, parallelism, "onnx-encoder");
      this.inputs = sessions.inputNames();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read model " + spec.name(), e);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime cannot load " + spec.name() + ": " + e.getMessage(), e);
    }
  }

  @Override
  public ModelSpec model() {
    return spec;
  }

  @Override
  public String backend() {
    return "cpu (ONNX Runtime " + env.getVersion() + ")";
  }

  /** Token ids as the model sees them (prefix applied, truncated); exposed for tests and GPU parity. */
  public int[] tokenize(String text, Kind kind) {
    String prefix = kind == Kind.QUERY ? spec.queryPrefix() : spec.passagePrefix();
    return tokenizer.encode(prefix + text, spec.maxTokens());
  }

  @Override
  public float[][] embed(List<String> texts, Kind kind) {
    if (sessions.closed()) {
      throw new IllegalStateException("encoder closed");
    }
    int n = texts.size();
    float[][] out = new float[n][];
    int[][] ids = new int[n][];
    int[] lengths = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = tokenize(texts.get(i), kind);
      lengths[i] = ids[i].length;
    }
    sessions.runAll(lengths, maxBatch, (rows, session) -> runBatch(rows, ids, out, session));
    return out;
  }

  /** Embeds exactly the given rows padded to their longest. */
  private void runBatch(int[] rows, int[][] ids, float[][] out, OrtSession onSession) throws OrtException {
    int b = rows.length;
    int t = 0;
    for (int r : rows) {
      t = Math.max(t, ids[r].length);
    }
    long[] inputIds = new long[b * t];
    long[] mask = new long[b * t];
    for (int i = 0; i < b; i++) {
      int[] row = ids[rows[i]];
      for (int j = 0; j < t; j++) {
        boolean real = j < row.length;
        inputIds[i * t + j] = real ? row[j] : tokenizer.padId();
        mask[i * t + j] = real ? 1 : 0;
      }
    }
    long[] shape = {b, t};
    try (OnnxTensor idT = OnnxTensor.createTensor(env, LongBuffer.wrap(inputIds), shape);
         OnnxTensor maskT = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
         OnnxTensor typeT = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[b * t]), shape)) {
      Map<String, OnnxTensor> feed = new java.util.HashMap<>();
      feed.put("input_ids", idT);
      if (inputs.contains("attention_mask")) {
        feed.put("attention_mask", maskT);
      }
      if (inputs.contains("token_type_ids")) {
        feed.put("token_type_ids", typeT);
      }
      try (OrtSession.Result result = onSession.run(feed)) {
        FloatBuffer hidden = ((OnnxTensor) result.get(0)).getFloatBuffer();
        int h = spec.dimension();
        float[] all = new float[hidden.remaining()];
        hidden.get(all);
        if (all.length != b * t * h) {
          throw new IllegalStateException("model output has " + all.length + " values, expected "
              + b + "x" + t + "x" + h + " (is dimension " + h + " right for " + spec.name() + "?)");
        }
        for (int i = 0; i < b; i++) {
          out[rows[i]] = Pooler.pool(all, i, t, h, ids[rows[i]].length, spec.pooling());
        }
      }
    }
  }

  @Override
  public void close() {
    sessions.close();
  }
}
