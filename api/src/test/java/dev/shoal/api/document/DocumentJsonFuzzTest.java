package dev.shoal.api.document;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Coverage-guided fuzzing of the document parser (Jazzer). In the default suite it replays the
 * regression corpus under {@code src/test/resources/dev/shoal/api/document/DocumentJsonFuzzTestInputs};
 * {@code .ci/fuzz} fuzzes it for its budget (as every target).
 *
 * <p>What must hold for any bytes: a record either parses or is refused with
 * {@link InvalidDocumentException} (which puts it in the dead-letter topic with its reason),
 * never another exception; and what parses, written back and parsed again, is the same document.
 */
class DocumentJsonFuzzTest {

  @FuzzTest(maxDuration = "2m")
  @DictionaryEntries({"{", "}", "[", "]", ":", ",", "\"", "null", "true", "1e308", "-0", "\\u0000", "\"id\"",
      "\"title\"", "\"text\"", "\"fields\"", "\"op\"", "\"delete\"", "\"upsert\"", "\"year\""})
  void anyRecordParsesOrIsRefusedWithAReasonAndRoundTrips(byte[] value) {
    SourceRecord parsed;
    try {
      parsed = DocumentJson.parse(null, value);
    } catch (InvalidDocumentException refused) {
      return;
    }
    byte[] written = DocumentJson.write(parsed.document(), parsed.op());
    SourceRecord again;
    try {
      again = DocumentJson.parse(parsed.document().getId().getBytes(StandardCharsets.UTF_8), written);
    } catch (InvalidDocumentException e) {
      throw new AssertionError("a parsed document, written back, is refused: " + e.getMessage(), e);
    }
    assertEquals(parsed, again, "write then parse returns the same record");
  }
}
