package dev.shoal.server;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Lifecycle of one gRPC server: start, report health, drain, stop. Every Shoal server
 * registers {@code grpc.health.v1.Health} and server reflection v1 here, so no subclass can
 * forget them.
 *
 * <p>Subclasses supply the services ({@link #services()}); {@link #start()} binds the port,
 * {@link #close()} marks the server NOT_SERVING, lets in-flight calls finish for the drain
 * period, then stops it. Thread-safe: health may be set from any thread.
 */
public abstract class GrpcService implements AutoCloseable {

  private final String host;
  private final int requestedPort;
  private final HealthStatusManager health = new HealthStatusManager();
  private Server server;
  private EventLoopGroup bossGroup;
  private EventLoopGroup workerGroup;

  protected GrpcService(String host, int port) {
    this.host = host;
    this.requestedPort = port;
  }

  /** The services to serve; called once, from {@link #start()}. */
  protected abstract List<BindableService> services();

  /** The largest request accepted, in bytes. */
  protected int maxInboundMessageBytes() {
    return 16 << 20;
  }

  /**
   * Whether calls run on the transport's event-loop threads instead of being handed to an
   * executor. Saves a thread hand-off per call (measurable at sub-millisecond service times);
   * only for servers whose handlers never block (no waiting on other calls, locks or sleeps).
   */
  protected boolean handlersNeverBlock() {
    return false;
  }

  public synchronized GrpcService start() {
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(host, requestedPort))
        .maxInboundMessageSize(maxInboundMessageBytes());
    if (handlersNeverBlock()) {
      // own event loops: calls run on them, so they must not be shared with other servers' and
      // clients' I/O in the same process (a demo or test runs every service in one JVM)
      int threads = Runtime.getRuntime().availableProcessors();
      bossGroup = new NioEventLoopGroup(1);
      workerGroup = new NioEventLoopGroup(threads);
      b.directExecutor().bossEventLoopGroup(bossGroup).workerEventLoopGroup(workerGroup)
          .channelType(NioServerSocketChannel.class);
    }
    b.addService(health.getHealthService()).addService(ProtoReflectionServiceV1.newInstance());
    for (BindableService s : services()) {
      b.addService(s);
    }
    try {
      server = b.build().start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind gRPC server on " + host + ":" + requestedPort, e);
    }
    for (BindableService s : services()) {
      health.setStatus(s.bindService().getServiceDescriptor().getName(), ServingStatus.SERVING);
    }
    health.setStatus("", ServingStatus.SERVING);
    return this;
  }

  /** Sets the health of a named service ("" is the whole server). */
  public void setHealth(String service, ServingStatus status) {
    health.setStatus(service, status);
  }

  public int port() {
    return server.getPort();
  }

  public String address() {
    return host + ":" + port();
  }

  @Override
  public synchronized void close() {
    if (server == null) {
      return;
    }
    health.enterTerminalState();
    server.shutdown();
    try {
      if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
        server.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
    for (EventLoopGroup g : new EventLoopGroup[] {workerGroup, bossGroup}) {
      if (g != null) {
        g.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }
  }
}
