package dev.shoal.cli;

import dev.shoal.cli.internal.ClusterProcesses;
import dev.shoal.cluster.ClusterTimings;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.cluster.Epoch;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.ServiceProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code shoal cluster up|status|down}: a local cluster of separate JVM processes. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
    description = "Start, inspect and stop a local multi-process cluster.",
    subcommands = {ClusterCommand.Up.class, ClusterCommand.Status.class, ClusterCommand.Down.class})
final class ClusterCommand implements Runnable {

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  private static String local(int port) {
    return "127.0.0.1:" + port;
  }

  static final class DirOption {
    @Option(names = "--data-dir", defaultValue = ".shoal-data/cluster",
        description = "where the cluster keeps its state and logs (default: ${DEFAULT-VALUE})")
    Path dir;
  }

  /**
   * Starts, each in its own JVM: a broker (unless {@code --kafka}), the ranker, an enricher, two
   * shard managers, the index nodes and the query services; returns once every one is ready.
   */
  @Command(name = "up", mixinStandardHelpOptions = true, description = "Start a local cluster.")
  static final class Up implements Callable<Integer> {
    @Mixin
    DirOption dir;

    @Mixin
    ModelOptions model;

    @Option(names = "--nodes", defaultValue = "3", description = "index nodes (default: ${DEFAULT-VALUE})")
    int nodes;

    @Option(names = "--query-services", defaultValue = "2", description = "query services (default: ${DEFAULT-VALUE})")
    int queryServices;

    @Option(names = "--managers", defaultValue = "2", description = "shard managers: one leads (default: ${DEFAULT-VALUE})")
    int managers;

    @Option(names = "--kafka", description = "an existing Kafka (default: none, a local broker is started)")
    String kafka;

    @Option(names = "--shards", defaultValue = "4", description = "shards (default: ${DEFAULT-VALUE})")
    int shards;

    @Option(names = "--replicas", defaultValue = "2", description = "replicas per shard (default: ${DEFAULT-VALUE})")
    int replicas;

    @Override
    public Integer call() throws Exception {
      var existing = ClusterProcesses.load(dir.dir);
      if (existing.isPresent() && existing.get().services().stream().anyMatch(ClusterProcesses.Service::alive)) {
        System.err.println("a cluster is already running from " + dir.dir + ": bin/shoal cluster down first");
        return 1;
      }
      ClusterProcesses c = new ClusterProcesses(dir.dir);
      try {
        String bootstrap = kafka;
        if (bootstrap == null) {
          int port = ServiceProcess.freePort();
          int health = ServiceProcess.freePort();
          c.start("kafka", "-Xmx768m", List.of("kafka", "--data-dir", dir.dir.resolve("kafka").toString(), "--shards",
              Integer.toString(shards), "--port", Integer.toString(port), "--health-port", Integer.toString(health)),
              local(health), 120);
          bootstrap = EmbeddedKafka.bootstrapOf(dir.dir.resolve("kafka"));
        } else {
          ClusterTopics.ensure(bootstrap, shards, (short) 1);
        }
        c.bootstrap(bootstrap);
        List<String> modelArgs = model.asArguments();
        int rankerPort = ServiceProcess.freePort();
        List<String> rankerArgs = new ArrayList<>(List.of("ranker", "--port", Integer.toString(rankerPort)));
        rankerArgs.addAll(modelArgs);
        String ranker = c.start("ranker", "-Xmx1g", rankerArgs, local(rankerPort), 180).address();
        int enricherHealth = ServiceProcess.freePort();
        List<String> enricherArgs = new ArrayList<>(List.of("enricher", "--kafka", bootstrap, "--health-port",
            Integer.toString(enricherHealth)));
        enricherArgs.addAll(modelArgs);
        c.start("enricher", "-Xmx1g", enricherArgs, local(enricherHealth), 180);
        for (int i = 1; i <= managers; i++) {
          int health = ServiceProcess.freePort();
          c.start("manager-" + i, "-Xmx256m", List.of("manager", "--kafka", bootstrap, "--manager-id", "manager-" + i,
              "--shards", Integer.toString(shards), "--replicas", Integer.toString(replicas), "--health-port",
              Integer.toString(health)), local(health), 120);
        }
        for (int i = 1; i <= nodes; i++) {
          int port = ServiceProcess.freePort();
          c.start("node-" + i, "-Xmx1g", List.of("node", "--kafka", bootstrap, "--node-id", "node-" + i, "--data-dir",
              dir.dir.resolve("node-" + i).toString(), "--port", Integer.toString(port)), local(port), 120);
        }
        for (int i = 1; i <= queryServices; i++) {
          int grpc = ServiceProcess.freePort();
          int http = ServiceProcess.freePort();
          c.start("query-" + i, "-Xmx768m", List.of("query", "--kafka", bootstrap, "--ranker", ranker, "--grpc-port",
              Integer.toString(grpc), "--http-port", Integer.toString(http)), local(grpc), 120);
        }
      } catch (RuntimeException e) {
        System.err.println("cluster up failed: " + e.getMessage());
        c.stopAll(30, System.err);
        return 1;
      }
      System.out.println("cluster up (state and logs in " + dir.dir + "):");
      for (ClusterProcesses.Service s : c.services()) {
        System.out.printf("  %-10s pid %-8d %s%n", s.name(), s.pid(), s.address());
      }
      System.out.printf("index documents:  bin/shoal ingest testdata/scifact --kafka %s%n", c.bootstrap());
      System.out.println("see it:           bin/shoal cluster status");
      System.out.println("stop it:          bin/shoal cluster down");
      return 0;
    }
  }

