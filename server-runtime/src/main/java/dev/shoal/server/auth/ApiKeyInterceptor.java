package dev.shoal.server.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Map;

/**
 * Requires an API key ({@code authorization: Bearer <key>} metadata) on every gRPC call but
 * health checks and reflection, with the scope of the call's service: {@code shoal.v1.SearchService}
 * needs {@code search}, {@code shoal.v1.IngestService} {@code ingest}, anything else {@code admin}.
 * Failures are UNAUTHENTICATED (one message for every bad key) or PERMISSION_DENIED, before the
 * call's handler runs. Thread-safe.
 */
public final class ApiKeyInterceptor implements ServerInterceptor {

  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Map<String, Scope> BY_SERVICE = Map.of("shoal.v1.SearchService", Scope.SEARCH,
      "shoal.v1.IngestService", Scope.INGEST);

  private final Authenticator auth;

  private static final Context.Key<String> CALLER = Context.key("shoal-api-key-name");

  /** The name of the key the current call was allowed with; "" on a server without keys. */
  public static String caller() {
    String name = CALLER.get();
    return name == null ? "" : name;
  }

  public ApiKeyInterceptor(Authenticator auth) {
    this.auth = auth;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                    ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    if (service == null || service.equals("grpc.health.v1.Health") || service.startsWith("grpc.reflection.")) {
      return next.startCall(call, headers);
    }
    Scope needed = BY_SERVICE.getOrDefault(service, Scope.ADMIN);
    Authenticator.Decision d = auth.check(headers.get(AUTHORIZATION), needed);
    switch (d.outcome()) {
      case ALLOWED -> {
        return Contexts.interceptCall(Context.current().withValue(CALLER, d.keyName()), call, headers, next);
      }
      case UNAUTHENTICATED -> call.close(Status.UNAUTHENTICATED.withDescription(Authenticator.UNAUTHENTICATED_MESSAGE),
          new Metadata());
      case PERMISSION_DENIED -> call.close(Status.PERMISSION_DENIED.withDescription(
          Authenticator.permissionDenied(needed)), new Metadata());
    }
    return new ServerCall.Listener<>() { };
  }
}
