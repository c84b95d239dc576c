package dev.shoal.it;

import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.testkit.LocalCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@link OfflineIT} in a network namespace with only loopback: proves the network is
 * gone, then loads the model, indexes a few documents through Kafka and runs a neural search.
 * Exits 0 and prints OFFLINE-OK on success.
 */
public final class OfflineCheck {

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    Path scifact = Path.of(args[1]);
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("1.1.1.1", 443), 2_000);
      System.out.println("NETWORK-REACHABLE");
      System.exit(3);
    } catch (java.io.IOException expected) {
      System.out.println("network unreachable as intended: " + expected.getMessage());
    }
    List<BeirDataset.Doc> docs = new BeirDataset(scifact).docs().subList(0, 30);
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(dir, null, 2,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(128), "127.0.0.1", 0, 0, 0, 2)).start()) {
      try (DocumentProducer p = new DocumentProducer(cluster.bootstrap())) {
        docs.forEach(d -> p.send(d.document()));
        p.flush();
      }
      long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
      while (!(cluster.searchableDocs() == docs.size() && cluster.caughtUp())) {
        if (System.nanoTime() > until) {
          throw new IllegalStateException("not searchable in time: " + cluster.searchableDocs());
        }
        Thread.sleep(200);
      }
      ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", cluster.grpcPort()).usePlaintext().build();
      BeirDataset.Doc target = docs.get(7);
      SearchResponse r = SearchServiceGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS)
          .search(SearchRequest.newBuilder().setQuery(target.title()).setProfile(RankProfile.NEURAL).setTopK(3).build());
      ch.shutdownNow();
      if (r.getDegraded() || r.getHitsList().stream().noneMatch(h -> h.getId().equals(target.id()))) {
        System.out.println("SEARCH-FAILED " + r);
        System.exit(4);
      }
      System.out.println("OFFLINE-OK " + target.id());
    }
    System.exit(0);
  }
}
