package dev.shoal.indexnode.shard;

/**
 * A query vector from another embedding model than the one that embedded the shard's passages
 * (or of another dimension): the cosines would be meaningless, so the shard refuses the leg.
 */
public final class ModelMismatchException extends RuntimeException {
  public ModelMismatchException(String message) {
    super(message);
  }
}
