package dev.shoal.query;

/** What a query service's warm-up did: searches run (including failed ones), failed searches, seconds taken. */
public record WarmupReport(int searches, int failed, double seconds) {
}
