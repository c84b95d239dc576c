package dev.shoal.encoder.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A BERT WordPiece tokenizer that reads a HuggingFace {@code tokenizer.json} and reproduces the
 * {@code tokenizers} library's ids for the BertNormalizer / BertPreTokenizer / WordPiece /
 * [CLS] $A [SEP] pipeline: clean-up of control characters, CJK padding, accent stripping and
 * lower-casing, whitespace and punctuation splitting, greedy longest-match WordPiece, and
 * added tokens (e.g. a literal "[SEP]" in the text) matched before normalisation.
 *
 * <p>Pure Java, so nothing native is loaded and nothing is fetched. Immutable after
 * construction and safe for concurrent use.
 *
 * <p>Errors: the constructor rejects a tokenizer.json whose pipeline it does not implement
 * (another normaliser or model type), rather than silently producing different ids.
 */
public final class WordPieceTokenizer {

  private final Map<String, Integer> vocab;
  private final String unkToken;
  private final int unkId;
  private final int clsId;
  private final int sepId;
  private final int padId;
  private final String subwordPrefix;
  private final int maxInputCharsPerWord;
  private final boolean lowercase;
  private final boolean stripAccents;
  private final boolean cleanText;
  private final boolean handleChineseChars;
  private final List<String> addedTokens = new ArrayList<>();
  private final Map<String, Integer> addedTokenIds = new HashMap<>();

