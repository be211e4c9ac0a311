package dev.modelcache.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.Config;
import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.Verifier;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache verify [--full]}: checks every installed file against its install record; never
 * touches the network. Moves corrupted blobs to {@code .modelcache/quarantine/} (unless the cache
 * is read-only) so that the next fetch brings them back.
 */
@Command(
    name = "verify",
    description =
        "Check every file of every configured model in the cache against the digest recorded at"
            + " install and the config's pins: by the size, mtime and inode stamps recorded at"
            + " install (re-hashing only files whose stamp changed), or with --full by re-hashing"
            + " every file on all cores. Corrupted files are moved to .modelcache/quarantine/."
            + " Exit 0 when all match, 1 with one line per problem.")
final class VerifyCommand implements Callable<Integer> {
  @Mixin ConfigOption config;
  @Spec CommandSpec spec;

  @Option(
      names = "--full",
      description = "re-hash every file (several at once, one per core) instead of the stamps")
  boolean full;

  @Option(
      names = "--json",
      description =
          "print one JSON document instead, with every model and problem (the shape is in"
              + " docs/operations.md); the exit code is the same")
  boolean json;

  @Override
  public Integer call() throws Exception {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    CacheStore store = new CacheStore(loaded.cache());
    VerifyMode mode = full ? VerifyMode.FULL : VerifyMode.FAST;
    int failures = 0;
    long start = System.nanoTime();
    try (Verifier verifier =
        new Verifier(store, new Metrics(new SimpleMeterRegistry()), Clock.systemUTC())) {
      List<Verifier.Report> reports = verifier.verify(loaded.models(), mode);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      if (json) {
        ObjectNode root = json(reports, mode, took, verifier.threads());
        out.println(Json.write(root));
        out.flush();
        return root.get("ok").asBoolean() ? 0 : 1;
      }
      int files = 0;
      int hashed = 0;
      long bytes = 0;
      for (Verifier.Report report : reports) {
        hashed += report.hashed();
        bytes += report.bytesHashed();
        if (report.ok()) {
          // no problem, so installed: a model not in the cache is a problem
          files += Objects.requireNonNull(report.snapshot()).files().size();
          out.printf(
              "ok %s: snapshot %s verified (%s: %d files, %d re-hashed)%n",
              report.model().name(),
              report.snapshot().id(),
              mode,
              report.snapshot().files().size(),
              report.hashed());
        } else {
          files += report.snapshot() == null ? 0 : report.snapshot().files().size();
          failures += report.problems().size();
          report.problems().forEach(p -> err.println("FAILED " + p.message()));
        }
      }
      out.printf(
          Locale.ROOT,
          "%s verification of %d files: %d re-hashed, %d bytes in %.2f s (%.0f MB/s on %d"
              + " threads), %d problem(s)%n",
          mode,
          files,
          hashed,
          bytes,
          took.toNanos() / 1e9,
          bytes / 1e6 / Math.max(1e-9, took.toNanos() / 1e9),
          verifier.threads(),
          failures);
    }
    out.flush();
    err.flush();
    return failures == 0 ? 0 : 1;
  }

  /** The stable shape of {@code verify --json}, documented in docs/operations.md. */
  private static ObjectNode json(
      List<Verifier.Report> reports, VerifyMode mode, Duration took, int threads) {
    ObjectNode root = Json.MAPPER.createObjectNode();
    ArrayNode models = Json.MAPPER.createArrayNode();
    int files = 0;
    int hashed = 0;
    long bytes = 0;
    boolean ok = true;
    for (Verifier.Report report : reports) {
      int count = report.snapshot() == null ? 0 : report.snapshot().files().size();
      files += count;
      hashed += report.hashed();
      bytes += report.bytesHashed();
      ok &= report.ok();
      ObjectNode model = models.addObject();
      model.put("name", report.model().name());
      model.put("ok", report.ok());
      model.put("snapshot", report.snapshot() == null ? null : report.snapshot().id());
      model.put("files", count);
      model.put("rehashed", report.hashed());
      ArrayNode problems = model.putArray("problems");
      for (Verifier.Problem problem : report.problems()) {
        problems
            .addObject()
            .put("kind", problem.kind().name())
            .put("path", problem.path())
            .put("message", problem.message());
      }
    }
    root.put("mode", mode.toString());
    root.put("ok", ok);
    root.put("files", files);
    root.put("rehashed", hashed);
    root.put("bytes_hashed", bytes);
    root.put("seconds", took.toNanos() / 1e9);
    root.put("threads", threads);
    root.set("models", models);
    return root;
  }
}
