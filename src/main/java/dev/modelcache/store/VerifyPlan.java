package dev.modelcache.store;

import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import dev.modelcache.store.Verifier.Problem;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;

/**
 * One model of a {@link Verifier} run between planning ({@link VerifyPlanner}: what was found
 * without reading bytes, and which files to hash) and resolution ({@link VerifyResolver}).
 */
final class VerifyPlan {
  final ModelConfig model;
  final VerifyMode mode;
  final List<Problem> problems = new ArrayList<>();
  final List<InstalledFile> toHash = new ArrayList<>();
  final Map<InstalledFile, Future<Hashed>> hashes = new LinkedHashMap<>();

  /** The real path of each file to hash: what a load reads ({@link CacheStore#realPath}). */
  final Map<InstalledFile, Path> real = new HashMap<>();

  @Nullable InstalledSnapshot snapshot;
  boolean foldersUnsafe;
  long nanos;

  VerifyPlan(ModelConfig model, VerifyMode mode) {
    this.model = model;
    this.mode = mode;
  }

  /**
   * A file's bytes as hashed.
   *
   * @param stamp the file's stamp, or null when it changed while it was read
   */
  record Hashed(String sha256, @Nullable FileStamp stamp, long nanos) {}
}
