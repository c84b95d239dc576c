package dev.shoal.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.server.time.ManualClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Key files: hashed entries, lookups, scopes, and revocation without a restart. */
class ApiKeysTest {

  @Test
  void aKeyFileHoldsHashesNeverKeysAndFindsEachKeyWithItsScopes() {
    String search = ApiKeys.newKey();
    String both = ApiKeys.newKey();
    assertNotEquals(search, both);
    assertTrue(search.matches("shoal_[A-Za-z0-9_-]{43}"), search);
    String l1 = ApiKeys.line("web", search, Set.of(Scope.SEARCH));
    String l2 = ApiKeys.line("ops", both, EnumSet.of(Scope.INGEST, Scope.ADMIN));
    assertFalse(l1.contains(search.substring(6)), "the file line holds the hash, not the key: " + l1);
    ApiKeys keys = ApiKeys.parse(List.of("# keys", "", l1, l2));
    assertEquals(2, keys.size());
    assertEquals("web", keys.find(search).orElseThrow().name());
    assertEquals(Set.of(Scope.SEARCH), keys.find(search).orElseThrow().scopes());
    assertEquals(Set.of(Scope.INGEST, Scope.ADMIN), keys.find(both).orElseThrow().scopes());
    assertTrue(keys.find(search + "x").isEmpty());
    assertTrue(keys.find("").isEmpty());
  }

  @Test
  void aMalformedLineIsRefusedByNumberWithoutEchoingIt() {
    String secret = ApiKeys.newKey();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiKeys.parse(List.of("# ok", "web " + secret + " search")));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    assertFalse(e.getMessage().contains(secret), "a key pasted by mistake is not logged");
    assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(List.of("web " + "a".repeat(64) + " root")));
  }

  @Test
  void authenticatorGivesOneAnswerForEveryBadKeyAndSaysWhichScopeIsMissing() {
    String key = ApiKeys.newKey();
    Authenticator auth = new Authenticator(() -> ApiKeys.parse(List.of(ApiKeys.line("web", key, Set.of(Scope.SEARCH)))));
    assertEquals(Authenticator.Outcome.ALLOWED, auth.check("Bearer " + key, Scope.SEARCH).outcome());
    assertEquals(Authenticator.Outcome.ALLOWED, auth.check("bearer " + key, Scope.SEARCH).outcome());
    for (String bad : new String[] {null, "", "Bearer ", "Bearer wrong", key, "Basic " + key}) {
      assertEquals(Authenticator.Outcome.UNAUTHENTICATED, auth.check(bad, Scope.SEARCH).outcome(), "" + bad);
    }
    Authenticator.Decision denied = auth.check("Bearer " + key, Scope.INGEST);
    assertEquals(Authenticator.Outcome.PERMISSION_DENIED, denied.outcome());
    assertEquals("web", denied.keyName());
  }

  @Test
  void aRevokedKeyStopsWorkingWithinTheCheckIntervalAndABrokenFileKeepsTheKeys(@TempDir Path dir) throws Exception {
    String a = ApiKeys.newKey();
    String b = ApiKeys.newKey();
    Path file = dir.resolve("keys");
    Files.write(file, List.of(ApiKeys.line("a", a, Set.of(Scope.SEARCH)), ApiKeys.line("b", b, Set.of(Scope.SEARCH))));
    ManualClock clock = new ManualClock();
    ApiKeyFile keys = new ApiKeyFile(file, clock);
    assertTrue(keys.keys().find(a).isPresent());

    Files.write(file, List.of(ApiKeys.line("b", b, Set.of(Scope.SEARCH)))); // a revoked
    clock.advanceMillis(ApiKeyFile.CHECK_INTERVAL_MS);
    assertTrue(keys.keys().find(a).isEmpty(), "revoked within the check interval, no restart");
    assertTrue(keys.keys().find(b).isPresent());

    Files.write(file, List.of("this is not a key line"));
    clock.advanceMillis(ApiKeyFile.CHECK_INTERVAL_MS);
    assertTrue(keys.keys().find(b).isPresent(), "a broken file keeps the keys read before");

    assertThrows(IllegalArgumentException.class, () -> new ApiKeyFile(file, clock), "at start a broken file is an error");
  }
}
