package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.server.auth.ApiKeys;
import dev.shoal.server.auth.Scope;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code shoal keys add / revoke} on a real key file, read back by the servers' own parser. */
class KeysCommandTest {

  private static String run(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, new CommandLine(new Shoal()).execute(args), String.join(" ", args));
    } finally {
      System.setOut(old);
    }
    return out.toString(StandardCharsets.UTF_8).strip();
  }

  @Test
  void addPrintsTheKeyOnceStoresItsHashAndRevokeRemovesIt(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("keys.txt");
    String web = run("keys", "add", "web", "--scope", "search", "--file", file.toString());
    String ops = run("keys", "add", "ops", "--scope", "ingest,admin", "--file", file.toString());
    String text = Files.readString(file);
    assertFalse(text.contains(web) || text.contains(ops), "the file holds hashes, not keys: " + text);
    ApiKeys keys = ApiKeys.parse(Files.readAllLines(file));
    assertEquals(Set.of(Scope.SEARCH), keys.find(web).orElseThrow().scopes());
    assertEquals(Set.of(Scope.INGEST, Scope.ADMIN), keys.find(ops).orElseThrow().scopes());
    assertEquals(2, new CommandLine(new Shoal()).execute("keys", "add", "web", "--scope", "search", "--file",
        file.toString()), "a second key with the same name is refused");

    run("keys", "revoke", "web", "--file", file.toString());
    ApiKeys after = ApiKeys.parse(Files.readAllLines(file));
    assertTrue(after.find(web).isEmpty());
    assertTrue(after.find(ops).isPresent());
  }
}
