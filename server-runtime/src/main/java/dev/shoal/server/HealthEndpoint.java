package dev.shoal.server;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * gRPC health (and reflection) for a process that serves nothing else over gRPC (an enricher, a
 * shard manager, a local broker), so orchestrators and {@code shoal cluster up} check every
 * service the same way. The whole-server status ("") follows {@code healthy}, polled every
 * 500 ms: SERVING while it holds, NOT_SERVING when it stops holding (a loop that died). Lifecycle:
 * {@link #start}, then {@link #close()}. Thread-safe.
 */
public final class HealthEndpoint implements AutoCloseable {

  private final GrpcServer server;
  private final ScheduledExecutorService poller;

  private HealthEndpoint(GrpcServer server, BooleanSupplier healthy) {
    this.server = server;
    this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "health");
      t.setDaemon(true);
      return t;
    });
    poller.scheduleWithFixedDelay(() -> server.setHealth("", healthy.getAsBoolean() ? ServingStatus.SERVING
        : ServingStatus.NOT_SERVING), 0, 500, TimeUnit.MILLISECONDS);
  }

  /** Binds {@code host:port} (0 = any free port). */
  public static HealthEndpoint start(String host, int port, BooleanSupplier healthy) {
    return new HealthEndpoint(GrpcServer.forAddress(host, port).start(), healthy);
  }

  public String address() {
    return server.address();
  }

  @Override
  public void close() {
    poller.shutdownNow();
    server.close();
  }
}
