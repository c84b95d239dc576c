package dev.shoal.encoder;

import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.ClassifierHead;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.model.OnnxGraph;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * A cross-encoder's files read into memory: its tokenizer, its encoder's weights and its
 * classification head, checked to fit together. What a backend that runs the forward pass itself
 * (the Java reference, the CUDA kernels) starts from. Immutable; thread-safe.
 */
public record CrossEncoderModel(CrossEncoderSpec spec, WordPieceTokenizer tokenizer, BertWeights weights,
                                ClassifierHead head) {

  /**
   * @throws IllegalArgumentException when the graph is not a BERT sequence classifier Shoal reads
   * @throws UncheckedIOException     when a file cannot be read
   */
  public static CrossEncoderModel load(CrossEncoderSpec spec) {
    try (InputStream tok = ModelFiles.open(spec.tokenizer())) {
      WordPieceTokenizer tokenizer = WordPieceTokenizer.load(tok);
      OnnxGraph g = OnnxGraph.read(ModelFiles.readAll(spec.onnx()));
      BertWeights w = BertWeights.from(g);
      ClassifierHead head = ClassifierHead.from(g);
      if (head.hidden() != w.hidden()) {
        throw new IllegalArgumentException(spec.name() + ": classifier takes " + head.hidden() + " values, the encoder"
            + " gives " + w.hidden());
      }
      return new CrossEncoderModel(spec, tokenizer, w, head);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read cross-encoder " + spec.name(), e);
    }
  }

  /** A pair as the model reads it. */
  public WordPieceTokenizer.Pair tokenize(CrossEncoder.TextPair pair) {
    return tokenizer.encodePair(pair.query(), pair.passage(), spec.maxTokens());
  }
}
