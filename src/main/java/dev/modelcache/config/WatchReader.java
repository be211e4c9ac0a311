package dev.modelcache.config;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reads a model's {@code watch:} ({@code {interval: 10m}}), and refuses it on a model that cannot
 * move by itself: one pinned by a commit, by {@code sha256} pins or S3 {@code version_ids}, and
 * {@code file:} and {@code url} models, which have no branch to follow.
 */
final class WatchReader {
  private static final Pattern DURATION = Pattern.compile("([0-9]{1,9})\\s*(ms|s|m|h|d)");
  private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

  private WatchReader() {}

  /** The {@code watch:} mapping of {@code node}, or null when the model has none. */
  static @Nullable WatchConfig read(ConfigNode node) {
    boolean given = node.has("watch"); // watch: {} watches at the default interval
    ConfigNode watch = node.child("watch");
    if (!given) {
      watch.finish();
      return null;
    }
    String text = watch.string("interval", "10m");
    watch.finish();
    Duration interval = duration(watch, text);
    if (interval.compareTo(WatchConfig.MIN_INTERVAL) < 0
        || interval.compareTo(WatchConfig.MAX_INTERVAL) > 0) {
      throw watch.error(watch.qualify("interval"), "must be between 1s and 7d, not '" + text + "'");
    }
    return new WatchConfig(interval);
  }

  /** {@code 500ms}, {@code 30s}, {@code 10m}, {@code 1h}, {@code 1d}. */
  static Duration duration(ConfigNode node, String text) {
    Matcher m = DURATION.matcher(text.strip().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw node.error(
          node.qualify("interval"),
          "must be a duration such as 30s, 10m or 1h (units ms, s, m, h, d), not '" + text + "'");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /**
   * Fails when {@code watch} is set on a model that never moves by itself; {@code name} and the
   * reason are in the message.
   */
  static void check(
      ConfigNode node,
      String name,
      @Nullable WatchConfig watch,
      SourceRef source,
      Map<String, String> pins,
      Map<String, String> versionIds) {
    if (watch == null) {
      return;
    }
    String why = null;
    if (source.scheme() == SourceRef.Scheme.FILE || source.scheme() == SourceRef.Scheme.URL) {
      why =
          "a "
              + (source.scheme() == SourceRef.Scheme.FILE ? "file:" : "url")
              + " source has no branch to follow (change the config and reload instead)";
    } else if (source.revision() != null && COMMIT.matcher(source.revision()).matches()) {
      why = "its source is pinned to commit " + source.revision() + ", which never moves";
    } else if (!pins.isEmpty()) {
      why = "its sha256 pins hold it to those bytes, which a moved branch would not match";
    } else if (!versionIds.isEmpty()) {
      why = "its version_ids hold it to those object versions";
    }
    if (why != null) {
      throw node.error(
          node.qualify("watch"),
          "cannot watch model '" + name + "': " + why + "; remove watch: or the pin");
    }
  }
}
