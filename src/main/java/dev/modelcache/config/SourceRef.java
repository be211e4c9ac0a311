package dev.modelcache.config;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Where a model comes from, parsed from its {@code source:} string.
 *
 * <ul>
 *   <li>{@code file:relative/or/absolute/dir}: {@code location} is the resolved absolute directory;
 *   <li>{@code hf://org/name[@revision]}: {@code location} is {@code org/name}, {@code revision}
 *       defaults to {@code main}, {@code repoType} is {@code model} or {@code dataset};
 *   <li>{@code s3://bucket/prefix}: {@code location} is {@code bucket/prefix}.
 * </ul>
 */
public record SourceRef(
    Scheme scheme,
    String location,
    @Nullable String revision,
    @Nullable String repoType,
    String text) {

  /** The kinds of source. */
  public enum Scheme {
    FILE,
    HF,
    S3
  }

  public Path directory() {
    if (scheme != Scheme.FILE) {
      throw new IllegalStateException("not a file: source: " + text);
    }
    return Path.of(location);
  }

  @Override
  public String toString() {
    return text;
  }
}
