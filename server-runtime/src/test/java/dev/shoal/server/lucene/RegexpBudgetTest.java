package dev.shoal.server.lucene;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.lucene.util.automaton.RegExp;
import org.junit.jupiter.api.Test;

class RegexpBudgetTest {
  private static final List<String> ORDINARY = List.of(
      "reg.*ex", "colou?r", "[a-z]+ing", "(cat|dog)s?", "a{2,5}b", "x{3,}", "~[a-c]", "ab&a.", "<1-1000>",
      "(ab|cd){1,20}", "@", "#", "\"quoted\"", "[^aeiou]{2,4}", "(a|b)*c(d|e)+", ".{0,64}", "(a{1,8}){1,8}");

  @Test
  void theEstimateIsAtLeastWhatLuceneBuilds() {
    for (String re : ORDINARY) {
      RegExp parsed = new RegExp(re, RegExp.ALL);
      int built = parsed.toAutomaton().getNumStates();
      long estimated = RegexpBudget.states(parsed);
      assertTrue(built <= estimated, re + ": Lucene built " + built + " states, the estimate was " + estimated);
    }
  }

  @Test
  void ordinaryExpressionsAreAccepted() {
    for (String re : ORDINARY) {
      assertDoesNotThrow(() -> RegexpBudget.check(re), re);
    }
  }

  @Test
  void nestedRepeatsFoundByFuzzingAreRefusedWithAReason() {
    // each took minutes or exhausted the heap inside RegExp.toAutomaton
    for (String re : List.of("a{1,1000}{1,1000}", ".+++++++++++++++++++++++++++", "_i@+++++++++++++++++++++++++++",
        "(((a{1,50}){1,50}){1,50})", "(a|b){1,9999}")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RegexpBudget.check(re), re);
      assertTrue(e.getMessage().contains("too complex") && e.getMessage().contains("do not nest repeats"),
          e.getMessage());
    }
  }

  @Test
  void tooLongAndMalformedExpressionsAreRefused() {
    IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
        () -> RegexpBudget.check("a".repeat(RegexpBudget.MAX_LENGTH + 1)));
    assertTrue(tooLong.getMessage().contains("at most 256 characters"), tooLong.getMessage());
    assertThrows(IllegalArgumentException.class, () -> RegexpBudget.check("(unclosed"));
  }
}
