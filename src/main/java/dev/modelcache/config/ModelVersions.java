package dev.modelcache.config;

import org.jspecify.annotations.Nullable;

/**
 * How many revisions of a model stay loaded side by side, and the canary that takes a share of its
 * traffic: a model's {@code versions:} and {@code canary:} keys.
 *
 * @param keep revisions kept loaded ({@code versions: N}): the one served plus up to {@code N - 1}
 *     it replaced, which stay addressable by revision until a newer switch pushes them out
 * @param canary a second revision that takes {@code weight} % of the requests that name no
 *     revision, or null
 */
public record ModelVersions(int keep, @Nullable Canary canary) {
  /** The most revisions one model may keep loaded. */
  public static final int MAX_KEEP = 8;

  /** One revision, no canary: the default. */
  public static final ModelVersions ONE = new ModelVersions(1, null);

  public ModelVersions {
    if (keep < 1 || keep > MAX_KEEP) {
      throw new IllegalArgumentException("keep (" + keep + ") must be 1 to " + MAX_KEEP);
    }
  }

  /**
   * A canary: a Hub revision (commit, branch or tag) loaded beside the model's own.
   *
   * @param weight the percentage (0 to 100) of the requests that name no revision it answers
   */
  public record Canary(String revision, int weight) {
    public Canary {
      if (weight < 0 || weight > 100) {
        throw new IllegalArgumentException("weight (" + weight + ") must be 0 to 100");
      }
    }
  }

  /**
   * The canary's model: {@code model} at the canary's revision, without the pins, which name the
   * bytes of the model's own revision (the canary's files are checked against the Hub's digests).
   */
  public static ModelConfig canaryOf(ModelConfig model) {
    Canary canary = model.versions().canary();
    if (canary == null) {
      throw new IllegalStateException(model.name() + " has no canary");
    }
    SourceRef source = model.source();
    SourceRef at =
        new SourceRef(
            source.scheme(),
            source.location(),
            canary.revision(),
            source.repoType(),
            "hf://" + source.location() + "@" + canary.revision());
    return model.with(at, java.util.Map.of());
  }
}
