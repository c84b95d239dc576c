package dev.shoal.server.tls;

import dev.shoal.server.trace.Tracing;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager.Verification;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.grpc.util.CertificateUtils;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transport security of one process's servers and clients: plaintext, or TLS from
 * {@link TlsFiles} that are re-read when they change. Every gRPC server, gRPC channel and Jetty
 * connector of Shoal is built from one of these, so plaintext and TLS take the same code path.
 *
 * <p>Reload: every {@value #RELOAD_SECONDS} s one shared daemon thread compares the files'
 * modification times and sizes and, when one changed, reads them again; new connections then
 * present and check the new material, open ones keep theirs. Nothing is installed unless all the
 * files parse and the key belongs to the certificate: a half-written file or a rotation caught
 * between two renames is logged once and the previous material stays in use until the next round
 * (so write new files beside the old and rename them over, as Kubernetes does with mounted
 * Secrets). gRPC's own file watching is not used: it re-reads at most once a minute. {@link #open} reads the files once before it
 * returns, so a wrong path or a bad key fails at start-up, not at the first call.
 *
 * <p>Hostnames: clients check that the server's certificate names the host they dialled (its
 * subject alternative names), as HTTPS does; servers check a client's certificate against the CA
 * only, since a client's certificate names a workload, not an address.
 *
 * <p>Thread-safe. Lifecycle: {@link #close()} stops the reloads (connections made stay usable).
 */
public final class Tls implements AutoCloseable {

  /** How often the files' modification times are compared, in seconds. */
  public static final int RELOAD_SECONDS = 1;

  private static final Logger LOG = LoggerFactory.getLogger(Tls.class);
  private static final Tls PLAINTEXT = new Tls(null, null, null, null, false);
  private static final ScheduledExecutorService RELOADER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "tls-reload");
    t.setDaemon(true);
    return t;
  });

  private final TlsFiles files;
  private final AdvancedTlsX509KeyManager identity;
  private final AdvancedTlsX509TrustManager serverSideTrust;
  private final AdvancedTlsX509TrustManager clientSideTrust;
  private final boolean requireClientCertificate;
  private final Reload reload = new Reload();
  private ScheduledFuture<?> schedule;

  private Tls(TlsFiles files, AdvancedTlsX509KeyManager identity, AdvancedTlsX509TrustManager serverSideTrust,
              AdvancedTlsX509TrustManager clientSideTrust, boolean requireClientCertificate) {
    this.files = files;
    this.identity = identity;
    this.serverSideTrust = serverSideTrust;
    this.clientSideTrust = clientSideTrust;
    this.requireClientCertificate = requireClientCertificate;
  }

  /** No encryption: what a laptop demo and the tests of everything else use. Never closed. */
  public static Tls plaintext() {
    return PLAINTEXT;
  }

  /** {@link #plaintext()} for null, else {@link #open(TlsFiles)}. */
  public static Tls of(TlsFiles files) {
    return files == null ? PLAINTEXT : open(files);
  }

  /**
   * Reads the files now and watches them from then on.
   *
   * @throws IllegalArgumentException naming the file that is missing or does not parse
   */
  public static Tls open(TlsFiles files) {
    AdvancedTlsX509KeyManager identity = files.certificate() == null ? null : new AdvancedTlsX509KeyManager();
    AdvancedTlsX509TrustManager serverSide = null;
    AdvancedTlsX509TrustManager clientSide = null;
    try {
      if (files.trustedCa() != null) {
        serverSide = AdvancedTlsX509TrustManager.newBuilder()
            .setVerification(Verification.CERTIFICATE_ONLY_VERIFICATION).build();
        clientSide = AdvancedTlsX509TrustManager.newBuilder()
            .setVerification(Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION).build();
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK's trust manager is unavailable", e);
    }
    Tls tls = new Tls(files, identity, serverSide, clientSide, files.requireClientCertificate());
    tls.reload.run();
    if (tls.reload.loaded == null) {
      throw new IllegalArgumentException(tls.reload.lastError);
    }
    tls.schedule = RELOADER.scheduleWithFixedDelay(tls.reload, RELOAD_SECONDS, RELOAD_SECONDS, TimeUnit.SECONDS);
    return tls;
  }

  /**
   * Reads the files when their modification times or sizes changed since the last read, and
   * installs what they hold only when all of it parses and the key belongs to the certificate, so
   * a rotation caught between two renames keeps the previous material for one more round.
   */
  private final class Reload implements Runnable {
    private volatile List<Long> loaded;
    private volatile String lastError;

    @Override
    public void run() {
      List<Path> paths = new ArrayList<>();
      if (identity != null) {
        paths.add(files.certificate());
        paths.add(files.privateKey());
      }
      if (files.trustedCa() != null) {
        paths.add(files.trustedCa());
      }
      List<Long> stamps = new ArrayList<>();
      try {
        for (Path p : paths) {
          stamps.add(Files.getLastModifiedTime(p).toMillis());
          stamps.add(Files.size(p));
        }
        if (stamps.equals(loaded)) {
          return;
        }
        X509Certificate[] chain = null;
        PrivateKey key = null;
        if (identity != null) {
          chain = certificates(files.certificate());
          key = privateKey(files.privateKey());
          if (!belongsTo(key, chain[0])) {
            throw new GeneralSecurityException("the key in " + files.privateKey() + " does not belong to the "
                + "certificate in " + files.certificate());
          }
        }
        X509Certificate[] cas = files.trustedCa() == null ? null : certificates(files.trustedCa());
        if (identity != null) {
          identity.updateIdentityCredentials(chain, key);
        }
        if (cas != null) {
          serverSideTrust.updateTrustCredentials(cas);
          clientSideTrust.updateTrustCredentials(cas);
        }
        if (loaded != null) {
          LOG.info("TLS material re-read from {}", paths);
        }
        loaded = stamps;
      } catch (IOException | GeneralSecurityException | RuntimeException e) {
        String message = "cannot read the TLS files " + paths + ": " + e;
        if (!message.equals(lastError) && loaded != null) {
          LOG.warn("{}; the previous certificates stay in use", message);
        }
        lastError = message;
      }
    }
  }

  private static X509Certificate[] certificates(Path pem) throws IOException, GeneralSecurityException {
    try (InputStream in = Files.newInputStream(pem)) {
      X509Certificate[] certs = CertificateUtils.getX509Certificates(in);
      if (certs.length == 0) {
        throw new GeneralSecurityException(pem + " holds no PEM certificate");
      }
      return certs;
    }
  }

  private static PrivateKey privateKey(Path pem) throws IOException, GeneralSecurityException {
    try (InputStream in = Files.newInputStream(pem)) {
      PrivateKey key = CertificateUtils.getPrivateKey(in);
      if (key == null) {
        throw new GeneralSecurityException(pem + " holds no PKCS#8 PEM key (BEGIN PRIVATE KEY); convert one with "
            + "openssl pkcs8 -topk8 -nocrypt");
      }
      return key;
    } catch (IllegalArgumentException e) {
      throw new GeneralSecurityException(pem + ": " + e.getMessage(), e);
    }
  }

  /** Whether {@code key} signs what the certificate's public key verifies. */
  private static boolean belongsTo(PrivateKey key, X509Certificate cert) throws GeneralSecurityException {
    String algorithm = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> null;
    };
    if (algorithm == null) {
      return key.getAlgorithm().equals(cert.getPublicKey().getAlgorithm());
    }
    byte[] challenge = new byte[32];
    new SecureRandom().nextBytes(challenge);
    Signature signer = Signature.getInstance(algorithm);
    signer.initSign(key);
    signer.update(challenge);
    byte[] signature = signer.sign();
    Signature verifier = Signature.getInstance(algorithm);
    verifier.initVerify(cert.getPublicKey());
    verifier.update(challenge);
    return verifier.verify(signature);
  }

  public boolean enabled() {
    return this != PLAINTEXT;
  }

  /** The files this was opened from; null for plaintext. */
  public TlsFiles files() {
    return files;
  }

  /** "https" or "http": the scheme of this process's HTTP servers. */
  public String httpScheme() {
    return enabled() ? "https" : "http";
  }

  /**
   * What a gRPC server is built with: its certificate, and clients' certificates required and
   * checked against the CA where {@link TlsFiles#requireClientCertificate()} says so.
   *
   * @throws IllegalStateException when these files hold no certificate of this process's own
   */
  public ServerCredentials serverCredentials() {
    if (!enabled()) {
      return InsecureServerCredentials.create();
    }
    requireIdentity();
    TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder().keyManager(identity);
    if (serverSideTrust != null) {
      b.trustManager(serverSideTrust);
    }
    b.clientAuth(requireClientCertificate ? TlsServerCredentials.ClientAuth.REQUIRE
        : TlsServerCredentials.ClientAuth.NONE);
    return b.build();
  }

  /** What a gRPC channel is built with: servers checked against the CA, this process's certificate presented. */
  public ChannelCredentials channelCredentials() {
    if (!enabled()) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
    if (identity != null) {
      b.keyManager(identity);
    }
    if (clientSideTrust != null) {
      b.trustManager(clientSideTrust);
    }
    return b.build();
  }

  /** A channel builder for {@code target} (host:port) with {@link #channelCredentials()}. */
  public ManagedChannelBuilder<?> channel(String target) {
    return Grpc.newChannelBuilder(target, channelCredentials()).intercept(Tracing.clientInterceptor());
  }

  /**
   * The connection factories of a Jetty connector: HTTP/1.1 and cleartext HTTP/2 for plaintext;
   * for TLS, TLS with ALPN choosing HTTP/2 or HTTP/1.1. Clients' certificates are asked for only
   * where {@link TlsFiles#requireClientCertificate()} says so, as for gRPC.
   */
  public ConnectionFactory[] jettyConnectionFactories(HttpConfiguration config) {
    if (!enabled()) {
      return new ConnectionFactory[] {new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config)};
    }
    requireIdentity();
    // the certificate names the service, not necessarily the name a client dialled through a proxy
    config.addCustomizer(new SecureRequestCustomizer(false));
    SslContextFactory.Server ssl = new SslContextFactory.Server();
    ssl.setSslContext(sslContext());
    ssl.setNeedClientAuth(requireClientCertificate);
    HttpConnectionFactory http1 = new HttpConnectionFactory(config);
    HTTP2ServerConnectionFactory http2 = new HTTP2ServerConnectionFactory(config);
    ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory(http2.getProtocol(), http1.getProtocol());
    alpn.setDefaultProtocol(http1.getProtocol());
    return new ConnectionFactory[] {new SslConnectionFactory(ssl, alpn.getProtocol()), alpn, http2, http1};
  }

  private SSLContext sslContext() {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[] {identity},
          serverSideTrust == null ? null : new TrustManager[] {serverSideTrust}, new SecureRandom());
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK offers no TLS", e);
    }
  }

  private void requireIdentity() {
    if (identity == null) {
      throw new IllegalStateException("a TLS server needs a certificate and key of its own (--tls-cert, --tls-key); "
          + "these TLS settings hold only a CA to check servers against");
    }
  }

  @Override
  public void close() {
    if (schedule != null) {
      schedule.cancel(false);
    }
  }
}
