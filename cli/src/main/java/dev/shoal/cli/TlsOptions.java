package dev.shoal.cli;

import dev.shoal.server.tls.TlsFiles;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The TLS options of a service command, one identity per process (PEM files, re-read when they
 * change): none of them means plaintext. Servers present {@code --tls-cert}; with
 * {@code --tls-require-client-cert} they also demand a client certificate signed by
 * {@code --tls-ca}; clients check servers against {@code --tls-ca} and present {@code --tls-cert}.
 */
final class TlsOptions {

  @Option(names = "--tls-cert", description = "certificate chain (PEM) this process presents; default: plaintext")
  Path cert;

  @Option(names = "--tls-key", description = "the certificate's private key (PKCS#8 PEM); default: none")
  Path key;

  @Option(names = "--tls-ca", description = "CA certificates (PEM) peers are checked against; default: none")
  Path ca;

  @Option(names = "--tls-require-client-cert", description = "servers refuse clients without a certificate signed "
      + "by --tls-ca (mutual TLS; default: ${DEFAULT-VALUE})")
  boolean requireClientCert;

  /** The files, or null for plaintext. @throws IllegalArgumentException for an incomplete set */
  TlsFiles files() {
    if (cert == null && key == null && ca == null) {
      if (requireClientCert) {
        throw new IllegalArgumentException("--tls-require-client-cert needs --tls-cert, --tls-key and --tls-ca");
      }
      return null;
    }
    return new TlsFiles(cert, key, ca, requireClientCert);
  }
}
