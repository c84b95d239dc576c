package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.cluster.ClusterTimings;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.cluster.HeartbeatPublisher;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.manager.Election;
import dev.shoal.manager.ShardManager;
import dev.shoal.manager.ShardManagerConfig;
import dev.shoal.server.time.Clock;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.EmbeddedKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A zombie shard manager on a real broker: manager A believes it leads for good (its election
 * stub always says so, as a paused process or one cut off from the group coordinator would), and
 * B leads for real. Once B's producer has fenced A's, A must stay a follower: none of its
 * assignments may appear after B's first, and B is never fenced back.
 */
class ManagerFencingIT {

  @TempDir
  Path dir;

  /** An election that always says "you lead" in one term: a zombie, or a stub leader. */
  static final class Leads implements Election {
    private final int term;

    Leads(int term) {
      this.term = term;
    }

    @Override
    public boolean poll(Duration timeout) {
      try {
        Thread.sleep(timeout.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return true;
    }

    @Override
    public int generation() {
      return term;
    }

    @Override
    public void wakeup() {
    }

    @Override
    public void close() {
    }
  }

  /** Heartbeats from n1 and n2 in turns of 10, so a leader keeps finding new placements to publish. */
  private static HeartbeatPublisher alternatingNodes(String bootstrap) {
    int[] beat = {0};
    return new HeartbeatPublisher(bootstrap, ClusterTimings.defaults(), () -> NodeHeartbeat.newBuilder()
        .setNodeId(beat[0]++ % 20 < 10 ? "n1" : "n2").setAddress("127.0.0.1:1")
        .setTimestampMs(System.currentTimeMillis()).build()).start();
  }

  @Test
  void aFencedManagerNeverTakesLeadershipBack() throws Exception {
    try (EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka")).start()) {
      String bootstrap = kafka.bootstrap();
      ClusterTopics.ensure(bootstrap, 4, (short) 1);
      try (HeartbeatPublisher node = alternatingNodes(bootstrap);
           ClusterView view = new ClusterView(bootstrap);
           ShardManager a = new ShardManager(ShardManagerConfig.defaults(bootstrap, "A", 4).withReplicas(1),
               Clock.SYSTEM, c -> new Leads(1))) {
        a.start();
        assertTrue(ClusterView.await(() -> view.assignments().stream()
            .anyMatch(p -> p.assignment().getManagerId().equals("A")), 30_000), "A publishes while alone");
        try (ShardManager b = new ShardManager(ShardManagerConfig.defaults(bootstrap, "B", 4).withReplicas(1))) {
          b.start();
          assertTrue(ClusterView.await(() -> view.assignments().stream()
              .anyMatch(p -> p.assignment().getManagerId().equals("B")), 30_000), "B leads");
          // the nodes alternate, so a leader keeps publishing new placements; give A every chance
          Thread.sleep(15_000);
          List<String> order = view.assignments().stream().map(p -> p.assignment().getManagerId()).toList();
          int firstB = order.indexOf("B");
          assertEquals(List.of(), order.subList(firstB, order.size()).stream().filter("A"::equals).toList(),
              "after B's first assignment, none of A's: " + order);
          assertTrue(b.leading(), "B was never fenced back");
          assertTrue(order.subList(firstB, order.size()).size() >= 2, "B kept publishing: " + order);
        }
      }
    }
  }

  /**
   * The paused leader that resumes (seen in CI as a race in {@code ClusterIT}): B leads in term 5
   * and has published; A, deposed in term 4 but not knowing it, starts its producer afresh, which
   * fences B's. A must publish nothing (a newer term is on the topic), and B, finding itself
   * fenced by a manager that published no newer term, must take the producer back and keep
   * leading. Before the fix A published term 4 after B's term 5 and B stepped down for good.
   */
  @Test
  void aResumedDeposedLeaderNeitherPublishesNorDeposesItsSuccessor() throws Exception {
    try (EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka")).start()) {
      String bootstrap = kafka.bootstrap();
      ClusterTopics.ensure(bootstrap, 4, (short) 1);
      try (HeartbeatPublisher node = alternatingNodes(bootstrap);
           ClusterView view = new ClusterView(bootstrap);
           ShardManager b = new ShardManager(ShardManagerConfig.defaults(bootstrap, "B", 4).withReplicas(1),
               Clock.SYSTEM, c -> new Leads(5))) {
        b.start();
        assertTrue(ClusterView.await(() -> view.assignments().stream()
            .anyMatch(p -> p.assignment().getManagerId().equals("B")), 30_000), "B publishes in term 5");
        try (ShardManager a = new ShardManager(ShardManagerConfig.defaults(bootstrap, "A", 4).withReplicas(1),
            Clock.SYSTEM, c -> new Leads(4))) {
          a.start();
          assertTrue(ClusterView.await(a::leading, 30_000), "A believes it leads");
          assertTrue(ClusterView.await(() -> !a.leading(), 60_000), "A took the producer and stepped down");
          // a new node: the placement changes, so B must publish again, through the producer A fenced
          try (HeartbeatPublisher n3 = new HeartbeatPublisher(bootstrap, ClusterTimings.defaults(),
              () -> NodeHeartbeat.newBuilder().setNodeId("n3").setAddress("127.0.0.1:3")
                  .setTimestampMs(System.currentTimeMillis()).build()).start()) {
            assertTrue(ClusterView.await(() -> view.assignments().stream().anyMatch(p -> p.assignment()
                .getManagerId().equals("B") && p.assignment().toString().contains("n3")), 60_000),
                "B placed the new node after A fenced its producer");
          }
          List<Long> epochs = view.assignments().stream().map(p -> p.assignment().getEpoch()).toList();
          for (int i = 1; i < epochs.size(); i++) {
            assertTrue(epochs.get(i) > epochs.get(i - 1), "epochs on the topic only grow: " + epochs);
          }
          List<String> order = view.assignments().stream().map(p -> p.assignment().getManagerId()).toList();
          assertEquals(List.of(), order.stream().filter("A"::equals).toList(), "A published: " + order);
          assertTrue(b.leading(), "B was deposed by a manager of an older term");
        }
      }
    }
  }
}
