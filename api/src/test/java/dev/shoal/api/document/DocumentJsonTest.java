package dev.shoal.api.document;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.KeywordList;
import dev.shoal.api.v1.Operation;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DocumentJsonTest {

  private static SourceRecord parse(String key, String json) throws InvalidDocumentException {
    return DocumentJson.parse(key == null ? null : key.getBytes(StandardCharsets.UTF_8),
        json.getBytes(StandardCharsets.UTF_8));
  }

  private static String reason(String key, String json) {
    return assertThrows(InvalidDocumentException.class, () -> parse(key, json)).getMessage();
  }

  @Test
  void parsesAFullDocument() throws Exception {
    SourceRecord r = parse("42", """
        {"id": "42", "title": "T", "text": "body", "fields": {"year": 2019, "lang": "en", "tags": ["a", "b"]}}""");
    assertEquals(Operation.UPSERT, r.op());
    assertEquals("42", r.document().getId());
    assertEquals("T", r.document().getTitle());
    assertEquals("body", r.document().getText());
    assertEquals(2019.0, r.document().getFieldsMap().get("year").getNumber());
    assertEquals("en", r.document().getFieldsMap().get("lang").getKeyword());
    assertEquals(java.util.List.of("a", "b"), r.document().getFieldsMap().get("tags").getKeywords().getValuesList());
  }

  @Test
  void deleteNeedsOnlyTheId() throws Exception {
    SourceRecord r = parse("7", "{\"id\": \"7\", \"op\": \"delete\"}");
    assertEquals(Operation.DELETE, r.op());
    assertEquals("7", r.document().getId());
  }

  @Test
  void rejectsMalformedRecordsWithAReasonThatSaysWhat() {
    assertTrue(reason("1", "{not json").startsWith("not JSON"));
    assertTrue(reason("1", "[1,2]").contains("expected a JSON object"));
    assertEquals("missing 'id'", reason(null, "{\"title\": \"x\"}"));
    assertTrue(reason(null, "{\"id\": {\"a\": 1}}").contains("'id' must be a string"));
    assertTrue(reason("1", "{\"id\": \"1\", \"title\": 5}").contains("'title' must be a string"));
    assertTrue(reason("1", "{\"id\": \"1\", \"op\": \"merge\"}").contains("'op' must be"));
    assertTrue(reason("1", "{\"id\": \"1\", \"fields\": {\"bad name\": 1}}").contains("must match"));
    assertTrue(reason("1", "{\"id\": \"1\", \"fields\": {\"x\": {\"y\": 1}}}").contains("field 'x' must be"));
    assertTrue(reason("1", "{\"id\": \"1\", \"fields\": {\"x\": [1]}}").contains("strings only"));
    assertTrue(reason("other", "{\"id\": \"1\"}").contains("differs from id"));
    assertTrue(reason("1", "{\"id\": \"1\", \"text\": \"" + "a".repeat(DocumentJson.MAX_TEXT_CHARS + 1) + "\"}")
        .contains("the limit is " + DocumentJson.MAX_TEXT_CHARS));
    assertTrue(reason("", "").contains("empty"));
  }

  @Test
  void writeThenParseIsTheIdentity() throws Exception {
    Document d = Document.newBuilder().setId("doc-1").setTitle("Title \"quoted\"").setText("naïve text\n")
        .putFields("n", FieldValue.newBuilder().setNumber(2.5).build())
        .putFields("k", FieldValue.newBuilder().setKeyword("v").build())
        .putFields("l", FieldValue.newBuilder().setKeywords(KeywordList.newBuilder().addValues("x").addValues("y")).build())
        .build();
    SourceRecord back = DocumentJson.parse("doc-1".getBytes(StandardCharsets.UTF_8), DocumentJson.write(d, Operation.UPSERT));
    assertEquals(d, back.document());
  }

  @Test
  void rejectsIdsWithControlCharactersSoNoIdCanPoseAsStoreMetadata() {
    String reason = reason(null, "{\"id\": \"\\u0000meta.offset\", \"text\": \"vitamin\"}");
    assertTrue(reason.contains("control character U+0000 at index 0"), reason);
    assertTrue(reason(null, "{\"id\": \"a\\nb\"}").contains("U+000A at index 1"));
    assertTrue(reason(null, "{\"id\": \"a\\u0085\"}").contains("U+0085"));
    assertTrue(reason(null, "{\"id\": \"x\\ud800\"}").contains("unpaired surrogate at index 1"));
  }

  @Test
  void acceptsPrintableUnicodeIds() throws Exception {
    assertEquals("caf\u00e9/\ud83d\ude00 #1", parse(null, "{\"id\": \"caf\u00e9/\ud83d\ude00 #1\"}").document().getId());
  }

  @Test
  void rejectsDuplicateKeysInsteadOfKeepingTheLast() {
    assertTrue(reason("1", "{\"id\": \"1\", \"text\": \"a\", \"text\": \"b\"}").contains("Duplicate field 'text'"));
    assertTrue(reason("1", "{\"id\": \"1\", \"fields\": {\"y\": 1, \"y\": 2}}").contains("Duplicate field 'y'"));
  }

  @Test
  void rejectsBytesAfterTheObject() {
    assertTrue(reason("1", "{\"id\": \"1\"} {\"id\": \"2\"}").startsWith("not JSON"));
    assertTrue(reason("1", "{\"id\": \"1\"}garbage").startsWith("not JSON"));
  }
}