  private WordPieceTokenizer(JsonNode root) {
    JsonNode model = root.path("model");
    if (!"WordPiece".equals(model.path("type").asText())) {
      throw new IllegalArgumentException("tokenizer.json model type must be WordPiece, got " + model.path("type"));
    }
    JsonNode normalizer = root.path("normalizer");
    if (!normalizer.isMissingNode() && !normalizer.isNull()
        && !"BertNormalizer".equals(normalizer.path("type").asText())) {
      throw new IllegalArgumentException("tokenizer.json normalizer must be BertNormalizer, got " + normalizer.path("type"));
    }
    JsonNode pre = root.path("pre_tokenizer");
    if (!pre.isMissingNode() && !pre.isNull() && !"BertPreTokenizer".equals(pre.path("type").asText())) {
      throw new IllegalArgumentException("tokenizer.json pre_tokenizer must be BertPreTokenizer, got " + pre.path("type"));
    }
    Map<String, Integer> v = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      v.put(e.getKey(), e.getValue().asInt());
    }
    this.vocab = Map.copyOf(v);
    this.unkToken = model.path("unk_token").asText("[UNK]");
    this.subwordPrefix = model.path("continuing_subword_prefix").asText("##");
    this.maxInputCharsPerWord = model.path("max_input_chars_per_word").asInt(100);
    this.lowercase = normalizer.path("lowercase").asBoolean(true);
    JsonNode strip = normalizer.path("strip_accents");
    // tokenizers: strip_accents = null means "follow lowercase"
    this.stripAccents = strip.isNull() || strip.isMissingNode() ? lowercase : strip.asBoolean();
    this.cleanText = normalizer.path("clean_text").asBoolean(true);
    this.handleChineseChars = normalizer.path("handle_chinese_chars").asBoolean(true);
    for (JsonNode t : root.path("added_tokens")) {
      addedTokens.add(t.path("content").asText());
      addedTokenIds.put(t.path("content").asText(), t.path("id").asInt());
    }
    // longest first so "[MASK]" is preferred over a shorter prefix
    addedTokens.sort((a, b) -> Integer.compare(b.length(), a.length()));
    this.unkId = require(unkToken);
    this.clsId = require("[CLS]");
    this.sepId = require("[SEP]");
    this.padId = vocab.getOrDefault("[PAD]", 0);
  }

  private int require(String token) {
    Integer id = vocab.get(token);
    if (id == null) {
      throw new IllegalArgumentException("tokenizer.json vocabulary lacks " + token);
    }
    return id;
  }

  public static WordPieceTokenizer load(InputStream tokenizerJson) throws IOException {
    return new WordPieceTokenizer(new ObjectMapper().readTree(tokenizerJson));
  }

  public int padId() {
    return padId;
  }

  /** How many tokens the text is, without [CLS] and [SEP] and without truncation. */
  public int count(String text) {
    return encode(text, Integer.MAX_VALUE).length - 2;
  }

  /**
   * Token ids with [CLS] and [SEP], truncated (from the right) to {@code maxLength} ids in all.
   */
  public int[] encode(String text, int maxLength) {
    if (maxLength < 2) {
      throw new IllegalArgumentException("maxLength must leave room for [CLS] and [SEP]: " + maxLength);
    }
    List<Integer> pieces = pieces(text, maxLength - 2);
    int[] out = new int[pieces.size() + 2];
    out[0] = clsId;
    for (int i = 0; i < pieces.size(); i++) {
      out[i + 1] = pieces.get(i);
    }
    out[out.length - 1] = sepId;
    return out;
  }

  /** A sentence pair as a cross-encoder reads it: the ids and each id's segment (0 or 1). */
  public record Pair(int[] ids, int[] typeIds) {
    public int length() {
      return ids.length;
    }
  }

  /**
   * {@code [CLS] first [SEP] second [SEP]}, segment 0 up to the first [SEP] and 1 after it, as
   * the {@code tokenizers} library's BERT pair template does, truncated to {@code maxLength} ids
   * from the right of the second text only (its {@code only_second} strategy: the query is
   * kept, the passage cut). A first text so long that it would leave the second no room (where
   * the library raises an error) is itself cut to half of {@code maxLength}.
   */
  public Pair encodePair(String first, String second, int maxLength) {
    if (maxLength < 4) {
      throw new IllegalArgumentException("maxLength must leave room for [CLS], two [SEP] and a token: " + maxLength);
    }
    List<Integer> a = pieces(first, maxLength - 3);
    if (a.size() > maxLength - 4) {
      a = a.subList(0, maxLength / 2 - 2);
    }
    List<Integer> b = pieces(second, maxLength - 3 - a.size());
    int n = a.size() + b.size() + 3;
    int[] ids = new int[n];
    int[] types = new int[n];
    int at = 0;
    ids[at++] = clsId;
    for (int id : a) {
      ids[at++] = id;
    }
    ids[at++] = sepId;
    int second0 = at;
    for (int id : b) {
      ids[at++] = id;
    }
    ids[at] = sepId;
    java.util.Arrays.fill(types, second0, n, 1);
    return new Pair(ids, types);
  }

  /** The word pieces of a text, no special tokens, at most {@code limit} of them (cut from the right). */
  private List<Integer> pieces(String text, int limit) {
    List<Integer> ids = new ArrayList<>();
    for (String segment : splitAddedTokens(text)) {
      if (ids.size() >= limit) {
        break;
      }
      Integer added = addedTokenIds.get(segment);
      if (added != null) {
        ids.add(added);
        continue;
      }
      for (String word : preTokenize(normalize(segment))) {
        wordPiece(word, ids);
        if (ids.size() >= limit) {
          break;
        }
      }
    }
    while (ids.size() > limit) {
      ids.removeLast();
    }
    return ids;
  }

  /** Splits around literal occurrences of added tokens, which bypass normalisation. */
  private List<String> splitAddedTokens(String text) {
    List<String> out = new ArrayList<>();
    int start = 0;
    int i = 0;
    outer:
    while (i < text.length()) {
      if (text.charAt(i) == '[') {
        for (String token : addedTokens) {
          if (text.startsWith(token, i)) {
            if (i > start) {
              out.add(text.substring(start, i));
            }
            out.add(token);
            i += token.length();
            start = i;
            continue outer;
          }
        }
      }
      i++;
    }
    if (start < text.length()) {
      out.add(text.substring(start));
    }
    return out;
  }

  String normalize(String text) {
    StringBuilder sb = new StringBuilder(text.length() + 16);
    text.codePoints().forEach(cp -> {
      if (cleanText) {
        if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
          return;
        }
        if (isWhitespace(cp)) {
          sb.append(' ');
          return;
        }
      }
      if (handleChineseChars && isChinese(cp)) {
        sb.append(' ').appendCodePoint(cp).append(' ');
      } else {
        sb.appendCodePoint(cp);
      }
    });
    String s = sb.toString();
    if (stripAccents) {
      String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
      StringBuilder stripped = new StringBuilder(nfd.length());
      nfd.codePoints().filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK)
          .forEach(stripped::appendCodePoint);
      s = stripped.toString();
    }
    if (lowercase) {
      // per code point, as tokenizers does: no context-sensitive final sigma
      StringBuilder lower = new StringBuilder(s.length());
      s.codePoints().forEach(cp -> {
        if (cp == 0x130) {
          lower.append("i\u0307");
        } else {
          lower.appendCodePoint(Character.toLowerCase(cp));
        }
      });
      s = lower.toString();
    }
    return s;
  }

  static List<String> preTokenize(String text) {
    List<String> words = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    text.codePoints().forEach(cp -> {
      if (isWhitespace(cp)) {
        flush(current, words);
      } else if (isPunctuation(cp)) {
        flush(current, words);
        words.add(new String(Character.toChars(cp)));
      } else {
        current.appendCodePoint(cp);
      }
    });
    flush(current, words);
    return words;
  }

  private static void flush(StringBuilder current, List<String> words) {
    if (!current.isEmpty()) {
      words.add(current.toString());
      current.setLength(0);
    }
  }

  private void wordPiece(String word, List<Integer> out) {
    if (word.codePointCount(0, word.length()) > maxInputCharsPerWord) {
      out.add(unkId);
      return;
    }
    int mark = out.size();
    int start = 0;
    while (start < word.length()) {
      int end = word.length();
      Integer found = null;
      while (start < end) {
        String piece = start > 0 ? subwordPrefix + word.substring(start, end) : word.substring(start, end);
        found = vocab.get(piece);
        if (found != null) {
          break;
        }
        end = Character.isLowSurrogate(word.charAt(end - 1)) && end - 2 >= start ? end - 2 : end - 1;
      }
      if (found == null) {
        while (out.size() > mark) {
          out.removeLast();
        }
        out.add(unkId);
        return;
      }
      out.add(found);
      start = end;
    }
  }

  /** Rust's char::is_whitespace (Unicode White_Space), as the tokenizers library uses it. */
  static boolean isWhitespace(int cp) {
    return switch (cp) {
      case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 -> true;
      default -> cp >= 0x2000 && cp <= 0x200A;
    };
  }

  static boolean isControl(int cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') {
      return false;
    }
    int type = Character.getType(cp);
    return type == Character.CONTROL || type == Character.FORMAT || type == Character.SURROGATE
        || type == Character.PRIVATE_USE || type == Character.UNASSIGNED;
  }

  static boolean isPunctuation(int cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
      return true;
    }
    return switch (Character.getType(cp)) {
      case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
           Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
           Character.OTHER_PUNCTUATION -> true;
      default -> false;
    };
  }

  static boolean isChinese(int cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
  }
}
