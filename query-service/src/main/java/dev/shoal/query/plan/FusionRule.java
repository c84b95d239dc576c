package dev.shoal.query.plan;

import dev.shoal.api.v1.FusionParams;

/**
 * A named way of combining ranked lists, which makes {@link Fusion} values from a request's
 * {@code FusionParams}.
 *
 * <p>Extending: implement this interface and list the class in
 * {@code META-INF/services/dev.shoal.query.plan.FusionRule}; requests name it in
 * {@code FusionParams.rule}. Contract: stateless and thread-safe.
 */
public interface FusionRule {

  /** Unique among rules; what {@code FusionParams.rule} names. */
  String name();

  /**
   * The rule with the request's parameters.
   *
   * @param params   the request's fusion parameters (already checked to be within the documented limits)
   * @param defaults the deployment's fusion, for parameters the request leaves at 0
   * @throws IllegalArgumentException for parameters this rule cannot use (sent back as INVALID_ARGUMENT)
   */
  Fusion create(FusionParams params, Fusion defaults);
}
