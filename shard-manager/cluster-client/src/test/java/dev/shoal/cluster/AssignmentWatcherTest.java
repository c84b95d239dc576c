package dev.shoal.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.internal.v1.ShardAssignment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Fencing as every node and query service applies it: an epoch not above the newest seen is ignored. */
class AssignmentWatcherTest {

  private static ShardAssignment epoch(long e, String manager) {
    return ShardAssignment.newBuilder().setEpoch(e).setManagerId(manager).setShardCount(4).build();
  }

  @Test
  void anOlderEpochFromADeposedLeaderIsIgnored() {
    AssignmentWatcher w = new AssignmentWatcher("unused:9092");
    List<Long> applied = new ArrayList<>();
    w.onAssignment(a -> applied.add(a.getEpoch()));
    assertTrue(w.offer(epoch(Epoch.firstOfTerm(1), "old")));
    assertTrue(w.offer(epoch(Epoch.firstOfTerm(2), "new")), "the new term's first epoch");
    assertFalse(w.offer(epoch(Epoch.next(Epoch.firstOfTerm(1), 1), "old")), "the deposed leader's next step");
    assertFalse(w.offer(epoch(Epoch.firstOfTerm(2), "new")), "the same epoch again");
    assertEquals(List.of(Epoch.firstOfTerm(1), Epoch.firstOfTerm(2)), applied);
    assertEquals("new", w.current().getManagerId());
  }

  @Test
  void aListenerAddedLateGetsTheCurrentTableAtOnce() {
    AssignmentWatcher w = new AssignmentWatcher("unused:9092");
    w.offer(epoch(7, "m"));
    List<Long> seen = new ArrayList<>();
    w.onAssignment(a -> seen.add(a.getEpoch()));
    assertEquals(List.of(7L), seen);
  }
}
