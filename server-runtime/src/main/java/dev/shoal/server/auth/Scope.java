package dev.shoal.server.auth;

import java.util.Locale;

/** What an API key may do. Named in key files in lower case. */
public enum Scope {
  /** SearchService: Search and Get; the HTTP search and document routes. */
  SEARCH,
  /** IngestService. */
  INGEST,
  /** Cluster status, metrics and any operator call. */
  ADMIN;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** @throws IllegalArgumentException naming the scopes there are */
  public static Scope parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown scope '" + s + "' (search, ingest, admin)");
    }
  }
}
