package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.server.GrpcServer;
import dev.shoal.server.auth.ApiKeys;
import dev.shoal.server.auth.Scope;
import dev.shoal.server.tls.Tls;
import dev.shoal.server.tls.TlsFiles;
import dev.shoal.testkit.CertificateAuthority;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.LocalCluster;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on every server, mutual TLS between services, and certificates that rotate without a
 * restart, against real services: a query service, an index node and a ranker in one cluster on
 * an embedded broker, with certificates from a throwaway CA.
 */
class TransportSecurityIT {

  @TempDir
  Path dir;

  @Test
  void aSecuredClusterAnswersOverTlsWithAKeyAndItsServicesRefuseEveryoneWithoutTheirCertificates()
      throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("it CA");
    Path caFile = ca.writeCertificate(dir.resolve("ca.crt"));
    var server = ca.issue("shoal", List.of("localhost", "127.0.0.1"), dir.resolve("s.crt"), dir.resolve("s.key"));
    CertificateAuthority stranger = CertificateAuthority.create("another CA");
    var foreign = stranger.issue("intruder", List.of("localhost"), dir.resolve("f.crt"), dir.resolve("f.key"));
    String searchKey = ApiKeys.newKey();
    Path keys = dir.resolve("api-keys");
    Files.write(keys, List.of(ApiKeys.line("web", searchKey, Set.of(Scope.SEARCH))));

