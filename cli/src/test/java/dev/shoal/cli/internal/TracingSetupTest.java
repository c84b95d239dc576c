package dev.shoal.cli.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TracingSetupTest {

  @Test
  void tracingIsOffUnlessTheEnvironmentConfiguresAnExporter() {
    assertFalse(TracingSetup.requested(Map.of()));
    assertFalse(TracingSetup.requested(Map.of("OTEL_SERVICE_NAME", "x", "OTEL_TRACES_SAMPLER", "always_on")));
    assertFalse(TracingSetup.requested(Map.of("OTEL_TRACES_EXPORTER", "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")), "an explicit none wins");
    assertTrue(TracingSetup.requested(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")));
    assertTrue(TracingSetup.requested(Map.of("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces")));
    assertTrue(TracingSetup.requested(Map.of("OTEL_TRACES_EXPORTER", "otlp")));
    assertTrue(TracingSetup.requested(Map.of("OTEL_TRACES_EXPORTER", "console")));
  }
}
