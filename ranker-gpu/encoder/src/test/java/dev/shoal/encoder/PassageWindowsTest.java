package dev.shoal.encoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Windows of real SciFact passages under bge-small's real tokenizer: each window tokenizes as its
 * span of the passage does, the windows cover the passage in order with the configured overlap,
 * and pooling is the token-weighted mean.
 */
class PassageWindowsTest {

  private static final ModelSpec SPEC = ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(64);
  private static WordPieceTokenizer tokenizer;

  @BeforeAll
  static void load() throws Exception {
    try (InputStream in = ModelFiles.open(SPEC.tokenizer())) {
      tokenizer = WordPieceTokenizer.load(in);
    }
  }

  /** The passage's token ids without [CLS] and [SEP]. */
  private static int[] ids(String text) {
    int[] all = tokenizer.encode(text, Integer.MAX_VALUE);
    return Arrays.copyOfRange(all, 1, all.length - 1);
  }

  private static int indexOf(int[] haystack, int[] needle, int from) {
    outer:
    for (int i = from; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @Test
  void aPassageThatFitsIsOneWindowHoldingTheTextItself() {
    PassageWindows w = PassageWindows.forModel(SPEC, 16, 8);
    String shortText = "Coral reefs bleach when the water warms.";
    List<PassageWindows.Window> one = w.split(shortText);
    assertEquals(1, one.size());
    assertSame(shortText, one.getFirst().text(), "a passage that fits is embedded exactly as before");
    assertEquals(ids(shortText).length, one.getFirst().tokens());
  }

  @Test
  void windowsAreSpansOfThePassageThatFitCoverItInOrderAndOverlap() {
    int budget = SPEC.maxTokens() - 2;
    int overlap = 16;
    PassageWindows w = PassageWindows.forModel(SPEC, overlap, 100);
    int checked = 0;
    for (String passage : TestTexts.passages(40)) {
      int[] all = ids(passage);
      List<PassageWindows.Window> windows = w.split(passage);
      if (all.length <= budget) {
        assertEquals(1, windows.size());
        continue;
      }
      checked++;
      assertTrue(windows.size() >= 2, "a passage of " + all.length + " tokens needs more than one window");
      int previousStart = -1;
      int previousEnd = 0;
      for (PassageWindows.Window window : windows) {
        int[] mine = ids(window.text());
        assertEquals(mine.length, window.tokens(), "the window's token count is its own");
        assertTrue(mine.length <= budget, mine.length + " tokens in a " + budget + "-token window");
        int start = indexOf(all, mine, previousStart + 1);
        assertTrue(start >= 0, "a window tokenizes as a span of the passage: " + window.text());
        if (previousStart >= 0) {
          assertTrue(start <= previousEnd, "no tokens skipped between windows");
          int shared = previousEnd - start;
          assertTrue(shared <= overlap, shared + " tokens shared, more than the overlap " + overlap);
          assertTrue(shared > 0, "consecutive windows overlap");
        } else {
          assertEquals(0, start, "the first window starts the passage");
        }
        previousStart = start;
        previousEnd = start + mine.length;
      }
      assertEquals(all.length, previousEnd, "the last window ends the passage");
    }
    assertTrue(checked >= 20, "most SciFact passages are longer than 62 tokens; checked " + checked);
  }

  @Test
  void atMostMaxWindowsAndOneMeansTruncation() {
    String passage = String.join(" ", TestTexts.passages(5));
    List<PassageWindows.Window> three = PassageWindows.forModel(SPEC, 16, 3).split(passage);
    assertEquals(3, three.size());
    List<PassageWindows.Window> one = PassageWindows.forModel(SPEC, 16, 1).split(passage);
    assertEquals(1, one.size());
    assertSame(passage, one.getFirst().text(), "one window: the encoder truncates the text as before");
    assertEquals(SPEC.maxTokens() - 2, one.getFirst().tokens());
  }

  @Test
  void poolingIsTheTokenWeightedMeanNormalised() {
    List<PassageWindows.Window> windows = List.of(new PassageWindows.Window("a", 3), new PassageWindows.Window("b", 1));
    float[] pooled = PassageWindows.pool(windows, List.of(new float[] {1, 0}, new float[] {0, 1}));
    double n = Math.sqrt(10);
    assertArrayEquals(new float[] {(float) (3 / n), (float) (1 / n)}, pooled, 1e-6f);
    float[] single = {0.6f, 0.8f};
    assertSame(single, PassageWindows.pool(List.of(windows.getFirst()), List.of(single)));
    assertThrows(IllegalArgumentException.class, () -> PassageWindows.pool(windows, List.of(single)));
  }

  @Test
  void settingsOutsideTheirRangeAreRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new PassageWindows(tokenizer, 62, 40, 8));
    assertTrue(e.getMessage().contains("0..31"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new PassageWindows(tokenizer, 62, 8, 0));
    assertEquals(31, PassageWindows.forModel(SPEC, 64, 8).overlapTokens(), "clamped to half a window");
  }
}
