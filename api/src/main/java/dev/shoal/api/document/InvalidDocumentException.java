package dev.shoal.api.document;

/** A record on {@code shoal.docs} that breaks the document format; the message is the reason. */
public final class InvalidDocumentException extends Exception {
  public InvalidDocumentException(String reason) {
    super(reason);
  }
}
