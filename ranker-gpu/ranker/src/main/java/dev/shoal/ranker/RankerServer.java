package dev.shoal.ranker;

import dev.shoal.server.GrpcService;
import dev.shoal.encoder.Encoder;
import io.grpc.BindableService;
import java.util.List;

/** The ranker's gRPC server: {@link RankerService} plus health and reflection. */
public final class RankerServer extends GrpcService {

  private final RankerService service;

  public RankerServer(String host, int port, Encoder encoder) {
    this(host, port, encoder, RankerService.QUERY_CACHE_SIZE);
  }

  public RankerServer(String host, int port, Encoder encoder, int queryCacheSize) {
    super(host, port);
    this.service = new RankerService(encoder, queryCacheSize);
  }

  @Override
  protected List<BindableService> services() {
    return List.of(service);
  }
}
