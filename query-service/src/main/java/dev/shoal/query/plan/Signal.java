package dev.shoal.query.plan;

/**
 * One signal of one candidate as a fusion rule sees it: its score, its 1-based rank in the merged
 * list (0 = the candidate is not in that list) and the range of the list's scores, for rules that
 * normalise. Immutable.
 */
public record Signal(String name, double weight, double score, int rank, double min, double max) {
}
