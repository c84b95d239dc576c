package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.query.WarmupReport;
import dev.shoal.query.WarmupSettings;
import dev.shoal.server.time.Clock;
import dev.shoal.server.time.ManualClock;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class QueryWarmupTest {

  private static SearchResponse hits(String... titles) {
    SearchResponse.Builder r = SearchResponse.newBuilder();
    for (String t : titles) {
      r.addHits(Hit.newBuilder().setTitle(t).setSnippet("the <em>snippet</em> of " + t));
    }
    return r.build();
  }

  @Test
  void startsDenseFromSeedsThenSearchesEveryProfileWithWordsOfTheHits() throws Exception {
    List<SearchRequest> seen = new CopyOnWriteArrayList<>();
    QueryWarmup w = new QueryWarmup((request, deadline) -> {
      seen.add(request);
      return hits("Quokka tail regeneration", "Marsupial metabolism in arid zones");
    }, Clock.SYSTEM);

    WarmupReport r = w.run(new WarmupSettings(40, 1, 60_000));

    assertEquals(40, r.searches());
    assertEquals(0, r.failed());
    assertEquals(40, seen.size());
    assertEquals(RankProfile.DENSE, seen.get(0).getProfile(), "nothing learned yet: a search that needs no words");
    Set<RankProfile> profiles = EnumSet.noneOf(RankProfile.class);
    Set<String> words = ConcurrentHashMap.newKeySet();
    for (SearchRequest s : seen.subList(1, seen.size())) {
      profiles.add(s.getProfile());
      words.addAll(List.of(s.getQuery().split(" ")));
    }
    assertEquals(EnumSet.of(RankProfile.BM25, RankProfile.DENSE, RankProfile.HYBRID, RankProfile.NEURAL), profiles);
    assertTrue(words.containsAll(List.of("quokka", "regeneration", "marsupial", "snippet")), words.toString());
    assertTrue(words.stream().noneMatch(x -> x.contains("<") || x.contains("em>")), "no markup: " + words);
    int longest = seen.stream().mapToInt(s -> s.getQuery().split(" ").length).max().orElseThrow();
    assertTrue(longest >= 10, "queries of several lengths, the longest " + longest + " words");
  }

  @Test
  void aClusterThatCannotAnswerEndsTheWarmupSoon() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    QueryWarmup w = new QueryWarmup((request, deadline) -> {
      calls.incrementAndGet();
      throw new IllegalStateException("no replica answers");
    }, Clock.SYSTEM);

    WarmupReport r = w.run(new WarmupSettings(400, 2, 60_000));

    assertTrue(r.failed() >= QueryWarmup.FAILURES_IN_A_ROW && r.failed() <= QueryWarmup.FAILURES_IN_A_ROW + 2,
        "stopped after " + QueryWarmup.FAILURES_IN_A_ROW + " failures in a row (both clients may be mid-call): "
            + r.failed());
    assertEquals(r.failed(), r.searches());
    assertEquals(r.searches(), calls.get());
  }

  @Test
  void failuresAmongAnswersDoNotStopIt() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    QueryWarmup w = new QueryWarmup((request, deadline) -> {
      if (calls.incrementAndGet() % 3 == 0) {
        throw new IllegalStateException("one shard timed out");
      }
      return hits("Cranfield wing flutter");
    }, Clock.SYSTEM);

    WarmupReport r = w.run(new WarmupSettings(90, 3, 60_000));

    assertEquals(90, r.searches());
    assertEquals(30, r.failed());
  }

  @Test
  void theBudgetEndsItAndBoundsEachSearchsDeadline() throws Exception {
    ManualClock clock = new ManualClock();
    long start = clock.nanoTime();
    List<Long> deadlines = new CopyOnWriteArrayList<>();
    QueryWarmup w = new QueryWarmup((request, deadline) -> {
      deadlines.add(deadline);
      clock.advanceMillis(400); // each search takes 0.4 s of the 1 s budget
      return hits("Cacm parsing compilers");
    }, clock);

    WarmupReport r = w.run(new WarmupSettings(400, 1, 1_000));

    assertEquals(3, r.searches(), "searches started at 0, 0.4 and 0.8 s; none at 1.2 s");
    assertEquals(start + 1_000_000_000L, deadlines.get(2), "the last one's deadline is the budget's end");
    assertEquals(start + 1_000_000_000L, deadlines.get(0), "min(5 s per search, the budget)");
  }
}
