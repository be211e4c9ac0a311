package dev.modelcache.store;

import static dev.modelcache.store.CacheLayout.checkedSegment;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Downloads in progress and their locks: throw-away parts under {@code .modelcache/tmp}, resumable
 * ones under {@code .modelcache/parts}, one lock per blob under {@code .modelcache/locks} (see
 * {@link CacheStore#part}).
 */
final class PartFiles {
  private final CacheLayout layout;

  PartFiles(CacheLayout layout) {
    this.layout = layout;
  }

  PartFile newPart(long gitBlobSize) throws IOException {
    Files.createDirectories(layout.tempDir());
    return new PartFile(layout.tempDir().resolve(UUID.randomUUID() + ".part"), gitBlobSize);
  }

  RangedPart newRangedPart(long size, int parts, boolean gitBlob) throws IOException {
    Files.createDirectories(layout.tempDir());
    return new RangedPart(
        layout.tempDir().resolve(UUID.randomUUID() + ".part"), size, parts, gitBlob);
  }

  BlobLock lock(ModelConfig model, String key, Consumer<String> waiting) throws IOException {
    return BlobLock.acquire(
        layout.stateDir("locks", model).resolve(checkedSegment(key) + ".lock"), waiting);
  }

  PartFile part(ModelConfig model, String key, long size, long gitBlobSize, BlobLock lock)
      throws IOException {
    if (!lock.crossProcess()) {
      return newPart(gitBlobSize); // another process may be at the same blob: a name of its own
    }
    Path dir = layout.stateDir("parts", model);
    Files.createDirectories(dir);
    return new PartFile(dir.resolve(checkedSegment(key) + ".part"), gitBlobSize, size, true);
  }

  RangedPart rangedPart(
      ModelConfig model, String key, long size, int parts, boolean gitBlob, BlobLock lock)
      throws IOException {
    if (!lock.crossProcess()) {
      return newRangedPart(size, parts, gitBlob);
    }
    Path dir = layout.stateDir("parts", model);
    Files.createDirectories(dir);
    return new RangedPart(dir.resolve(checkedSegment(key) + ".ranged"), size, parts, gitBlob, true);
  }

  long partBytes(ModelConfig model, String key) {
    Path dir = layout.stateDir("parts", model);
    long bytes = 0;
    for (String suffix : List.of(".part", ".ranged")) {
      try {
        bytes = Math.max(bytes, Files.size(dir.resolve(key + suffix)));
      } catch (IOException e) {
        // no such part yet
      }
    }
    return bytes;
  }
}
