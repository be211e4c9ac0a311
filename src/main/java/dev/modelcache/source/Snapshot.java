package dev.modelcache.source;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What a source holds for one model at one revision.
 *
 * @param revision the upstream revision when the source has one (a commit, a version), else null
 * @param files the files of the model, after its include/exclude patterns
 * @param tree the Hub's whole tree listing of the commit (every file, before patterns), empty for
 *     other sources
 */
public record Snapshot(@Nullable String revision, List<SourceFile> files, List<TreeFile> tree) {
  public Snapshot {
    files = List.copyOf(files);
    tree = List.copyOf(tree);
  }

  public Snapshot(@Nullable String revision, List<SourceFile> files) {
    this(revision, files, List.of());
  }

  public long totalBytes() {
    return files.stream().mapToLong(SourceFile::size).sum();
  }
}
