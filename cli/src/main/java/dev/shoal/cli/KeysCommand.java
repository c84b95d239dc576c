package dev.shoal.cli;

import dev.shoal.server.auth.ApiKeys;
import dev.shoal.server.auth.Scope;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code shoal keys}: API key files for {@code shoal query --api-keys}. A new key is printed once;
 * the file keeps only its hash, so a lost key is revoked (its line removed) and a new one added.
 */
@Command(name = "keys", mixinStandardHelpOptions = true, description = "Manage API key files.",
    subcommands = {KeysCommand.Add.class, KeysCommand.Revoke.class})
final class KeysCommand {

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Make a key, append its hash to the key file, print the key (only this once).")
  static final class Add implements Callable<Integer> {
    @Parameters(index = "0", description = "the key's name, [A-Za-z0-9_.@-], unique in the file")
    String name;

    @Option(names = "--scope", required = true, split = ",", description = "search, ingest, admin (comma-separated)")
    List<String> scopes;

    @Option(names = "--file", required = true, description = "the key file (created if absent)")
    Path file;

    @Override
    public Integer call() throws Exception {
      Set<Scope> s = EnumSet.noneOf(Scope.class);
      scopes.forEach(x -> s.add(Scope.parse(x)));
      if (Files.exists(file)) {
        for (String line : Files.readAllLines(file)) {
          if (line.strip().startsWith(name + " ")) {
            System.err.println("key file " + file + " already has a key named '" + name + "'");
            return 2;
          }
        }
      }
      String key = ApiKeys.newKey();
      String line = ApiKeys.line(name, key, s);
      ApiKeys.parse(List.of(line));
      Files.writeString(file, line + System.lineSeparator(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      System.out.println(key);
      return 0;
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true,
      description = "Remove a key by name; running servers stop accepting it within a second.")
  static final class Revoke implements Callable<Integer> {
    @Parameters(index = "0", description = "the key's name")
    String name;

    @Option(names = "--file", required = true, description = "the key file")
    Path file;

    @Override
    public Integer call() throws Exception {
      List<String> lines = Files.readAllLines(file);
      List<String> kept = lines.stream().filter(l -> !l.strip().startsWith(name + " ")).toList();
      if (kept.size() == lines.size()) {
        System.err.println("no key named '" + name + "' in " + file);
        return 2;
      }
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.write(tmp, kept);
      Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      System.out.println("revoked " + name);
      return 0;
    }
  }
}
