package dev.shoal.server.tls;

import java.nio.file.Path;

/**
 * Where one process's TLS material lies, as PEM files (what cert-manager and most CAs write). A
 * process has one identity, used by its servers and, where internal calls are mutual, presented
 * by its clients too; so the certificate should carry both the {@code serverAuth} and the
 * {@code clientAuth} extended key usage. Immutable; the files are read by {@link Tls#open}.
 *
 * @param certificate              the certificate chain this process presents (leaf first); null: none (a client of
 *                                 servers that do not ask for one)
 * @param privateKey               the certificate's key, PKCS#8 PEM ({@code BEGIN PRIVATE KEY}); null exactly when
 *                                 {@code certificate} is
 * @param trustedCa                the CA certificates peers are checked against (servers by clients; clients by
 *                                 servers that require them); null: the JDK's trust store, for clients only
 * @param requireClientCertificate whether this process's servers ask every client for a certificate signed by
 *                                 {@code trustedCa} and refuse the connection without one (mutual TLS)
 */
public record TlsFiles(Path certificate, Path privateKey, Path trustedCa, boolean requireClientCertificate) {

  public TlsFiles {
    if ((certificate == null) != (privateKey == null)) {
      throw new IllegalArgumentException("a TLS certificate needs its private key and a key its certificate: give "
          + "both (--tls-cert and --tls-key) or neither");
    }
    if (requireClientCertificate && trustedCa == null) {
      throw new IllegalArgumentException("requiring client certificates needs the CA they are checked against "
          + "(--tls-ca)");
    }
    if (requireClientCertificate && certificate == null) {
      throw new IllegalArgumentException("requiring client certificates is a server setting: it needs the server's "
          + "own certificate and key (--tls-cert, --tls-key)");
    }
  }

  /** A server that presents this certificate and asks clients for none. */
  public static TlsFiles server(Path certificate, Path privateKey) {
    return new TlsFiles(certificate, privateKey, null, false);
  }

  /**
   * Mutual TLS: servers present {@code certificate} and require clients' certificates signed by
   * {@code ca}; clients present {@code certificate} and check servers against {@code ca}.
   */
  public static TlsFiles mutual(Path certificate, Path privateKey, Path ca) {
    return new TlsFiles(certificate, privateKey, ca, true);
  }

  /** A client that checks servers against {@code ca} and presents no certificate of its own. */
  public static TlsFiles trusting(Path ca) {
    return new TlsFiles(null, null, ca, false);
  }

  /** The same files with servers' demand for client certificates turned on or off. */
  public TlsFiles withClientCertificatesRequired(boolean required) {
    return new TlsFiles(certificate, privateKey, trustedCa, required);
  }
}
