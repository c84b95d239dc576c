package dev.shoal.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;

/**
 * A real single-node Kafka broker (KRaft, combined broker + controller) in this JVM, built
 * from Kafka's own server classes. The log directory and the ports survive restarts (the
 * controller's address is part of the formatted voter set), so a second start reuses the
 * topics and offsets. Not thread-safe; start once, close once.
 */
public final class EmbeddedKafka implements AutoCloseable {

  private final Path dir;
  private final int firstPort;
  private KafkaRaftServer server;
  private int brokerPort;
  private boolean scram;
  private int scramPort;

  public EmbeddedKafka(Path dir) {
    this(dir, 0);
  }

  /** @param firstPort the broker's port when the directory is new (0 = any free port); later starts keep theirs */
  public EmbeddedKafka(Path dir, int firstPort) {
    this.dir = dir;
    this.firstPort = firstPort;
  }

  /**
   * Also listen for SASL/SCRAM-SHA-512 clients (SASL_PLAINTEXT) on a second port, beside the
   * plaintext one the broker and its admin use; users are added with {@link #addScramUser}.
   */
  public EmbeddedKafka withScramListener() {
    this.scram = true;
    return this;
  }

  public EmbeddedKafka start() {
    try {
      Files.createDirectories(dir);
      Path portsFile = dir.resolve("ports.properties");
      Properties ports = new Properties();
      if (Files.exists(portsFile)) {
        try (Reader r = Files.newBufferedReader(portsFile)) {
          ports.load(r);
        }
      } else {
        int[] free = freePorts(3);
        ports.setProperty("broker", Integer.toString(firstPort > 0 ? firstPort : free[0]));
        ports.setProperty("controller", Integer.toString(free[1] == firstPort ? free[0] : free[1]));
        ports.setProperty("scram", Integer.toString(free[2] == firstPort ? free[0] : free[2]));
        try (Writer w = Files.newBufferedWriter(portsFile)) {
          ports.store(w, "ports of the embedded broker; the controller's is part of the formatted metadata");
        }
      }
      brokerPort = Integer.parseInt(ports.getProperty("broker"));
      int controllerPort = Integer.parseInt(ports.getProperty("controller"));
      scramPort = Integer.parseInt(ports.getProperty("scram", "0"));
      Path logs = dir.resolve("logs");
      Properties p = new Properties();
      p.put("process.roles", "broker,controller");
      p.put("node.id", "1");
      String sasl = scram ? ",SASL_PLAINTEXT://127.0.0.1:" + scramPort : "";
      p.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + sasl + ",CONTROLLER://127.0.0.1:" + controllerPort);
      p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + sasl);
      p.put("controller.listener.names", "CONTROLLER");
      p.put("inter.broker.listener.name", "PLAINTEXT");
      p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
          + (scram ? ",SASL_PLAINTEXT:SASL_PLAINTEXT" : ""));
      if (scram) {
        p.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
        p.put("listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required;");
      }
      p.put("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
      p.put("log.dirs", logs.toString());
      p.put("offsets.topic.replication.factor", "1");
      p.put("offsets.topic.num.partitions", "4");
      p.put("transaction.state.log.replication.factor", "1");
      p.put("transaction.state.log.min.isr", "1");
      p.put("transaction.state.log.num.partitions", "4");
      p.put("share.coordinator.state.topic.replication.factor", "1");
      p.put("share.coordinator.state.topic.min.isr", "1");
      p.put("group.initial.rebalance.delay.ms", "0");
      p.put("auto.create.topics.enable", "false");
      p.put("log.cleaner.dedupe.buffer.size", Integer.toString(8 << 20));
      p.put("message.max.bytes", Integer.toString(16 << 20));
      if (!Files.exists(logs.resolve("meta.properties"))) {
        format(p);
      }
      server = new KafkaRaftServer(KafkaConfig.fromProps(p, false), Time.SYSTEM);
      server.startup();
      awaitReady();
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the embedded Kafka broker in " + dir, e);
    }
  }

  private void format(Properties p) throws IOException {
    Path config = dir.resolve("server.properties");
    try (Writer w = Files.newBufferedWriter(config)) {
      p.store(w, "embedded Shoal broker");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int rc = StorageTool.execute(new String[] {"format", "-t", Uuid.randomUuid().toString(), "-c", config.toString(),
        "--standalone"}, new PrintStream(out, true, StandardCharsets.UTF_8));
    if (rc != 0) {
      throw new IOException("formatting Kafka storage failed: " + out.toString(StandardCharsets.UTF_8));
    }
  }

  private void awaitReady() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
    try (Admin admin = Admin.create(p)) {
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        try {
          if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
            return;
          }
        } catch (Exception e) {
          if (System.nanoTime() > until) {
            throw new IllegalStateException("embedded Kafka did not become ready in 60 s", e);
          }
        }
        Thread.sleep(100);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public String bootstrap() {
    return "127.0.0.1:" + brokerPort;
  }

  /** The SASL/SCRAM listener's address ({@link #withScramListener()}). */
  public String scramBootstrap() {
    if (!scram || scramPort == 0) {
      throw new IllegalStateException("this broker has no SCRAM listener: start it withScramListener()");
    }
    return "127.0.0.1:" + scramPort;
  }

  /** Adds (or replaces) a SCRAM-SHA-512 user, through the plaintext listener. */
  public void addScramUser(String user, String password) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
    try (Admin admin = Admin.create(p)) {
      admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user,
          new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password))).all().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("cannot add the SCRAM user " + user, e);
    }
  }

  /** The bootstrap address of the broker whose state is in {@code dir} (once it has started there). */
  public static String bootstrapOf(Path dir) {
    Properties ports = new Properties();
    try (Reader r = Files.newBufferedReader(dir.resolve("ports.properties"))) {
      ports.load(r);
    } catch (IOException e) {
      throw new UncheckedIOException("no broker has started in " + dir, e);
    }
    return "127.0.0.1:" + ports.getProperty("broker");
  }

  /**
   * {@code n} distinct free ports: every socket stays open until all are taken, since a port
   * closed and asked for again may come back (a broker and controller on one port was seen in CI).
   */
  private static int[] freePorts(int n) throws IOException {
    ServerSocket[] sockets = new ServerSocket[n];
    try {
      int[] out = new int[n];
      for (int i = 0; i < n; i++) {
        sockets[i] = new ServerSocket(0);
        out[i] = sockets[i].getLocalPort();
      }
      return out;
    } finally {
      for (ServerSocket s : sockets) {
        if (s != null) {
          s.close();
        }
      }
    }
  }

  @Override
  public void close() {
    if (server != null) {
      server.shutdown();
      server.awaitShutdown();
      server = null;
    }
  }
}
