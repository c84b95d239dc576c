package dev.shoal.cli.internal;

import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.util.Map;

/**
 * Installs the OpenTelemetry SDK for a {@code shoal} process when, and only when, the standard
 * {@code OTEL_*} environment asks for traces: {@code OTEL_EXPORTER_OTLP_ENDPOINT} or
 * {@code OTEL_EXPORTER_OTLP_TRACES_ENDPOINT} set, or {@code OTEL_TRACES_EXPORTER} set to anything
 * but {@code none}. Everything else comes from the SDK's own autoconfiguration (sampler, headers,
 * protocol, resource), with two defaults of Shoal's: the service name is {@code shoal-<command>},
 * and metrics and logs are not exported (metrics are scraped from {@code /metrics}). Without
 * those variables nothing is installed and tracing costs nothing.
 */
public final class TracingSetup {

  private TracingSetup() {
  }

  /** Whether this environment asks for traces. */
  static boolean requested(Map<String, String> env) {
    String exporter = env.getOrDefault("OTEL_TRACES_EXPORTER", "");
    return !exporter.isBlank() && !exporter.equals("none")
        || exporter.isBlank() && (env.containsKey("OTEL_EXPORTER_OTLP_ENDPOINT")
        || env.containsKey("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
  }

  /** Installs the SDK as the global OpenTelemetry if the environment asks for traces; flushed at exit. */
  public static void installFromEnvironment(String command) {
    if (!requested(System.getenv())) {
      return;
    }
    AutoConfiguredOpenTelemetrySdk.builder()
        .addPropertiesSupplier(() -> Map.of("otel.service.name", "shoal-" + command,
            "otel.metrics.exporter", "none", "otel.logs.exporter", "none"))
        .setResultAsGlobal().build();
  }
}
