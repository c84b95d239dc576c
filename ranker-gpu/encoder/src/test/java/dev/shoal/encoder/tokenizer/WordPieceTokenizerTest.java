package dev.shoal.encoder.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.model.ModelFiles;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our pure-Java tokenizer against HuggingFace's own (Rust, through DJL, offline) on the same
 * tokenizer.json: identical ids for 1,000 real SciFact texts plus hand-picked edge cases.
 */
class WordPieceTokenizerTest {

  @BeforeAll
  static void offline() {
    // DJL must never reach the network; surefire sets it too, this guards a run from an IDE
    System.setProperty("ai.djl.offline", "true");
    assertEquals("true", System.getProperty("ai.djl.offline"));
  }

  static List<String> corpus() {
    List<String> texts = new ArrayList<>(TestTexts.passages(800));
    texts.addAll(TestTexts.queries(200));
    texts.addAll(List.of(
        "Café naïve résumé — Ærøskøbing", "日本語のテキストと中文字符", "emoji 🧬🔬 and symbols ±×÷ ≥ 5μm",
        "tabs\tand\nnew lines\r\n and\u00a0nbsp and\u2009thin space", "control\u0007chars\u200bzero-width",
        "literal [SEP] and [CLS] tokens [MASK]", "pneumonoultramicroscopicsilicovolcanoconiosis".repeat(3),
        "ΣΊΣΥΦΟΣ final sigma", "İstanbul DİYARBAKIR", "x" + "\uFFFD" + "y", "", "   ", "a-b_c.d,e;f:g!h?i",
        "COVID-19 (SARS-CoV-2) IL-6/IL-10 ratio ≈ 3.5", "don't won't O'Neil's"));
    return texts;
  }

  private static Path extract(String resource) throws Exception {
    Path tmp = Files.createTempFile("tokenizer", ".json");
    try (InputStream in = ModelFiles.open(resource)) {
      Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
    }
    return tmp;
  }

  @ParameterizedTest
  @ValueSource(strings = {"classpath:bge-small-en-v1.5-tokenizer.json", "classpath:all-minilm-l6-v2-tokenizer.json"})
  void idsEqualHuggingFaceTokenizers(String resource) throws Exception {
    WordPieceTokenizer ours;
    try (InputStream in = ModelFiles.open(resource)) {
      ours = WordPieceTokenizer.load(in);
    }
    List<String> texts = corpus();
    assertTrue(texts.size() >= 1_000, "at least 1,000 texts");
    try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(extract(resource),
        Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true"))) {
      int longest = 0;
      for (String t : texts) {
        long[] expected = hf.encode(t).getIds();
        int[] actual = ours.encode(t, 1_000_000);
        longest = Math.max(longest, actual.length);
        assertArrayEquals(expected, java.util.Arrays.stream(actual).asLongStream().toArray(), () -> "text: " + t);
      }
      assertTrue(longest > 512, "the corpus exercises texts longer than the model's window");
    }
    try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(extract(resource),
        Map.of("truncation", "true", "maxLength", "128", "padding", "false", "addSpecialTokens", "true"))) {
      for (String t : texts) {
        Encoding e = hf.encode(t);
        assertArrayEquals(e.getIds(), java.util.Arrays.stream(ours.encode(t, 128)).asLongStream().toArray(),
            () -> "truncated: " + t);
      }
    }
  }

  @Test
  void pairsEqualHuggingFaceTokenizersWithOnlySecondTruncation() throws Exception {
    String resource = ModelSpec.BGE_SMALL_EN_V15.tokenizer();
    WordPieceTokenizer ours;
    try (InputStream in = ModelFiles.open(resource)) {
      ours = WordPieceTokenizer.load(in);
    }
    List<String> queries = TestTexts.queries(200);
    List<String> passages = TestTexts.passages(200);
    int truncated = 0;
    try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(extract(resource),
        Map.of("truncation", "only_second", "maxLength", "96", "padding", "false", "addSpecialTokens", "true"))) {
      for (int i = 0; i < queries.size(); i++) {
        String q = queries.get(i);
        String p = passages.get(i);
        Encoding e = hf.encode(q, p);
        WordPieceTokenizer.Pair pair = ours.encodePair(q, p, 96);
        assertArrayEquals(e.getIds(), java.util.Arrays.stream(pair.ids()).asLongStream().toArray(),
            () -> "pair: " + q + " | " + p);
        assertArrayEquals(e.getTypeIds(), java.util.Arrays.stream(pair.typeIds()).asLongStream().toArray(),
            () -> "segments: " + q + " | " + p);
        truncated += pair.length() == 96 ? 1 : 0;
      }
    }
    assertTrue(truncated > 100, "most SciFact passages are cut at 96 tokens: " + truncated);
  }

  @Test
  void aQueryThatWouldLeaveNoRoomIsCutToHalfAndThePassageKeepsTheRest() throws Exception {
    WordPieceTokenizer t;
    try (InputStream in = ModelFiles.open(ModelSpec.BGE_SMALL_EN_V15.tokenizer())) {
      t = WordPieceTokenizer.load(in);
    }
    WordPieceTokenizer.Pair p = t.encodePair("query ".repeat(100), "passage ".repeat(100), 32);
    assertEquals(32, p.length());
    assertEquals(101, p.ids()[0]);
    assertEquals(102, p.ids()[15], "[CLS] + 14 query tokens + [SEP]: the query keeps 32 / 2 - 2");
    assertEquals(102, p.ids()[31]);
    assertEquals(0, p.typeIds()[15]);
    assertEquals(1, p.typeIds()[16]);
    assertEquals(1, p.typeIds()[31]);
    WordPieceTokenizer.Pair shortOne = t.encodePair("a b", "c", 32);
    assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1}, shortOne.typeIds());
  }

  @Test
  void truncationKeepsClsAndSep() throws Exception {
    WordPieceTokenizer t;
    try (InputStream in = ModelFiles.open(ModelSpec.BGE_SMALL_EN_V15.tokenizer())) {
      t = WordPieceTokenizer.load(in);
    }
    int[] ids = t.encode("word ".repeat(1000), 16);
    assertEquals(16, ids.length);
    assertEquals(101, ids[0]);
    assertEquals(102, ids[15]);
  }
}
