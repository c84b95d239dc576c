package dev.shoal.server;

import dev.shoal.server.tls.Tls;
import dev.shoal.server.trace.Tracing;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One gRPC server of a Shoal process: the services it is given, plus {@code grpc.health.v1.Health}
 * and server reflection v1, always, so no server can forget them. Built by composition
 * ({@link #forAddress}), as grpc-java's own {@link HealthStatusManager} is used.
 *
 * <p>Callers in the same JVM may reach it without a socket: it also serves, in-process, under its
 * address ({@link Colocated}), with the same services, interceptors and executor (a call from one
 * of {@link Colocated#callerThreads}'s threads runs on that thread instead).
 *
 * <p>Lifecycle: {@link Builder#start()} binds the port and marks every service SERVING (a
 * service may then be marked otherwise, e.g. an index node until its shards are LIVE);
 * {@link #close()} marks the server NOT_SERVING, lets in-flight calls finish for up to 2 s, then
 * stops it. Thread-safe: health may be set from any thread.
 */
public final class GrpcServer implements AutoCloseable {

  /** The largest request a server accepts unless told otherwise, in bytes. */
  public static final int DEFAULT_MAX_INBOUND_BYTES = 16 << 20;

  private final String host;
  private final HealthStatusManager health = new HealthStatusManager();
  private final Server server;
  private final Server inProcess;
  private final EventLoopGroup bossGroup;
  private final EventLoopGroup workerGroup;

  /** What to serve and how. Not thread-safe. */
  public static final class Builder {
    private final String host;
    private final int port;
    private final List<BindableService> services = new ArrayList<>();
    private int maxInboundBytes = DEFAULT_MAX_INBOUND_BYTES;
    private boolean ownEventLoops;
    private java.util.concurrent.Executor executor;
    private final List<io.grpc.ServerInterceptor> interceptors = new ArrayList<>();
    private Tls tls = Tls.plaintext();

    private Builder(String host, int port) {
      this.host = host;
      this.port = port;
    }

    public Builder service(BindableService s) {
      services.add(s);
      return this;
    }

    public Builder services(List<? extends BindableService> s) {
      services.addAll(s);
      return this;
    }

    public Builder maxInboundMessageBytes(int bytes) {
      this.maxInboundBytes = bytes;
      return this;
    }

    /**
     * Calls run on the server's own transport event loops instead of being handed to an executor.
     * Saves a thread hand-off per call (measurable at sub-millisecond service times); only for
     * servers whose handlers never block (no waiting on other calls, locks or sleeps). The loops
     * are the server's own, never shared with other servers' and clients' I/O in the same
     * process (a demo or test runs every service in one JVM).
     */
    public Builder handlersNeverBlock() {
      this.ownEventLoops = true;
      return this;
    }

    /**
     * Calls run on this executor (the caller's to shut down after the server), so a slow call
     * never holds up the transport's event loops, the health checks they carry, or other calls.
     */
    public Builder executor(java.util.concurrent.Executor e) {
      this.executor = e;
      return this;
    }

    /**
     * Every call passes this interceptor (e.g. API keys), in the order they were added; health
     * checks included, for it to let through.
     */
    public Builder interceptor(io.grpc.ServerInterceptor i) {
      interceptors.add(i);
      return this;
    }

    /**
     * Records {@code grpc_server_*} metrics of every call in {@code m}, before any interceptor
     * (so refused calls are counted with their code).
     */
    public Builder metrics(Metrics m) {
      interceptors.addFirst(new GrpcServerMetrics(m));
      return this;
    }

    /** TLS (and client certificates where its files say so) instead of plaintext; the caller closes it after the server. */
    public Builder tls(Tls t) {
      this.tls = t;
      return this;
    }

    public GrpcServer start() {
      return new GrpcServer(this);
    }
  }

  public static Builder forAddress(String host, int port) {
    return new Builder(host, port);
  }

  private GrpcServer(Builder b) {
    this.host = b.host;
    NettyServerBuilder nb = NettyServerBuilder.forAddress(new InetSocketAddress(b.host, b.port), b.tls.serverCredentials())
        .maxInboundMessageSize(b.maxInboundBytes);
    if (b.ownEventLoops) {
      bossGroup = new NioEventLoopGroup(1);
      workerGroup = new NioEventLoopGroup(Runtime.getRuntime().availableProcessors());
      nb.directExecutor().bossEventLoopGroup(bossGroup).workerEventLoopGroup(workerGroup)
          .channelType(NioServerSocketChannel.class);
    } else {
      bossGroup = null;
      workerGroup = null;
    }
    List<String> names = new ArrayList<>();
    configure(nb, b, names);
    try {
      server = nb.build().start();
    } catch (IOException e) {
      shutdownLoops();
      throw new UncheckedIOException("cannot bind gRPC server on " + b.host + ":" + b.port, e);
    }
    // the same services for callers in this JVM (Colocated), named after the address it just bound
    InProcessServerBuilder ib = InProcessServerBuilder.forName(Colocated.name(address()))
        .maxInboundMessageSize(b.maxInboundBytes);
    configure(ib, b, new ArrayList<>());
    // after configure, replacing the plain executor it set: in-process calls may run on their caller
    if (b.ownEventLoops) {
      ib.directExecutor();
    } else if (b.executor != null) {
      ib.executor(Colocated.serverExecutor(b.executor));
    }
    try {
      inProcess = ib.build().start();
    } catch (IOException e) {
      server.shutdownNow();
      shutdownLoops();
      throw new UncheckedIOException("cannot serve " + address() + " in-process (another server of this JVM still "
          + "holds its name)", e);
    }
    Colocated.serving(address());
    names.forEach(n -> health.setStatus(n, ServingStatus.SERVING));
    health.setStatus("", ServingStatus.SERVING);
  }

  /** The builder's executor, interceptors and services, with health and reflection, on one transport's server. */
  private void configure(ServerBuilder<?> sb, Builder b, List<String> names) {
    if (b.executor != null) {
      sb.executor(b.executor);
    }
    // gRPC runs the interceptor added last first; the trace span opens before anything can refuse
    b.interceptors.reversed().forEach(sb::intercept);
    sb.intercept(Tracing.serverInterceptor());
    sb.addService(health.getHealthService()).addService(ProtoReflectionServiceV1.newInstance());
    for (BindableService s : b.services) {
      var definition = s.bindService();
      sb.addService(definition);
      names.add(definition.getServiceDescriptor().getName());
    }
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
    if (server.isShutdown()) {
      return;
    }
    health.enterTerminalState();
    Colocated.stopped(address());
    server.shutdown();
    inProcess.shutdown();
    try {
      for (Server s : new Server[] {server, inProcess}) {
        if (!s.awaitTermination(2, TimeUnit.SECONDS)) {
          s.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      inProcess.shutdownNow();
      Thread.currentThread().interrupt();
    }
    shutdownLoops();
  }

  private void shutdownLoops() {
    for (EventLoopGroup g : new EventLoopGroup[] {workerGroup, bossGroup}) {
      if (g != null) {
        g.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }
  }
}
