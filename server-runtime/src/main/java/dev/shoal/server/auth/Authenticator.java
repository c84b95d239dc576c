package dev.shoal.server.auth;

import java.util.Optional;
import java.util.function.Supplier;

/**
 * Decides whether a request's {@code authorization} value may do what a scope covers. Missing,
 * malformed and unknown keys get one answer ({@link Outcome#UNAUTHENTICATED}, one message), so
 * a caller learns nothing about which part was wrong; a known key without the scope gets
 * {@link Outcome#PERMISSION_DENIED}. Thread-safe.
 */
public final class Authenticator {

  /** The answer for any key that is not a valid one: never says which part was wrong. */
  public static final String UNAUTHENTICATED_MESSAGE = "a valid API key is required: authorization: Bearer <key>";

  public enum Outcome { ALLOWED, UNAUTHENTICATED, PERMISSION_DENIED }

  /** The outcome, and for a known key its name (for logs). */
  public record Decision(Outcome outcome, String keyName) {
  }

  private final Supplier<ApiKeys> keys;

  public Authenticator(Supplier<ApiKeys> keys) {
    this.keys = keys;
  }

  public static Authenticator of(ApiKeyFile file) {
    return new Authenticator(file::keys);
  }

  public Decision check(String authorization, Scope needed) {
    String key = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
        ? authorization.substring(7).strip() : "";
    // an empty or malformed value is looked up too, so every failure takes the same path
    Optional<ApiKeys.Entry> e = keys.get().find(key);
    if (e.isEmpty() || key.isEmpty()) {
      return new Decision(Outcome.UNAUTHENTICATED, "");
    }
    return new Decision(e.get().scopes().contains(needed) ? Outcome.ALLOWED : Outcome.PERMISSION_DENIED,
        e.get().name());
  }

  public static String permissionDenied(Scope needed) {
    return "this API key does not have the '" + needed.label() + "' scope";
  }
}
