package dev.shoal.indexnode.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.server.Metrics;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ShardSearch calls against real shards while the shard they read is closed and reopened. */
class ShardSearchServiceTest {

  @TempDir
  Path dir;

  /** Records what a call answered. */
  static final class Answer<T> implements StreamObserver<T> {
    final AtomicReference<Object> got = new AtomicReference<>();
    private final java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);

    @Override
    public void onNext(T value) {
      got.set(value);
    }

    @Override
    public void onError(Throwable t) {
      got.set(Status.fromThrowable(t));
      done.countDown();
    }

    @Override
    public void onCompleted() {
      done.countDown();
    }

    /** What the call answered once it ended, for calls a service may answer on another thread. */
    Object await() throws InterruptedException {
      if (!done.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
        throw new AssertionError("no answer in 30 s");
      }
      return got.get();
    }
  }

  private static ShardStore open(Path d) throws Exception {
    ShardStore s = new ShardStore(0, d);
    if (s.appliedOffset() == 0) {
      List<ShardStore.Record> rs = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        rs.add(ShardStore.Record.of(i, EnrichedDocument.newBuilder().setOp(Operation.UPSERT).setSourceOffset(i)
            .setDocument(Document.newBuilder().setId("d" + i).setTitle("vitamin " + i).setText("bone density " + i))
            .addEmbedding(1).addEmbedding(0).build()));
      }
      s.apply(rs, 50);
    }
    s.refresh();
    return s;
  }

  /**
   * Eight threads fetch, hydrate and search shard 0 while another closes and reopens it 60 times:
   * every call is answered, either from the shard or with "not hosted"; none reads a closed
   * store (which, through RocksDB's freed native handle, would crash this JVM).
   */
  @Test
  void callsDuringCloseAndReopenAreAnsweredAndNeverReadAClosedStore() throws Exception {
    Map<Integer, ShardStore> shards = new ConcurrentHashMap<>();
    shards.put(0, open(dir));
    ShardSearchService service = new ShardSearchService("n1", shards::get, new AtomicInteger(), new Metrics());
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger served = new AtomicInteger();
    AtomicInteger notHosted = new AtomicInteger();
    List<Object> unexpected = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> callers = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int kind = t % 3;
      callers.add(Thread.ofPlatform().start(() -> {
        while (!stop.get()) {
          Object got;
          if (kind == 0) {
            Answer<FetchResponse> a = new Answer<>();
            service.fetch(FetchRequest.newBuilder().setShard(0).setId("d7").build(), a);
            got = a.got.get();
          } else if (kind == 1) {
            Answer<HydrateResponse> a = new Answer<>();
            service.hydrate(HydrateRequest.newBuilder().setShard(0).addIds("d3").addIds("d9").setWithText(true)
                .setWithSnippets(true).setHighlight("bone").build(), a);
            got = a.got.get();
          } else {
            Answer<ShardSearchResponse> a = new Answer<>();
            service.search(ShardSearchRequest.newBuilder().setShard(0).addLegs(Leg.newBuilder().setName("bm25")
                .setK(10).setLexical(LexicalLeg.newBuilder().setText("vitamin bone"))).build(), a);
            got = a.got.get();
          }
          if (got instanceof Status s) {
            if (s.getCode() == Status.Code.UNAVAILABLE) {
              notHosted.incrementAndGet();
            } else {
              unexpected.add(s);
            }
          } else if (got != null) {
            served.incrementAndGet();
          } else {
            unexpected.add("no answer");
          }
        }
      }));
    }
    for (int i = 0; i < 60; i++) {
      ShardStore s = shards.remove(0);
      s.close();
      shards.put(0, open(dir));
      Thread.sleep(5);
    }
    stop.set(true);
    for (Thread t : callers) {
      t.join();
    }
    shards.get(0).close();
    assertEquals(List.of(), unexpected);
    assertTrue(served.get() > 100, "most calls were served: " + served + ", not hosted: " + notHosted);
  }

  @Test
  void aCallCancelledBeforeItStartsDoesNoWork() throws Exception {
    Map<Integer, ShardStore> shards = new ConcurrentHashMap<>();
    shards.put(0, open(dir));
    Metrics metrics = new Metrics();
    ShardSearchService service = new ShardSearchService("n1", shards::get, new AtomicInteger(), metrics);
    AtomicBoolean answered = new AtomicBoolean();
    ServerCallStreamObserver<ShardSearchResponse> cancelled = new ServerCallStreamObserver<>() {
      @Override
      public boolean isCancelled() {
        return true;
      }

      @Override
      public void setOnCancelHandler(Runnable r) {
      }

      @Override
      public void setCompression(String c) {
      }

      @Override
      public boolean isReady() {
        return true;
      }

      @Override
      public void setOnReadyHandler(Runnable r) {
      }

      @Override
      public void request(int n) {
      }

      @Override
      public void setMessageCompression(boolean enable) {
      }

      @Override
      public void disableAutoInboundFlowControl() {
      }

      @Override
      public void onNext(ShardSearchResponse value) {
        answered.set(true);
      }

      @Override
      public void onError(Throwable t) {
        answered.set(true);
      }

      @Override
      public void onCompleted() {
        answered.set(true);
      }
    };
    service.search(ShardSearchRequest.newBuilder().setShard(0).addLegs(Leg.newBuilder().setName("bm25").setK(10)
        .setLexical(LexicalLeg.newBuilder().setText("vitamin"))).build(), cancelled);
    assertTrue(!answered.get(), "nothing is sent on a cancelled call");
    assertTrue(metrics.scrape().contains("shoal_shard_cancelled_total{node=\"n1\"} 1"), metrics.scrape());
    assertTrue(!metrics.scrape().contains("shoal_shard_search_seconds_count{node=\"n1\"} 1"), "no search ran");
    shards.get(0).close();
  }

  private Status searchStatus(ShardSearchService service, ShardSearchRequest request) {
    Answer<ShardSearchResponse> a = new Answer<>();
    service.search(request, a);
    return a.got.get() instanceof Status st ? st : Status.OK;
  }

  /** A plain query over more distinct terms than Lucene's clause limit is the client's to fix, not a shard failure. */
  @Test
  void tooManyQueryTermsIsInvalidArgumentNamingTheLimit() throws Exception {
    try (ShardStore s = open(dir.resolve("terms"))) {
      ShardSearchService service = new ShardSearchService("n1", n -> s, new AtomicInteger(), new Metrics());
      StringBuilder q = new StringBuilder();
      for (int i = 0; i < 1_100; i++) {
        q.append("w").append(Integer.toString(i, 36)).append(' ');
      }
      Status st = searchStatus(service, ShardSearchRequest.newBuilder().addLegs(Leg.newBuilder().setName("bm25")
          .setK(10).setLexical(LexicalLeg.newBuilder().setText(q.toString()))).build());
      assertEquals(Status.Code.INVALID_ARGUMENT, st.getCode(), st.toString());
      assertTrue(st.getDescription().contains("1024"), st.getDescription());
      assertEquals(Status.Code.OK, searchStatus(service, ShardSearchRequest.newBuilder().addLegs(Leg.newBuilder()
          .setName("bm25").setK(10).setLexical(LexicalLeg.newBuilder().setText("vitamin bone"))).build()).getCode());
    }
  }

  /** A query embedded by another model than the shard's passages: FAILED_PRECONDITION naming both. */
  @Test
  void aQueryVectorOfAnotherModelIsFailedPreconditionNamingBothModels() throws Exception {
    try (ShardStore s = new ShardStore(0, dir.resolve("model"))) {
      s.apply(List.of(ShardStore.Record.of(0, EnrichedDocument.newBuilder().setOp(Operation.UPSERT)
          .setModel("bge-small-en-v1.5").setDocument(Document.newBuilder().setId("d0").setText("vitamin"))
          .addEmbedding(0.6f).addEmbedding(0.8f).build())), 1);
      s.refresh();
      ShardSearchService service = new ShardSearchService("n1", n -> s, new AtomicInteger(), new Metrics());
      Status other = searchStatus(service, ShardSearchRequest.newBuilder().addLegs(Leg.newBuilder().setName("dense")
          .setK(5).setVector(dev.shoal.internal.v1.VectorLeg.newBuilder().addVector(1).addVector(0)
              .setModel("all-MiniLM-L6-v2"))).build());
      assertEquals(Status.Code.FAILED_PRECONDITION, other.getCode(), other.toString());
      assertTrue(other.getDescription().contains("bge-small-en-v1.5") && other.getDescription().contains("all-MiniLM-L6-v2"),
          other.getDescription());
      Status shorter = searchStatus(service, ShardSearchRequest.newBuilder().addScorers(
          dev.shoal.internal.v1.VectorScorer.newBuilder().setName("cosine").addVector(1).addVector(0).addVector(0))
          .addLegs(Leg.newBuilder().setName("bm25").setK(5).setLexical(LexicalLeg.newBuilder().setText("vitamin")))
          .build());
      assertEquals(Status.Code.FAILED_PRECONDITION, shorter.getCode(), shorter.toString());
      assertTrue(shorter.getDescription().contains("dimension 2") && shorter.getDescription().contains("3 values"),
          shorter.getDescription());
      assertEquals(Status.Code.OK, searchStatus(service, ShardSearchRequest.newBuilder().addLegs(Leg.newBuilder()
          .setName("dense").setK(5).setVector(dev.shoal.internal.v1.VectorLeg.newBuilder().addVector(1).addVector(0)
              .setModel("bge-small-en-v1.5"))).build()).getCode());
    }
  }
}
