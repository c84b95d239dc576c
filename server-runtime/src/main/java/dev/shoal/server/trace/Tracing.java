package dev.shoal.server.trace;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.ServerInterceptor;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.ContextKey;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * Tracing with OpenTelemetry across Shoal's services: one search is one trace, from the query
 * service's front through every index node it calls and the ranker, with W3C trace context in
 * gRPC metadata. Spans go to whatever SDK the process installed as {@link GlobalOpenTelemetry}
 * (the command line installs one when the {@code OTEL_*} environment configures an exporter);
 * with none installed every call here is a no-op and nothing is propagated.
 *
 * <p>{@link #serverInterceptor()} is on every {@link dev.shoal.server.GrpcServer} and
 * {@link #clientInterceptor()} on every channel built by {@link dev.shoal.server.tls.Tls}, so
 * services need only make the right context current when they call out from another thread.
 *
 * <p>Stateless and thread-safe; the SDK is read at every call, so a test can install one late.
 */
public final class Tracing {
  /** The instrumentation scope of every Shoal span. */
  public static final String SCOPE = "dev.shoal";

  private static final ContextKey<Attributes> CALL_ATTRIBUTES = ContextKey.named("shoal.call.attributes");

  static final TextMapGetter<Metadata> METADATA_GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Metadata carrier) {
      return carrier.keys();
    }

    @Override
    public String get(Metadata carrier, String key) {
      return carrier == null ? null : carrier.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
    }
  };

  static final TextMapSetter<Metadata> METADATA_SETTER =
      (carrier, key, value) -> carrier.put(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER), value);

  private Tracing() {
  }

  public static Tracer tracer() {
    return GlobalOpenTelemetry.getTracer(SCOPE);
  }

  /** The installed SDK's propagator (W3C trace context); a no-op one when none is installed. */
  public static TextMapPropagator propagator() {
    return GlobalOpenTelemetry.getPropagators().getTextMapPropagator();
  }

  /** A SERVER span per call, parented by the caller's trace context and current while the handler runs. */
  public static ServerInterceptor serverInterceptor() {
    return new TracingServerInterceptor();
  }

  /** A CLIENT span per call, child of the current context, whose trace context goes out in the call's metadata. */
  public static ClientInterceptor clientInterceptor() {
    return new TracingClientInterceptor();
  }

  /**
   * {@code context} with attributes for the client spans of the calls started under it (e.g. the
   * shard and replica of a shard call).
   */
  public static Context withCallAttributes(Context context, Attributes attributes) {
    return context.with(CALL_ATTRIBUTES, attributes);
  }

  static Attributes callAttributes(Context context) {
    Attributes a = context.get(CALL_ATTRIBUTES);
    return a == null ? Attributes.empty() : a;
  }

  /** The current trace's id (32 hex digits), or "" when nothing is traced. */
  public static String traceId() {
    SpanContext c = Span.current().getSpanContext();
    return c.isValid() ? c.getTraceId() : "";
  }

  /**
   * Records a step that has just ended, after {@code elapsedNanos}, as a child span of the current
   * one (for steps timed as they ran, such as a search's stages). Nothing when nothing is traced.
   */
  public static void finished(String name, long elapsedNanos) {
    if (!Span.current().getSpanContext().isValid()) {
      return;
    }
    Instant now = Instant.now();
    long end = now.getEpochSecond() * 1_000_000_000L + now.getNano();
    tracer().spanBuilder(name).setStartTimestamp(end - elapsedNanos, TimeUnit.NANOSECONDS).startSpan()
        .end(end, TimeUnit.NANOSECONDS);
  }

  /**
   * {@code work} to run on another thread in the calling thread's contexts: gRPC's (deadline,
   * cancellation) and the trace's.
   */
  public static Runnable inCallContexts(Runnable work) {
    return io.grpc.Context.current().wrap(Context.current().wrap(work));
  }

  /** As {@link #inCallContexts(Runnable)}, for work with a result. */
  public static <T> Callable<T> inCallContexts(Callable<T> work) {
    return io.grpc.Context.current().wrap(Context.current().wrap(work));
  }
}
