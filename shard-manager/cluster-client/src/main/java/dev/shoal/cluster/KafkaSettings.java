package dev.shoal.cluster;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Client settings every Shoal component uses, so that none forgets read_committed or acks=all,
 * and the one place Kafka's security settings enter every client of a process.
 *
 * <p>Security: the standard Kafka client settings ({@code security.protocol}, {@code ssl.*},
 * {@code sasl.*}) are read from the properties file named by the environment variable
 * {@value #CONFIG_ENV} (e.g. a mounted Secret), once, and added to every consumer, producer and
 * admin client of the process; a process that embeds a broker, or a test, registers them for one
 * bootstrap address with {@link #secure}. Any other key in the file is refused at start-up:
 * delivery settings (acks, isolation, idempotence) are Shoal's guarantees, not options.
 * Thread-safe.
 */
public final class KafkaSettings {

  /** The environment variable naming the Kafka client security properties file. */
  public static final String CONFIG_ENV = "SHOAL_KAFKA_CONFIG";
  private static final List<String> SECURITY_PREFIXES = List.of("security.protocol", "ssl.", "sasl.");
  private static final Map<String, Properties> BY_BOOTSTRAP = new ConcurrentHashMap<>();
  private static volatile Properties fromEnvironment;

  private KafkaSettings() {
  }

  /** Adds these security settings to every client of {@code bootstrap} made from now on in this process. */
  public static void secure(String bootstrap, Properties security) {
    BY_BOOTSTRAP.put(bootstrap, checked(security, "the security settings for " + bootstrap));
  }

  /**
   * The security settings in a properties file.
   *
   * @throws IllegalArgumentException naming a key that is not a security setting, or the file that cannot be read
   */
  public static Properties load(Path file) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the Kafka client security settings in " + file + " ("
          + CONFIG_ENV + "): " + e.getMessage(), e);
    }
    return checked(p, file.toString());
  }

  private static Properties checked(Properties p, String where) {
    for (String key : p.stringPropertyNames()) {
      if (SECURITY_PREFIXES.stream().noneMatch(key::startsWith)) {
        throw new IllegalArgumentException(where + " sets '" + key + "': only Kafka's security settings "
            + "(security.protocol, ssl.*, sasl.*) may be given; Shoal sets the rest");
      }
    }
    return p;
  }

  /** The security settings that apply to clients of {@code bootstrap}: registered, else from the environment. */
  static Properties security(String bootstrap) {
    Properties registered = BY_BOOTSTRAP.get(bootstrap);
    if (registered != null) {
      return registered;
    }
    Properties env = fromEnvironment;
    if (env == null) {
      String file = System.getenv(CONFIG_ENV);
      env = file == null || file.isBlank() ? new Properties() : load(Path.of(file));
      fromEnvironment = env;
    }
    return env;
  }

  /** Settings every client of {@code bootstrap} carries: the address and the security settings. */
  public static Properties common(String bootstrap) {
    Properties p = new Properties();
    p.putAll(security(bootstrap));
    p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    return p;
  }

  /** A consumer of String keys and byte values, reading only committed transactional data. */
  public static Properties consumer(String bootstrap, String groupId) {
    Properties p = common(bootstrap);
    if (groupId != null) {
      p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
    }
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    return p;
  }

  /** An idempotent producer of String keys and byte values, acks=all. */
  public static Properties producer(String bootstrap) {
    Properties p = common(bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    return p;
  }
}
