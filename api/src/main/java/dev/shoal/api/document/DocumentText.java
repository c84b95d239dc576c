package dev.shoal.api.document;

import dev.shoal.api.v1.Document;

/**
 * The text of a document that the models read: its title and text as one passage, as BEIR
 * evaluations embed them. The enricher embeds it and a model rescorer re-reads it, so both see the
 * same words. Stateless.
 */
public final class DocumentText {

  private DocumentText() {
  }

  /** {@code "title. text"}, or the text alone when there is no title. */
  public static String passage(Document d) {
    return d.getTitle().isEmpty() ? d.getText() : d.getTitle() + ". " + d.getText();
  }
}
