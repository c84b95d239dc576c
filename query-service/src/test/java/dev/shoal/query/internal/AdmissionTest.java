package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Filter;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.query.AdmissionLimits;
import dev.shoal.server.time.ManualClock;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class AdmissionTest {

  private final ManualClock clock = new ManualClock();

  @Test
  void aKeyOverItsRateIsRefusedWithTheWaitUntilItsNextTokenAndOtherKeysAreNot() throws Exception {
    Admission a = new Admission(AdmissionLimits.defaults().withRatePerKey(2, 3), clock);
    for (int i = 0; i < 3; i++) {
      a.charge("web");
    }
    StatusException over = assertThrows(StatusException.class, () -> a.charge("web"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, over.getStatus().getCode());
    assertEquals(500, Admission.retryMillis(over), "one token every 500 ms at 2/s");
    assertTrue(over.getStatus().getDescription().contains("'web'"), over.getStatus().getDescription());
    assertDoesNotThrow(() -> a.charge("batch"), "another key has its own bucket");
    assertDoesNotThrow(() -> a.charge(""), "no key (an open server): not charged");
    clock.advance(499, TimeUnit.MILLISECONDS);
    assertThrows(StatusException.class, () -> a.charge("web"));
    clock.advance(2, TimeUnit.MILLISECONDS);
    assertDoesNotThrow(() -> a.charge("web"), "refilled after 500 ms");
    clock.advance(1, TimeUnit.HOURS);
    for (int i = 0; i < 3; i++) {
      a.charge("web");
    }
    assertThrows(StatusException.class, () -> a.charge("web"), "an idle hour refills the burst, not more");
  }

  @Test
  void aRateOfZeroTurnsThePerKeyLimitOff() throws Exception {
    Admission a = new Admission(AdmissionLimits.defaults().withRatePerKey(0, 1), clock);
    for (int i = 0; i < 10_000; i++) {
      a.charge("web");
    }
  }

  @Test
  void expensiveSearchesPastTheBoundAreRefusedAtOnceWhileCheapOnesPass() throws Exception {
    Admission a = new Admission(AdmissionLimits.defaults().withMaxExpensiveInFlight(1), clock);
    SearchRequest deep = SearchRequest.newBuilder().setQuery("q").setTopK(1000).build();
    SearchRequest deepRerank = SearchRequest.newBuilder().setQuery("q").setRerankDepth(1000).build();
    SearchRequest filtered = SearchRequest.newBuilder().setQuery("q")
        .addAllFilters(java.util.Collections.nCopies(9, Filter.newBuilder().setField("f").setTerm("t").build()))
        .build();
    SearchRequest cheap = SearchRequest.newBuilder().setQuery("q").setTopK(10).setOffset(90).build();
    assertNull(a.expensiveBecause(cheap), "offset + top_k = 100 is the default head: cheap");
    Admission.Permit held = a.admit(deep);
    assertTrue(held.expensive(), "a deep page holds an expensive slot");
    assertEquals(1, a.expensiveInFlight());
    for (SearchRequest r : new SearchRequest[] {deep, deepRerank, filtered}) {
      StatusException busy = assertThrows(StatusException.class, () -> a.admit(r));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, busy.getStatus().getCode());
      assertEquals(Admission.EXPENSIVE_RETRY_MILLIS, Admission.retryMillis(busy));
      assertTrue(busy.getStatus().getDescription().contains("expensive because"), busy.getStatus().getDescription());
    }
    try (Admission.Permit free = a.admit(cheap)) {
      assertFalse(free.expensive(), "a cheap search holds no slot");
    }
    held.close();
    held.close();
    assertEquals(0, a.expensiveInFlight(), "a permit closed twice is released once");
    Admission.Permit again = a.admit(deepRerank);
    assertThrows(StatusException.class, () -> a.admit(filtered), "one slot, so the second is refused again");
    again.close();
  }

  @Test
  void aSizeLimitRefusalCarriesNoRetryHint() {
    assertEquals(-1, Admission.retryMillis(Status.RESOURCE_EXHAUSTED.withDescription("too big").asException()));
  }
}
