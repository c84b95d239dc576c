package dev.shoal.ranker;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.internal.v1.EmbedKind;
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.internal.v1.EmbedResponse;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.ranker.RankerService;
import dev.shoal.server.tls.Tls;
import io.grpc.ManagedChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An {@link Encoder} that calls a remote Ranker's {@code Embed}: how the enricher embeds when
 * the ranker runs in another process. Thread-safe (a gRPC channel is). Errors from the
 * ranker surface as {@link io.grpc.StatusRuntimeException}.
 */
public final class RemoteEncoder implements Encoder {

  private final ManagedChannel channel;
  private final RankerGrpc.RankerBlockingStub stub;
  private final ModelSpec spec;
  private final long timeoutMs;

  public RemoteEncoder(String target, ModelSpec spec, long timeoutMs) {
    this(target, spec, timeoutMs, Tls.plaintext());
  }

  /** @param tls how the ranker is reached (its CA, and this process's certificate where the ranker asks for one) */
  public RemoteEncoder(String target, ModelSpec spec, long timeoutMs, Tls tls) {
    this.channel = tls.channel(target).maxInboundMessageSize(64 << 20).build();
    this.stub = RankerGrpc.newBlockingStub(channel);
    this.spec = spec;
    this.timeoutMs = timeoutMs;
  }

  @Override
  public ModelSpec model() {
    return spec;
  }

  @Override
  public float[][] embed(List<String> texts, Kind kind) {
    EmbedResponse r = stub.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS).embed(EmbedRequest.newBuilder()
        .addAllTexts(texts).setKind(kind == Kind.QUERY ? EmbedKind.QUERY : EmbedKind.PASSAGE).build());
    if (!r.getModel().equals(spec.name())) {
      throw new IllegalStateException("ranker serves model " + r.getModel() + ", expected " + spec.name());
    }
    float[][] out = new float[r.getEmbeddingsCount()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = RankerService.toArray(r.getEmbeddings(i));
    }
    return out;
  }

  @Override
  public String backend() {
    return "remote ranker " + channel.authority();
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
