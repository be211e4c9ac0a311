package dev.modelcache.config;

import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/** Reads and checks a model's {@code versions:} and {@code canary:} keys. */
final class VersionsReader {
  /** A Hub revision: a commit, branch or tag name (no spaces, no '..', no leading '/'). */
  private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9._/-]{1,200}");

  private VersionsReader() {}

  /**
   * @param keep the {@code versions:} value, already range-checked
   * @param canary the {@code canary:} mapping (empty when not given)
   */
  static ModelVersions read(
      ConfigNode node,
      int keep,
      ConfigNode canary,
      SourceRef source,
      @Nullable String ownRevision) {
    if (canary.isEmpty()) {
      canary.finish();
      return keep == 1 ? ModelVersions.ONE : new ModelVersions(keep, null);
    }
    String revision = canary.string("revision");
    int weight = canary.integer("weight", 10, 0, 100);
    canary.finish();
    if (source.scheme() != SourceRef.Scheme.HF) {
      throw node.error(
          node.qualify("canary"),
          "only applies to hf:// models (a canary is another Hub revision of the same repo); "
              + source.text()
              + " has no revisions to choose from: serve the other version as a model of its own");
    }
    if (revision == null || revision.isBlank()) {
      throw node.error(
          node.qualify("canary") + ".revision",
          "is missing: name the Hub revision (commit, branch or tag) to try, such as"
              + " revision: 4f1c2e9 or revision: v2");
    }
    String rev = revision.strip();
    if (!REVISION.matcher(rev).matches() || rev.contains("..") || rev.startsWith("/")) {
      throw node.error(
          node.qualify("canary") + ".revision",
          "'" + revision + "' is not a Hub revision (a commit id, branch or tag name)");
    }
    String own = ownRevision == null ? "main" : ownRevision;
    if (rev.equals(own)) {
      throw node.error(
          node.qualify("canary") + ".revision",
          "'"
              + rev
              + "' is the model's own revision: a canary must be another one (to promote it,"
              + " set the source's @revision and remove canary:)");
    }
    return new ModelVersions(keep, new ModelVersions.Canary(rev, weight));
  }
}
