package dev.modelcache.inference;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The revisions a model keeps loaded beside the one it serves: the canary, which answers {@code
 * weight} % of the requests that name no revision, and the previous ones ({@code versions: N}),
 * which answer only the requests that name them. Immutable: a switch publishes a new one.
 *
 * @param previous newest first
 */
record Revisions(List<ModelEntry> previous, @Nullable ModelEntry canary, int weight) {
  static final Revisions NONE = new Revisions(List.of(), null, 0);

  /** The shortest commit prefix that addresses a revision. */
  static final int MIN_PREFIX = 7;

  private static final Pattern HEX = Pattern.compile("[0-9a-f]+");

  Revisions {
    previous = List.copyOf(previous);
  }

  /**
   * The entry that answers a request on {@code primary}: the one {@code revision} names, or (none
   * named) the canary for its share of the requests and the primary for the rest.
   *
   * @throws UnknownModelException when no loaded revision matches (404, naming those loaded)
   */
  static ModelEntry pick(ModelEntry primary, @Nullable String revision) {
    Revisions revisions = primary.revisions;
    if (revision == null) {
      ModelEntry canary = revisions.canary;
      if (canary != null
          && revisions.weight > 0
          && ThreadLocalRandom.current().nextInt(100) < revisions.weight) {
        return canary;
      }
      return primary;
    }
    List<ModelEntry> matches = new ArrayList<>();
    for (ModelEntry entry : revisions.all(primary)) {
      if (matches(entry, revision) && !matches.contains(entry)) {
        matches.add(entry);
      }
    }
    if (matches.size() == 1) {
      return matches.get(0);
    }
    String shown = revision.length() <= 64 ? revision : revision.substring(0, 64) + "...";
    throw new UnknownModelException(
        "model '"
            + primary.name()
            + "' has "
            + (matches.isEmpty() ? "no revision '" : "more than one revision matching '")
            + shown
            + "' loaded"
            + (matches.isEmpty() ? "" : " (give more of the commit id)")
            + "; loaded: "
            + String.join(", ", revisions.loaded(primary).stream().map(Revisions::shown).toList()));
  }

  private static String shown(LoadedRevision loaded) {
    return loaded.revision() + " (" + loaded.role() + ")";
  }

  /**
   * Whether {@code revision} names the entry's revision: its full id, a prefix of at least {@link
   * #MIN_PREFIX} hex digits of it, or the ref its config names ({@code main}, a tag).
   */
  private static boolean matches(ModelEntry entry, String revision) {
    Object prepared = entry.prepared;
    if (prepared == null) {
      return false;
    }
    String id = entry.revisionId();
    if (id.equals(revision)) {
      return true;
    }
    String lower = revision.toLowerCase(Locale.ROOT);
    if (lower.length() >= MIN_PREFIX && HEX.matcher(lower).matches() && id.startsWith(lower)) {
      return true;
    }
    return revision.equals(entry.config.source().revision());
  }

  /** The primary, the canary and the previous revisions, in that order. */
  List<ModelEntry> all(ModelEntry primary) {
    List<ModelEntry> all = new ArrayList<>();
    all.add(primary);
    if (canary != null) {
      all.add(canary);
    }
    all.addAll(previous);
    return all;
  }

  /** The revisions loaded (or ready to load), each with its role. */
  List<LoadedRevision> loaded(ModelEntry primary) {
    List<LoadedRevision> loaded = new ArrayList<>();
    if (primary.prepared != null) {
      loaded.add(new LoadedRevision(primary.revisionId(), "primary"));
    }
    if (canary != null && canary.prepared != null) {
      loaded.add(new LoadedRevision(canary.revisionId(), "canary"));
    }
    for (ModelEntry entry : previous) {
      loaded.add(new LoadedRevision(entry.revisionId(), "previous"));
    }
    return loaded;
  }
}
