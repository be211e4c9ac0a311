package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A local directory ({@code file:} sources). Symlinks are followed, so a HuggingFace snapshot
 * folder works as a source; {@code .git} folders are skipped. A local directory vouches for no
 * digest: the fetch computes it, and the {@code sha256} pins of the config are what protects
 * against a changed or corrupted file.
 */
public final class FileSource implements ModelSource {

  /** Nothing to release: every file is opened per read and closed by its reader. */
  @Override
  public void close() {}

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    Path root = model.source().directory();
    if (!Files.isDirectory(root)) {
      throw new SourceException(
          model.name()
              + " - source directory "
              + root
              + " does not exist or is not a directory"
              + " (relative file: paths resolve against the config file's folder, or the working directory for the"
              + " embedded default)");
    }
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<SourceFile> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(root, FileVisitOption.FOLLOW_LINKS)) {
      for (Path file : (Iterable<Path>) walk::iterator) {
        String relative = relative(root, file);
        if (relative.isEmpty()
            || relative.equals(".git")
            || relative.startsWith(".git/")
            || !Files.isRegularFile(file)
            || !patterns.matches(relative)) {
          continue;
        }
        files.add(new SourceFile(relative, Files.size(file), null, null));
      }
    } catch (java.io.UncheckedIOException e) {
      if (e.getCause() instanceof FileSystemLoopException loop) {
        throw new SourceException(
            model.name() + " - symlink loop in source directory at " + loop.getFile(), loop);
      }
      throw e.getCause();
    }
    files.sort(Comparator.comparing(SourceFile::path));
    if (files.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - source directory "
              + root
              + " has no files"
              + (model.include().isEmpty() && model.exclude().isEmpty()
                  ? ""
                  : " matching include/exclude"));
    }
    return new Snapshot(null, files);
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    Path path = model.source().directory().resolve(file.path());
    try {
      FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
      channel.position(offset);
      InputStream in = Channels.newInputStream(channel);
      // a file that grew since it was listed is cut at the listed size; the fetch then checks the
      // digest
      return end >= file.size() ? in : new LimitedInputStream(in, end - offset);
    } catch (NoSuchFileException e) {
      throw new SourceException(
          model.name()
              + " - "
              + file.path()
              + " vanished from "
              + model.source().directory()
              + " while fetching",
          e);
    }
  }

  private static String relative(Path root, Path file) {
    return root.relativize(file).toString().replace(java.io.File.separatorChar, '/');
  }
}