  /** Processes, the routing table, and per node the shards with their state, lag and documents. */
  @Command(name = "status", mixinStandardHelpOptions = true, description = "Show the local cluster.")
  static final class Status implements Callable<Integer> {
    @Mixin
    DirOption dir;

    @Override
    public Integer call() throws Exception {
      var loaded = ClusterProcesses.load(dir.dir);
      if (loaded.isEmpty()) {
        System.err.println("no cluster recorded in " + dir.dir + " (bin/shoal cluster up starts one)");
        return 1;
      }
      ClusterProcesses c = loaded.get();
      System.out.println("processes:");
      for (ClusterProcesses.Service s : c.services()) {
        System.out.printf("  %-10s pid %-8d %-8s %s%n", s.name(), s.pid(), s.alive() ? "running" : "EXITED",
            s.address());
      }
      if (c.bootstrap() == null) {
        return 1;
      }
      long window = ClusterTimings.defaults().freshMillis();
      Map<String, NodeHeartbeat> beats = recentHeartbeats(c.bootstrap(), window);
      ShardAssignment a = latestAssignment(c.bootstrap());
      if (a == null) {
        System.out.println("no routing table yet");
        return 0;
      }
      System.out.printf("routing table: epoch %d (term %d, step %d) from %s%n", a.getEpoch(), Epoch.term(a.getEpoch()),
          Epoch.step(a.getEpoch()), a.getManagerId());
      System.out.println("shards:");
      for (ShardPlacement p : a.getPlacementsList()) {
        StringBuilder line = new StringBuilder(String.format("  shard %-3d", p.getShard()));
        for (Replica r : p.getReplicasList()) {
          line.append("  ").append(r.getNodeId()).append(':').append(describe(beats.get(r.getNodeId()), p.getShard()));
        }
        System.out.println(line);
      }
      System.out.println("nodes (heartbeats of the last " + window / 1000 + " s):");
      for (NodeHeartbeat hb : beats.values()) {
        StringBuilder line = new StringBuilder(String.format("  %-8s %-21s epoch %-12d load %-4.0f", hb.getNodeId(),
            hb.getAddress(), hb.getAssignmentEpoch(), hb.getLoad()));
        for (HostedShard h : hb.getShardsList()) {
          line.append(String.format("  shard %d %s lag %d docs %d", h.getShard(), h.getState(), h.getLag(),
              h.getDocCount()));
        }
        System.out.println(line);
      }
      return 0;
    }

    private static String describe(NodeHeartbeat hb, int shard) {
      if (hb == null) {
        return "SILENT";
      }
      for (HostedShard h : hb.getShardsList()) {
        if (h.getShard() == shard) {
          return h.getState() + "(lag " + h.getLag() + ", " + h.getDocCount() + " docs)";
        }
      }
      return "OPENING";
    }

    private static Map<String, NodeHeartbeat> recentHeartbeats(String bootstrap, long windowMs) throws Exception {
      Map<String, NodeHeartbeat> out = new TreeMap<>();
      readToEnd(bootstrap, Topics.HEARTBEATS, (consumer, tp) -> {
        OffsetAndTimestamp from = consumer.offsetsForTimes(Map.of(tp, System.currentTimeMillis() - windowMs)).get(tp);
        return from == null ? -1 : from.offset();
      }, bytes -> {
        NodeHeartbeat hb = NodeHeartbeat.parseFrom(bytes);
        out.put(hb.getNodeId(), hb);
      });
      return out;
    }

    private static ShardAssignment latestAssignment(String bootstrap) throws Exception {
      ShardAssignment[] latest = {null};
      readToEnd(bootstrap, Topics.ASSIGNMENTS, (consumer, tp) -> 0L, bytes -> {
        ShardAssignment a = ShardAssignment.parseFrom(bytes);
        if (latest[0] == null || a.getEpoch() > latest[0].getEpoch()) {
          latest[0] = a;
        }
      });
      return latest[0];
    }

    private interface RecordHandler {
      void accept(byte[] value) throws Exception;
    }

    /** Reads partition 0 of a topic from {@code start} (an offset, or -1 for nothing) to its current end. */
    private static void readToEnd(String bootstrap, String topic,
                                  java.util.function.BiFunction<KafkaConsumer<String, byte[]>, TopicPartition, Long> start,
                                  RecordHandler handler) throws Exception {
      try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaSettings.consumer(bootstrap, null))) {
        TopicPartition tp = new TopicPartition(topic, 0);
        consumer.assign(List.of(tp));
        long from = start.apply(consumer, tp);
        if (from < 0) {
          return;
        }
        consumer.seek(tp, from);
        long end = consumer.endOffsets(List.of(tp)).get(tp);
        while (consumer.position(tp) < end) {
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
            handler.accept(r.value());
          }
        }
      }
    }
  }

  /** Stops every process of the cluster, the query services first and the broker last. */
  @Command(name = "down", mixinStandardHelpOptions = true, description = "Stop the local cluster.")
  static final class Down implements Callable<Integer> {
    @Mixin
    DirOption dir;

    @Override
    public Integer call() throws Exception {
      var loaded = ClusterProcesses.load(dir.dir);
      if (loaded.isEmpty()) {
        System.out.println("no cluster recorded in " + dir.dir);
        return 0;
      }
      loaded.get().stopAll(30, System.out);
      System.out.println("cluster down");
      return 0;
    }
  }
}
