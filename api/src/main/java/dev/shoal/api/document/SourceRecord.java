package dev.shoal.api.document;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;

/** One parsed record of {@code shoal.docs}: an upsert of a whole document, or a delete by id. */
public record SourceRecord(Operation op, Document document) {
}
