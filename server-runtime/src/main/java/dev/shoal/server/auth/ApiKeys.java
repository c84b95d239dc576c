package dev.shoal.server.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A set of API keys, each stored as the SHA-256 of the key (never the key itself) with a name and
 * its scopes. The key file has one key per line, {@code name sha256-hex scope[,scope]}, and
 * {@code #} comments; {@link #line} writes such a line for a new key.
 *
 * <p>A presented key is hashed and compared with every entry in constant time
 * ({@link MessageDigest#isEqual}), all entries every time, so neither the answer's content nor
 * its timing says how close a guess was or which entry it resembled. Keys are random 256-bit
 * values ({@link #newKey}), so an unsalted fast hash is enough: there is nothing to brute-force
 * from a dictionary.
 *
 * <p>Immutable and safe for concurrent use.
 */
public final class ApiKeys {

  /** One key: its name (for logs and audit, never the key), its hash and what it may do. */
  public record Entry(String name, byte[] sha256, Set<Scope> scopes) {
    public Entry {
      sha256 = sha256.clone();
      scopes = Set.copyOf(scopes);
    }
  }

  private static final SecureRandom RANDOM = new SecureRandom();
  private final List<Entry> entries;

  private ApiKeys(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  public static final ApiKeys NONE = new ApiKeys(List.of());

  /** @throws IllegalArgumentException naming the line that is not {@code name sha256-hex scopes} */
  public static ApiKeys parse(List<String> lines) {
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.split("\\s+");
      if (f.length != 3 || !f[1].matches("[0-9a-fA-F]{64}")) {
        throw new IllegalArgumentException("key file line " + (i + 1) + ": expected 'name sha256-hex scope[,scope]'");
      }
      Set<Scope> scopes = EnumSet.noneOf(Scope.class);
      for (String s : f[2].split(",")) {
        scopes.add(Scope.parse(s));
      }
      out.add(new Entry(f[0], HexFormat.of().parseHex(f[1].toLowerCase()), scopes));
    }
    return new ApiKeys(out);
  }

  public int size() {
    return entries.size();
  }

  /** The entry of a presented key, looked up in constant time over all entries. */
  public Optional<Entry> find(String presented) {
    byte[] h = sha256(presented);
    Entry found = null;
    for (Entry e : entries) {
      if (MessageDigest.isEqual(e.sha256(), h) && found == null) {
        found = e;
      }
    }
    return Optional.ofNullable(found);
  }

  /** A new random key: "shoal_" and 43 URL-safe characters (256 bits). */
  public static String newKey() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return "shoal_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** The key file line for a key: its name, its hash, its scopes; the key itself is not in it. */
  public static String line(String name, String key, Set<Scope> scopes) {
    if (!name.matches("[A-Za-z0-9_.@-]{1,64}")) {
      throw new IllegalArgumentException("key name must be 1-64 of [A-Za-z0-9_.@-], got '" + name + "'");
    }
    if (scopes.isEmpty()) {
      throw new IllegalArgumentException("a key needs at least one scope (search, ingest, admin)");
    }
    return name + " " + HexFormat.of().formatHex(sha256(key)) + " "
        + String.join(",", scopes.stream().sorted().map(Scope::label).toList());
  }

  static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }
}
