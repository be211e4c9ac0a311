package dev.modelcache.source;

import java.util.List;

/**
 * What a source holds for one model at one revision.
 *
 * @param revision the upstream revision when the source has one (a commit, a version), else null
 */
public record Snapshot(String revision, List<SourceFile> files) {
  public Snapshot {
    files = List.copyOf(files);
  }

  public long totalBytes() {
    return files.stream().mapToLong(SourceFile::size).sum();
  }
}
