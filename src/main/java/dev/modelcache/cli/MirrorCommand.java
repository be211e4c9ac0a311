package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigException;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.source.S3Mirror;
import dev.modelcache.source.S3Source;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * {@code modelcache mirror SOURCE s3://bucket/prefix}: fetch and verify a model into the cache (as
 * {@code fetch} does), then copy its files to the bucket, each object with its {@code
 * x-amz-checksum-sha256}, and a {@code modelcache.lock} object beside them, so that sidecars fetch
 * from the bucket fully verified instead of all hitting the Hub.
 *
 * <pre>
 * modelcache mirror -c modelcache.yaml hf://org/model@v1 s3://models/org/model
 * modelcache mirror -c modelcache.yaml classifier s3://models/classifier   # a model of the config
 * </pre>
 */
@Command(
    name = "mirror",
    description =
        "Fetch and verify a model, then copy it to s3://bucket/prefix: every object with its SHA-256"
            + " checksum, and a modelcache.lock object naming every file's size and SHA-256. The"
            + " bucket is reached with sources.s3 of the config.")
final class MirrorCommand implements Callable<Integer> {
  @Mixin ConfigOption config;

  @Parameters(
      index = "0",
      paramLabel = "SOURCE",
      description =
          "a model name of the config, or a source: hf://org/name[@revision], file:dir or"
              + " s3://bucket/prefix")
  String source;

  @Parameters(index = "1", paramLabel = "TARGET", description = "s3://bucket/prefix to copy to")
  String target;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ConfigLoader loader = new ConfigLoader(System.getenv(), Path.of(""));
    Optional<ModelConfig> configured = loaded.model(source);
    ModelConfig model = configured.orElseGet(() -> loader.model(loaded, "mirror", source));
    ModelConfig to = loader.model(loaded, model.name(), target);
    if (to.source().scheme() != SourceRef.Scheme.S3) {
      throw new ConfigException(
          "mirror: TARGET '"
              + target
              + "' is not s3://{bucket}/{prefix}; only S3 can be mirrored to");
    }
    Clock clock = Clock.systemUTC();
    List<String> names = List.of(model.name());
    CacheStore store = new CacheStore(loaded.cache());
    Optional<Lockfile.Locked> lock =
        configured.isPresent()
            ? ConfigOption.lockfile(loaded).model(model.name())
            : Optional.empty();
    try (Sources sources = Sources.all(loaded);
        Fetcher fetcher =
            sources.fetcher(
                loaded, store, new ModelStates(names, Set.copyOf(names), clock), clock);
        S3Client s3 = S3Source.client(loaded.sources().s3(), true)) {
      InstalledSnapshot snapshot = fetcher.fetch(model, lock, false);
      List<S3Mirror.Upload> uploads =
          snapshot.files().stream()
              .map(f -> new S3Mirror.Upload(f.path(), f.size(), f.sha256(), f.blob()))
              .toList();
      String lockJson =
          Lockfile.empty()
              .with(model.name(), Lockfile.Locked.of(to.source().text(), snapshot))
              .toJson();
      S3Mirror.Result result = S3Mirror.mirror(s3, to, uploads, lockJson);
      report(model, to, snapshot, result, out, err);
      return 0;
    } catch (IOException e) {
      err.printf("FAILED mirror %s to %s: %s%n", model.source(), target, e.getMessage());
      return 1;
    } finally {
      out.flush();
      err.flush();
    }
  }

  /** The strays left in the target (WARN) and the one line that says what was mirrored. */
  private static void report(
      ModelConfig model,
      ModelConfig to,
      InstalledSnapshot snapshot,
      S3Mirror.Result result,
      PrintWriter out,
      PrintWriter err) {
    for (String stray : result.strays()) {
      err.printf(
          "WARN s3://%s/%s is not a file of the mirrored snapshot: a fetch of %s includes it;"
              + " delete it or exclude it%n",
          S3Source.bucket(to), stray, to.source());
    }
    out.printf(
        "mirrored %s (snapshot %s, %d files, %d bytes) to %s: %d uploaded (%d bytes), %d already"
            + " there, and %s%n",
        model.source(),
        snapshot.id(),
        snapshot.files().size(),
        snapshot.totalBytes(),
        to.source(),
        result.uploaded(),
        result.bytesUploaded(),
        result.present(),
        "modelcache.lock");
  }
}