    BeirDataset scifact = new BeirDataset(Path.of(System.getProperty("shoal.repo.root", ".."), "testdata",
        "scifact"));
    List<BeirDataset.Doc> docs = scifact.docs().subList(0, 60);
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(dir.resolve("cluster"), null, 2,
        ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(64), "127.0.0.1", 0, 0, 0, 2)
        .secured(TlsFiles.mutual(server.certificate(), server.privateKey(), caFile), keys)).start()) {
      try (DocumentProducer p = new DocumentProducer(cluster.bootstrap())) {
        docs.forEach(d -> p.send(d.document()));
        p.flush();
      }
      assertTrue(ClusterView.await(() -> cluster.searchableDocs() == docs.size() && cluster.caughtUp(), 120_000),
          "every document indexed and routed: " + cluster.searchableDocs());
      String front = "127.0.0.1:" + cluster.grpcPort();

      try (Tls client = Tls.open(TlsFiles.trusting(caFile))) {
        ManagedChannel ch = client.channel(front).build();
        try {
          // NEURAL: the query service calls the ranker (embedding, rescoring) and every index node, each over mTLS
          SearchResponse r = SearchServiceGrpc.newBlockingStub(ch).withInterceptors(bearer(searchKey))
              .withDeadlineAfter(20, TimeUnit.SECONDS).search(SearchRequest.newBuilder()
                  .setQuery(docs.get(7).title()).setProfile(RankProfile.NEURAL).setTopK(3).build());
          assertFalse(r.getPartial(), "every shard answered over mutual TLS");
          assertFalse(r.getDegraded(), "the ranker answered over mutual TLS: " + r.getDegradedReason());
          assertEquals(2, r.getShardsAnswered());
          assertEquals(docs.get(7).id(), r.getHits(0).getId());
          StatusRuntimeException keyless = assertThrows(StatusRuntimeException.class, () ->
              SearchServiceGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
                  .search(SearchRequest.newBuilder().setQuery("cell").build()));
          assertEquals(Status.Code.UNAUTHENTICATED, keyless.getStatus().getCode());
        } finally {
          ch.shutdownNow();
        }
      }
      assertRefused(Tls.plaintext(), front, "plaintext to the TLS-only query service");

      for (String internal : List.of(cluster.indexNode().address(), cluster.rankerAddress())) {
        assertRefused(Tls.plaintext(), internal, "plaintext to " + internal);
        try (Tls noCertificate = Tls.open(TlsFiles.trusting(caFile));
             Tls wrongCa = Tls.open(new TlsFiles(foreign.certificate(), foreign.privateKey(), caFile, false));
             Tls member = Tls.open(TlsFiles.mutual(server.certificate(), server.privateKey(), caFile))) {
          assertRefused(noCertificate, internal, "a client without a certificate to " + internal);
          assertRefused(wrongCa, internal, "a client whose certificate another CA signed to " + internal);
          assertEquals(ServingStatus.SERVING, health(member, internal),
              "a client with the cluster's certificate reaches " + internal);
        }
      }

      HttpClient https = HttpClient.newBuilder().sslContext(trusting(caFile)).connectTimeout(Duration.ofSeconds(5))
          .build();
      String q = "/v1/search?profile=bm25&k=3&q=" + java.net.URLEncoder.encode(docs.get(7).title(),
          java.nio.charset.StandardCharsets.UTF_8);
      HttpResponse<String> ok = https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
          + cluster.httpPort() + q)).header("authorization", "Bearer " + searchKey).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ok.statusCode(), ok.body());
      assertTrue(ok.body().contains("\"" + docs.get(7).id() + "\""), ok.body());
      assertEquals(200, https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + cluster.httpPort()
          + "/healthz")).build(), HttpResponse.BodyHandlers.ofString()).statusCode(), "health needs no key");
      try (HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
        HttpResponse<String> answer = plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + cluster.httpPort() + q)).timeout(Duration.ofSeconds(10)).header("authorization", "Bearer " + searchKey)
            .build(), HttpResponse.BodyHandlers.ofString());
        assertNotEquals(200, answer.statusCode(), "plain HTTP got an answer from the TLS port: " + answer.body());
      } catch (IOException refused) {
        // the TLS port closed the plaintext connection: what is expected
      }
    }
  }

  @Test
  void rotatedCertificateAndCaFilesAreServedWithoutARestart() throws Exception {
    CertificateAuthority first = CertificateAuthority.create("first CA");
    CertificateAuthority second = CertificateAuthority.create("second CA");
    Path serverCa = first.writeCertificate(dir.resolve("server-ca.crt"));
    var server = first.issue("node", List.of("127.0.0.1"), dir.resolve("node.crt"), dir.resolve("node.key"));
    var oldClient = first.issue("old", List.of(), dir.resolve("old.crt"), dir.resolve("old.key"));
    var newClient = second.issue("new", List.of(), dir.resolve("new.crt"), dir.resolve("new.key"));
    Path firstCa = first.writeCertificate(dir.resolve("first.crt"));
    Path secondCa = second.writeCertificate(dir.resolve("second.crt"));
    try (Tls serverTls = Tls.open(TlsFiles.mutual(server.certificate(), server.privateKey(), serverCa));
         GrpcServer grpc = GrpcServer.forAddress("127.0.0.1", 0).tls(serverTls).start();
         Tls oldSide = Tls.open(TlsFiles.mutual(oldClient.certificate(), oldClient.privateKey(), firstCa));
         Tls newSide = Tls.open(TlsFiles.mutual(newClient.certificate(), newClient.privateKey(), secondCa))) {
      assertEquals(ServingStatus.SERVING, health(oldSide, grpc.address()));
      assertRefused(newSide, grpc.address(), "a client of the second CA before the rotation");

      // what a Secret update does: new files renamed over the old, the process left running
      second.issue("node", List.of("127.0.0.1"), server.certificate(), server.privateKey());
      CertificateAuthority.writeAtomically(serverCa, Files.readString(secondCa), false);
      long t0 = System.nanoTime();
      java.util.concurrent.atomic.AtomicReference<Status> last = new java.util.concurrent.atomic.AtomicReference<>();
      assertTrue(ClusterView.await(() -> reaches(newSide, grpc.address(), last), 10_000),
          "the rotated certificate and CA are in use within 10 s; the last refusal: " + last.get());
      double seconds = (System.nanoTime() - t0) / 1e9;
      assertTrue(seconds < Tls.RELOAD_SECONDS + 5, "picked up in " + seconds + " s");
      assertRefused(oldSide, grpc.address(), "a client of the first CA after the rotation");
    }
  }

  private static boolean reaches(Tls tls, String target, java.util.concurrent.atomic.AtomicReference<Status> refusal) {
    try {
      return health(tls, target) == ServingStatus.SERVING;
    } catch (StatusRuntimeException e) {
      refusal.set(e.getStatus());
      return false;
    }
  }

  private static ServingStatus health(Tls tls, String target) {
    ManagedChannel ch = tls.channel(target).build();
    try {
      return HealthGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus();
    } finally {
      ch.shutdownNow();
    }
  }

  private static void assertRefused(Tls tls, String target, String what) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> health(tls, target), what);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), what + ": " + e.getStatus());
  }

  private static io.grpc.ClientInterceptor bearer(String key) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
    return MetadataUtils.newAttachHeadersInterceptor(m);
  }

  private static SSLContext trusting(Path caPem) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    try (InputStream in = Files.newInputStream(caPem)) {
      store.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }
}
