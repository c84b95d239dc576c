package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.shoal.cluster.ClusterTopics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * The Kubernetes manifests in {@code deploy/k8s}, as {@code kubectl kustomize} renders each
 * overlay, against the code they run: every container's arguments parse as the {@code shoal}
 * command they name (an option that does not exist, or a required one left out, fails here);
 * every port an argument opens is a container port and every container port one an argument
 * opens; probes and scrape annotations point at those ports; every ConfigMap key a container
 * reads exists and every key is read; images, resources and probes are set everywhere; the
 * KafkaTopics are the topics {@link ClusterTopics} creates, with their partition counts,
 * replication and cleanup policies; prod's ranker asks for a GPU and its internal services for
 * client certificates.
 */
class KubernetesManifestsTest {

  private static final Path K8S = Path.of(System.getProperty("shoal.repo.root", ".."), "deploy", "k8s");
  private static final Pattern VAR = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");
  private static final Set<String> PORT_OPTIONS = Set.of("--port", "--grpc-port", "--http-port", "--metrics-port",
      "--health-port");
  private static final Map<String, List<JsonNode>> RENDERED = new HashMap<>();

  private static synchronized List<JsonNode> render(String overlay) throws Exception {
    if (RENDERED.containsKey(overlay)) {
      return RENDERED.get(overlay);
    }
    Path kubectl = null;
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path p = Path.of(dir, "kubectl");
      if (Files.isExecutable(p)) {
        kubectl = p;
        break;
      }
    }
    Assumptions.assumeTrue(kubectl != null, "kubectl is not on PATH: the manifests are not rendered or checked here "
        + "(install kubectl, which bundles kustomize, to check them)");
    Process p = new ProcessBuilder(kubectl.toString(), "kustomize", K8S.resolve("overlays").resolve(overlay).toString())
        .redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize finished");
    assertEquals(0, p.exitValue(), "kubectl kustomize " + overlay + ": " + new String(out, StandardCharsets.UTF_8));
    List<JsonNode> docs = new ArrayList<>();
    try (MappingIterator<JsonNode> it = new YAMLMapper().readerFor(JsonNode.class).readValues(out)) {
      while (it.hasNext()) {
        JsonNode n = it.next();
        if (n != null && !n.isEmpty()) {
          docs.add(n);
        }
      }
    }
    assertFalse(docs.isEmpty(), overlay + " renders to nothing");
    RENDERED.put(overlay, docs);
    return docs;
  }

  private static List<JsonNode> kind(List<JsonNode> docs, String kind) {
    return docs.stream().filter(d -> d.path("kind").asText().equals(kind)).toList();
  }

  private static JsonNode named(List<JsonNode> docs, String kind, String name) {
    return kind(docs, kind).stream().filter(d -> d.path("metadata").path("name").asText().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
  }

  private static List<JsonNode> workloads(List<JsonNode> docs) {
    List<JsonNode> w = new ArrayList<>(kind(docs, "Deployment"));
    w.addAll(kind(docs, "StatefulSet"));
    return w;
  }

  private static Map<String, String> config(List<JsonNode> docs) {
    Map<String, String> c = new TreeMap<>();
    named(docs, "ConfigMap", "shoal-config").path("data").fields().forEachRemaining(e -> c.put(e.getKey(),
        e.getValue().asText()));
    return c;
  }

  /** A container's arguments with each $(VAR) replaced by what the pod would give it. */
  private static List<String> resolvedArgs(List<JsonNode> docs, String where, JsonNode container) {
    Map<String, String> env = new HashMap<>();
    for (JsonNode e : container.path("env")) {
      String name = e.path("name").asText();
      if (e.has("value")) {
        env.put(name, e.path("value").asText());
      } else if (e.path("valueFrom").has("configMapKeyRef")) {
        JsonNode ref = e.path("valueFrom").path("configMapKeyRef");
        JsonNode cm = named(docs, "ConfigMap", ref.path("name").asText());
        JsonNode value = cm.path("data").get(ref.path("key").asText());
        assertNotNull(value, where + " reads " + ref + ", which the ConfigMap does not hold");
        env.put(name, value.asText());
      } else if (e.path("valueFrom").has("fieldRef")) {
        env.put(name, "shoal-field-" + name.toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
      } else {
        throw new AssertionError(where + ": env " + name + " has a source this test does not know: " + e);
      }
    }
    List<String> out = new ArrayList<>();
    for (JsonNode a : container.path("args")) {
      Matcher m = VAR.matcher(a.asText());
      StringBuilder sb = new StringBuilder();
      while (m.find()) {
        String v = env.get(m.group(1));
        assertNotNull(v, where + ": argument " + a.asText() + " uses $(" + m.group(1) + "), which no env defines");
        m.appendReplacement(sb, Matcher.quoteReplacement(v));
      }
      m.appendTail(sb);
      out.add(sb.toString());
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"dev", "prod"})
  void everyContainerRunsARealCommandWithItsPortsProbesImageAndResources(String overlay) throws Exception {
    List<JsonNode> docs = render(overlay);
    List<JsonNode> ws = workloads(docs);
    assertEquals(5, ws.size(), "index node, enricher, ranker, query service, manager");
    for (JsonNode w : ws) {
      JsonNode pod = w.path("spec").path("template");
      for (JsonNode c : pod.path("spec").path("containers")) {
        String where = overlay + " " + w.path("metadata").path("name").asText() + "/" + c.path("name").asText();
        assertFalse(c.path("image").asText().isBlank(), where + " has an image");
        for (String r : List.of("requests/cpu", "requests/memory", "limits/memory")) {
          String[] path = r.split("/");
          assertFalse(c.path("resources").path(path[0]).path(path[1]).asText().isBlank(), where + " sets " + r);
        }
        assertTrue(c.has("readinessProbe") && c.has("livenessProbe"), where + " has readiness and liveness probes");

        List<String> args = resolvedArgs(docs, where, c);
        CommandLine.ParseResult parsed;
        try {
          parsed = new CommandLine(new Shoal()).parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
          throw new AssertionError(where + ": its arguments are not a valid shoal command: " + e.getMessage()
              + " in " + args, e);
        }
        CommandLine.ParseResult sub = parsed.subcommand();
        assertNotNull(sub, where + " names a shoal command: " + args);
        Set<Integer> opened = new TreeSet<>();
        for (String option : PORT_OPTIONS) {
          if (sub.hasMatchedOption(option)) {
            int port = sub.matchedOptionValue(option, -1);
            assertTrue(port > 0, where + ": " + option + " is a fixed port in a container, got " + port);
            opened.add(port);
          }
        }
        Set<Integer> declared = new TreeSet<>();
        for (JsonNode p : c.path("ports")) {
          declared.add(p.path("containerPort").asInt());
        }
        assertEquals(opened, declared, where + ": the ports its arguments open are its container ports");
        assertTrue(sub.hasMatchedOption("--health-port"), where + " serves plaintext health for its probes");
        int health = sub.matchedOptionValue("--health-port", -1);
        assertEquals(health, c.path("readinessProbe").path("grpc").path("port").asInt(),
            where + ": readiness is the gRPC health on --health-port");
        for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
          JsonNode pr = c.path(probe);
          if (pr.isMissingNode()) {
            continue;
          }
          int port = pr.path("grpc").path("port").asInt(pr.path("tcpSocket").path("port").asInt(
              pr.path("httpGet").path("port").asInt(-1)));
          assertTrue(declared.contains(port), where + ": " + probe + " probes port " + port + ", not one it opens");
        }
        assertEquals("0.0.0.0", sub.matchedOptionValue("--host", "127.0.0.1"),
            where + " binds all interfaces (a container's loopback is unreachable to probes and peers)");
        JsonNode ann = pod.path("metadata").path("annotations");
        if (ann.path("prometheus.io/scrape").asText().equals("true")) {
          int scrape = ann.path("prometheus.io/port").asInt();
          int metrics = sub.matchedOptionValue(sub.hasMatchedOption("--metrics-port") ? "--metrics-port"
              : "--http-port", -1);
          assertEquals(metrics, scrape, where + ": Prometheus scrapes the port serving /metrics");
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"dev", "prod"})
  void everyConfigurationKeyIsReadAndEveryKeyReadExists(String overlay) throws Exception {
    List<JsonNode> docs = render(overlay);
    Set<String> read = new TreeSet<>();
    for (JsonNode w : workloads(docs)) {
      for (JsonNode c : w.path("spec").path("template").path("spec").path("containers")) {
        for (JsonNode e : c.path("env")) {
          JsonNode ref = e.path("valueFrom").path("configMapKeyRef");
          if (!ref.isMissingNode()) {
            assertEquals("shoal-config", ref.path("name").asText());
            assertTrue(config(docs).containsKey(ref.path("key").asText()), overlay + ": "
                + w.path("metadata").path("name").asText() + " reads " + ref.path("key").asText()
                + ", which shoal-config does not hold");
            read.add(ref.path("key").asText());
          }
        }
      }
    }
    assertEquals(config(docs).keySet(), read, overlay + ": every key of shoal-config is read by some container");
  }

  @ParameterizedTest
  @ValueSource(strings = {"dev", "prod"})
  void theKafkaTopicsAreTheOnesTheCodeUsesWithTheirPartitionsReplicationAndPolicies(String overlay)
      throws Exception {
    List<JsonNode> docs = render(overlay);
    Map<String, String> cfg = config(docs);
    int shards = Integer.parseInt(cfg.get("SHOAL_SHARDS"));
    short replication = Short.parseShort(cfg.get("SHOAL_TOPIC_REPLICAS"));
    Map<String, JsonNode> declared = new TreeMap<>();
    for (JsonNode t : kind(docs, "KafkaTopic")) {
      declared.put(t.path("spec").path("topicName").asText(), t.path("spec"));
      assertEquals("shoal-kafka", t.path("metadata").path("labels").path("strimzi.io/cluster").asText());
    }
    Map<String, NewTopic> expected = new TreeMap<>();
    for (NewTopic t : ClusterTopics.topics(shards, replication)) {
      expected.put(t.name(), t);
    }
    assertEquals(expected.keySet(), declared.keySet(), overlay + ": the topics declared are those the code uses");
    for (NewTopic t : expected.values()) {
      JsonNode spec = declared.get(t.name());
      assertEquals(t.numPartitions(), spec.path("partitions").asInt(), overlay + " " + t.name() + " partitions");
      assertEquals(t.replicationFactor(), spec.path("replicas").asInt(), overlay + " " + t.name() + " replicas");
      Map<String, String> configs = new TreeMap<>();
      spec.path("config").fields().forEachRemaining(e -> configs.put(e.getKey(), e.getValue().asText()));
      Map<String, String> want = new TreeMap<>(t.configs() == null ? Map.of() : t.configs());
      assertEquals(want, configs, overlay + " " + t.name() + " configuration (cleanup policy, retention, size)");
    }
    int enrichers = named(docs, "Deployment", "shoal-enricher").path("spec").path("replicas").asInt();
    assertTrue(enrichers <= shards, overlay + ": " + enrichers + " enrichers for " + shards + " partitions: "
        + "at most one per partition does work");
  }

  @ParameterizedTest
  @ValueSource(strings = {"dev", "prod"})
  void indexNodesKeepTheirNamesAndDisksAndEveryServiceHasABudgetForDisruptions(String overlay) throws Exception {
    List<JsonNode> docs = render(overlay);
    JsonNode nodes = named(docs, "StatefulSet", "shoal-node");
    JsonNode headless = named(docs, "Service", nodes.path("spec").path("serviceName").asText());
    assertEquals("None", headless.path("spec").path("clusterIP").asText(), "the node Service is headless");
    assertFalse(nodes.path("spec").path("volumeClaimTemplates").isEmpty(), "each node pod has its own volume");
    JsonNode c = nodes.path("spec").path("template").path("spec").path("containers").get(0);
    List<String> args = resolvedArgs(docs, "shoal-node", c);
    assertTrue(args.contains("--node-id=shoal-field-pod-name"), "node id from the pod's name (its ordinal): " + args);
    assertTrue(args.stream().anyMatch(a -> a.startsWith("--advertise-host=shoal-field-pod-name."
        + headless.path("metadata").path("name").asText() + ".")), "advertised by its headless DNS name: " + args);
    assertTrue(args.contains("--zone=shoal-field-node-zone"), "zone from the pod's topology label: " + args);
    assertEquals(dev.shoal.manager.ShardManager.ZONE_LABEL, dev.shoal.indexnode.IndexNode.ZONE_LABEL,
        "the node labels its zone as placement reads it");
    Set<String> budgeted = new HashSet<>();
    for (JsonNode pdb : kind(docs, "PodDisruptionBudget")) {
      budgeted.add(pdb.path("spec").path("selector").path("matchLabels").path("app.kubernetes.io/name").asText());
    }
    for (JsonNode w : workloads(docs)) {
      String app = w.path("spec").path("selector").path("matchLabels").path("app.kubernetes.io/name").asText();
      assertTrue(budgeted.contains(app), overlay + ": " + app + " has a PodDisruptionBudget");
    }
    JsonNode hpa = named(docs, "HorizontalPodAutoscaler", "shoal-query");
    assertEquals("shoal-query", hpa.path("spec").path("scaleTargetRef").path("name").asText());
    assertEquals(2, named(docs, "Deployment", "shoal-manager").path("spec").path("replicas").asInt(),
        "two shard managers: one leads, one stands by");
  }

  @Test
  void prodRunsKafkaOnThreeKraftNodesTheRankerOnAGpuAndServicesBehindTlsAndKeys() throws Exception {
    List<JsonNode> prod = render("prod");
    JsonNode pool = named(prod, "KafkaNodePool", "dual-role");
    assertEquals(3, pool.path("spec").path("replicas").asInt(), "three Kafka nodes");
    assertEquals(Set.of("controller", "broker"), new HashSet<>(List.of(pool.path("spec").path("roles").get(0).asText(),
        pool.path("spec").path("roles").get(1).asText())), "KRaft: the nodes are controllers and brokers");
    assertEquals("enabled", named(prod, "Kafka", "shoal-kafka").path("metadata").path("annotations")
        .path("strimzi.io/kraft").asText());
    JsonNode ranker = named(prod, "Deployment", "shoal-ranker").path("spec").path("template").path("spec")
        .path("containers").get(0);
    assertEquals(1, ranker.path("resources").path("limits").path("nvidia.com/gpu").asInt(), "prod ranker: a GPU");
    assertTrue(ranker.path("image").asText().contains("cuda"), "prod ranker: the CUDA image");
    JsonNode devRanker = named(render("dev"), "Deployment", "shoal-ranker").path("spec").path("template")
        .path("spec").path("containers").get(0);
    assertTrue(devRanker.path("resources").path("limits").path("nvidia.com/gpu").isMissingNode(), "dev: CPU ranker");
    for (String internal : List.of("shoal-node", "shoal-ranker")) {
      JsonNode w = internal.equals("shoal-node") ? named(prod, "StatefulSet", internal)
          : named(prod, "Deployment", internal);
      List<String> args = resolvedArgs(prod, internal, w.path("spec").path("template").path("spec")
          .path("containers").get(0));
      assertTrue(args.contains("--tls-require-client-cert"), internal + " requires client certificates: " + args);
    }
    JsonNode query = named(prod, "Deployment", "shoal-query").path("spec").path("template").path("spec");
    List<String> args = resolvedArgs(prod, "shoal-query", query.path("containers").get(0));
    assertTrue(args.stream().anyMatch(a -> a.startsWith("--api-keys=")), "prod query: API keys: " + args);
    assertTrue(args.contains("--log-query-text=false"), "prod keeps query text out of logs: " + args);
    Set<String> secrets = new HashSet<>();
    query.path("volumes").forEach(v -> secrets.add(v.path("secret").path("secretName").asText()));
    assertTrue(secrets.containsAll(Set.of("shoal-tls", "shoal-api-keys", "shoal-kafka-client")),
        "TLS material, keys and Kafka credentials come from Secrets: " + secrets);
    assertEquals("shoal-tls", named(prod, "Certificate", "shoal-tls").path("spec").path("secretName").asText());
  }
}
