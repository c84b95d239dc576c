package dev.shoal.api.document;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.KeywordList;
import dev.shoal.api.v1.Operation;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The JSON document format of topic {@code shoal.docs} (README: Document format).
 *
 * <pre>{"id": "42", "title": "...", "text": "...", "fields": {"year": 2019, "lang": "en",
 *  "tags": ["a", "b"]}, "op": "upsert"}</pre>
 *
 * <p>Limits, each checked with a reason that names it: id 1..{@value #MAX_ID_CHARS} printable
 * characters (no control characters);
 * title at most {@value #MAX_TITLE_CHARS}; text at most {@value #MAX_TEXT_CHARS}; at most
 * {@value #MAX_FIELDS} fields named {@code [A-Za-z0-9_.-]{1,64}}; keyword values at most
 * {@value #MAX_KEYWORD_CHARS} characters, at most {@value #MAX_KEYWORDS} in a list; numbers finite.
 * A record whose Kafka key differs from its id is rejected: the key decides the shard. A duplicate
 * key anywhere in the object, or anything after it, is rejected rather than read one way.
 *
 * <p>Stateless and thread-safe.
 */
public final class DocumentJson {

  public static final int MAX_ID_CHARS = 512;
  public static final int MAX_TITLE_CHARS = 4_096;
  public static final int MAX_TEXT_CHARS = 1_000_000;
  public static final int MAX_FIELDS = 64;
  public static final int MAX_KEYWORD_CHARS = 1_024;
  public static final int MAX_KEYWORDS = 256;
  private static final Pattern FIELD_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
  /** Duplicate keys and bytes after the object are errors: a record means one thing or is rejected. */
  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  private DocumentJson() {
  }

  /**
   * Parses and validates one record.
   *
   * @param key   the Kafka record key, or null when there is none
   * @param value the record value (UTF-8 JSON)
   */
  public static SourceRecord parse(byte[] key, byte[] value) throws InvalidDocumentException {
    if (value == null || value.length == 0) {
      throw new InvalidDocumentException("empty record value: expected a JSON object");
    }
    JsonNode root;
    try {
      root = MAPPER.readTree(value);
    } catch (java.io.IOException e) {
      throw new InvalidDocumentException("not JSON: " + firstLine(e.getMessage()));
    }
    if (root == null || !root.isObject()) {
      throw new InvalidDocumentException("expected a JSON object, got " + (root == null ? "nothing" : root.getNodeType()));
    }
    JsonNode idNode = root.get("id");
    if (idNode == null || idNode.isNull()) {
      throw new InvalidDocumentException("missing 'id'");
    }
    if (!idNode.isTextual() && !idNode.isIntegralNumber()) {
      throw new InvalidDocumentException("'id' must be a string, got " + idNode.getNodeType());
    }
    String id = idNode.asText();
    if (id.isEmpty() || id.length() > MAX_ID_CHARS) {
      throw new InvalidDocumentException("'id' must have 1.." + MAX_ID_CHARS + " characters, has " + id.length());
    }
    checkIdCharacters(id);
    if (key != null) {
      String k = new String(key, StandardCharsets.UTF_8);
      if (!k.equals(id)) {
        throw new InvalidDocumentException("record key '" + abbreviate(k) + "' differs from id '" + abbreviate(id)
            + "': key every record by its document id");
      }
    }
    Operation op = parseOp(root.get("op"));
    Document.Builder doc = Document.newBuilder().setId(id);
    if (op == Operation.DELETE) {
      return new SourceRecord(op, doc.build());
    }
    doc.setTitle(text(root, "title", MAX_TITLE_CHARS));
    doc.setText(text(root, "text", MAX_TEXT_CHARS));
    JsonNode fields = root.get("fields");
    if (fields != null && !fields.isNull()) {
      if (!fields.isObject()) {
        throw new InvalidDocumentException("'fields' must be an object, got " + fields.getNodeType());
      }
      if (fields.size() > MAX_FIELDS) {
        throw new InvalidDocumentException("'fields' has " + fields.size() + " entries, the limit is " + MAX_FIELDS);
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = fields.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!FIELD_NAME.matcher(e.getKey()).matches()) {
          throw new InvalidDocumentException("field name '" + abbreviate(e.getKey()) + "' must match [A-Za-z0-9_.-]{1,64}");
        }
        doc.putFields(e.getKey(), fieldValue(e.getKey(), e.getValue()));
      }
    }
    return new SourceRecord(op, doc.build());
  }

  /**
   * Ids are printable: a control character (U+0000..U+001F, U+007F..U+009F) or a lone surrogate
   * (which has no UTF-8 form, so the Kafka key would not round-trip) is rejected with its position.
   */
  static void checkIdCharacters(String id) throws InvalidDocumentException {
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if (Character.isISOControl(c)) {
        throw new InvalidDocumentException(String.format("'id' has control character U+%04X at index %d: ids must "
            + "be printable text", (int) c, i));
      }
      if (Character.isSurrogate(c)) {
        boolean paired = Character.isHighSurrogate(c) && i + 1 < id.length() && Character.isLowSurrogate(id.charAt(i + 1));
        if (!paired) {
          throw new InvalidDocumentException("'id' has an unpaired surrogate at index " + i + ": ids must be valid "
              + "Unicode text");
        }
        i++;
      }
    }
  }

  private static Operation parseOp(JsonNode op) throws InvalidDocumentException {
    if (op == null || op.isNull()) {
      return Operation.UPSERT;
    }
    return switch (op.isTextual() ? op.asText() : "") {
      case "upsert" -> Operation.UPSERT;
      case "delete" -> Operation.DELETE;
      default -> throw new InvalidDocumentException("'op' must be \"upsert\" or \"delete\", got " + abbreviate(op.toString()));
    };
  }

  private static String text(JsonNode root, String name, int max) throws InvalidDocumentException {
    JsonNode n = root.get(name);
    if (n == null || n.isNull()) {
      return "";
    }
    if (!n.isTextual()) {
      throw new InvalidDocumentException("'" + name + "' must be a string, got " + n.getNodeType());
    }
    String s = n.asText();
    if (s.length() > max) {
      throw new InvalidDocumentException("'" + name + "' has " + s.length() + " characters, the limit is " + max);
    }
    return s;
  }

  private static FieldValue fieldValue(String name, JsonNode v) throws InvalidDocumentException {
    if (v.isTextual()) {
      return FieldValue.newBuilder().setKeyword(keyword(name, v.asText())).build();
    }
    if (v.isNumber()) {
      double d = v.asDouble();
      if (!Double.isFinite(d)) {
        throw new InvalidDocumentException("field '" + name + "' is not a finite number");
      }
      return FieldValue.newBuilder().setNumber(d).build();
    }
    if (v.isArray()) {
      if (v.size() > MAX_KEYWORDS) {
        throw new InvalidDocumentException("field '" + name + "' has " + v.size() + " values, the limit is " + MAX_KEYWORDS);
      }
      KeywordList.Builder list = KeywordList.newBuilder();
      for (JsonNode item : v) {
        if (!item.isTextual()) {
          throw new InvalidDocumentException("field '" + name + "' must list strings only, found " + item.getNodeType());
        }
        list.addValues(keyword(name, item.asText()));
      }
      return FieldValue.newBuilder().setKeywords(list).build();
    }
    throw new InvalidDocumentException("field '" + name + "' must be a string, a number or a list of strings, got "
        + v.getNodeType());
  }

  private static String keyword(String name, String s) throws InvalidDocumentException {
    if (s.length() > MAX_KEYWORD_CHARS) {
      throw new InvalidDocumentException("field '" + name + "' value has " + s.length() + " characters, the limit is "
          + MAX_KEYWORD_CHARS);
    }
    return s;
  }

  /** The JSON form of a document, as a pipeline would write it. */
  public static byte[] write(Document doc, Operation op) {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("id", doc.getId());
    if (op == Operation.DELETE) {
      root.put("op", "delete");
    } else {
      root.put("title", doc.getTitle());
      root.put("text", doc.getText());
      if (doc.getFieldsCount() > 0) {
        ObjectNode fields = root.putObject("fields");
        doc.getFieldsMap().forEach((k, v) -> {
          switch (v.getKindCase()) {
            case KEYWORD -> fields.put(k, v.getKeyword());
            case NUMBER -> fields.put(k, v.getNumber());
            case KEYWORDS -> {
              ArrayNode arr = fields.putArray(k);
              v.getKeywords().getValuesList().forEach(arr::add);
            }
            default -> { }
          }
        });
      }
    }
    try {
      return MAPPER.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "unreadable";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}
