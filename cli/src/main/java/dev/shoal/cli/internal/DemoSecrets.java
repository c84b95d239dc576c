package dev.shoal.cli.internal;

import dev.shoal.server.auth.ApiKeys;
import dev.shoal.server.auth.Scope;
import dev.shoal.server.tls.TlsFiles;
import dev.shoal.testkit.CertificateAuthority;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What {@code shoal demo --secure} runs on, under {@code <data-dir>/secure/}: a CA certificate,
 * one server certificate and key (naming localhost, 127.0.0.1 and the bind host) that every
 * service presents, one API key per scope (each file holds just the key), and the hashed key file
 * the query service checks. Kept between runs, so saved keys keep working; made anew when any file
 * is missing. The CA's own key is never written: nothing else is issued from it.
 *
 * @param ca         the CA certificate clients trust ({@code curl --cacert})
 * @param tls        every service's identity and the CA, mutual between services
 * @param apiKeyFile the hashed keys the query service accepts
 * @param keyFiles   per scope, a file holding that scope's key
 */
public record DemoSecrets(Path ca, TlsFiles tls, Path apiKeyFile, Map<Scope, Path> keyFiles) {

  /** Reads or creates the files under {@code dir} for a demo bound to {@code host}. */
  public static DemoSecrets under(Path dir, String host) {
    Path ca = dir.resolve("ca.crt");
    Path cert = dir.resolve("server.crt");
    Path key = dir.resolve("server.key");
    Path apiKeys = dir.resolve("api-keys");
    Map<Scope, Path> keyFiles = new EnumMap<>(Scope.class);
    for (Scope s : Scope.values()) {
      keyFiles.put(s, dir.resolve(s.name().toLowerCase(java.util.Locale.ROOT) + ".key"));
    }
    DemoSecrets secrets = new DemoSecrets(ca, TlsFiles.mutual(cert, key, ca), apiKeys, keyFiles);
    List<Path> all = new ArrayList<>(List.of(ca, cert, key, apiKeys));
    all.addAll(keyFiles.values());
    if (!all.stream().allMatch(Files::isRegularFile)) {
      secrets.create(host);
    }
    return secrets;
  }

  private void create(String host) {
    CertificateAuthority authority = CertificateAuthority.create("Shoal demo CA");
    authority.writeCertificate(ca);
    List<String> names = new ArrayList<>(List.of("localhost", "127.0.0.1"));
    if (!names.contains(host)) {
      names.add(host);
    }
    authority.issue("shoal-demo", names, tls.certificate(), tls.privateKey());
    List<String> lines = new ArrayList<>();
    for (var e : keyFiles.entrySet()) {
      String k = ApiKeys.newKey();
      CertificateAuthority.writeAtomically(e.getValue(), k + "\n", true);
      lines.add(ApiKeys.line("demo-" + e.getKey().name().toLowerCase(java.util.Locale.ROOT), k, Set.of(e.getKey())));
    }
    CertificateAuthority.writeAtomically(apiKeyFile, String.join("\n", lines) + "\n", true);
  }

  /** The key of {@code scope}, as its file holds it. */
  public String key(Scope scope) {
    try {
      return Files.readString(keyFiles.get(scope), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
