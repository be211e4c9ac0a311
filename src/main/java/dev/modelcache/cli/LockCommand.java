package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.LockSignature;
import dev.modelcache.store.Lockfile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache lock}: fetch every model as the config says (branches resolved anew, the old
 * lockfile not consulted) and write {@code modelcache.lock} next to the config: revision, and every
 * file's path, size and SHA-256. Commit it; {@code modelcache fetch --frozen} then fetches exactly
 * that. With {@code --sign KEY} it also signs the bytes written into {@code modelcache.lock.sig},
 * which {@code verification.require_signature} requires. With {@code --check} it downloads and
 * writes nothing and prints what locking now would change ({@link LockDiff}).
 */
@Command(
    name = "lock",
    description =
        "Fetch and verify every configured model as the config says, then write modelcache.lock next to the"
            + " config with each model's revision and every file's path, size and SHA-256.")
final class LockCommand implements Callable<Integer> {
  @Mixin ConfigOption config;

  @Option(
      names = "--sign",
      paramLabel = "KEY",
      description =
          "sign the lockfile written with this PEM private key (ECDSA P-256 or Ed25519; PKCS#8, or SEC1"
              + " 'BEGIN EC PRIVATE KEY'), into modelcache.lock.sig")
  @Nullable Path signingKey;

  @Option(
      names = "--check",
      description =
          "download and write nothing: list upstream and print, per model, what locking now would"
              + " change (revision, files changed, added, removed); exit 1 when anything would")
  boolean check;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<String> names = loaded.models().stream().map(ModelConfig::name).toList();
    Lockfile lock = ConfigOption.lockfile(loaded);
    if (check) {
      return check(loaded, lock, out, err);
    }
    if (signingKey != null) {
      LockSignature.sign(signingKey, new byte[0]); // a bad key fails before anything is fetched
    }
    int failures = 0;
    try (Sources sources = Sources.of(loaded);
        Fetcher fetcher =
            sources.fetcher(
                loaded,
                new CacheStore(loaded.cache()),
                new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
                Clock.systemUTC())) {
      for (ModelConfig model : loaded.models()) {
        try {
          InstalledSnapshot snapshot = fetcher.fetch(model);
          if (fetcher.servedFromCache(model)) {
            throw new dev.modelcache.source.SourceException(
                model.name()
                    + " - "
                    + model.source()
                    + " is unreachable, and 'modelcache lock' resolves every revision anew: run it"
                    + " again when the source answers (the cache holds "
                    + snapshot.id()
                    + ")");
          }
          lock = lock.with(model.name(), fetcher.lockEntry(model, snapshot));
          out.printf(
              "locked %s: %s at %s, %d files%n",
              model.name(), model.source(), snapshot.id(), snapshot.files().size());
        } catch (Exception e) {
          failures++;
          err.printf("FAILED %s: %s%n", model.name(), e.getMessage());
        }
      }
    }
    if (failures == 0) {
      lock.write(loaded.lockfile());
      out.printf("wrote %s%n", loaded.lockfile());
      sign(loaded.lockfile(), out, err);
    } else {
      err.printf("%s not written: %d model(s) failed%n", loaded.lockfile(), failures);
    }
    out.flush();
    err.flush();
    return failures == 0 ? 0 : 1;
  }

  /** {@code --check}: one line per model ({@link LockDiff}); 0 when nothing would change. */
  private static int check(Config loaded, Lockfile lock, PrintWriter out, PrintWriter err) {
    boolean changes = false;
    try (Sources sources = Sources.of(loaded)) {
      for (ModelConfig model : loaded.models()) {
        try {
          var source = sources.byScheme().get(model.source().scheme());
          if (source == null) {
            throw new IllegalStateException("no source for " + model.source());
          }
          LockDiff.Line line = LockDiff.of(model, source, lock.model(model.name()));
          out.println(line.text());
          changes |= line.changes();
        } catch (Exception e) {
          changes = true;
          err.printf("FAILED %s: %s%n", model.name(), e.getMessage());
        }
      }
    }
    out.flush();
    err.flush();
    return changes ? 1 : 0;
  }

  /**
   * Signs the bytes of {@code lockfile} as written into its {@code .sig} (with {@code --sign}), or
   * warns that a signature left from before no longer matches.
   */
  private void sign(Path lockfile, PrintWriter out, PrintWriter err) throws IOException {
    Path sigFile = LockSignature.sigFile(lockfile);
    if (signingKey == null) {
      if (Files.exists(sigFile)) {
        err.printf(
            "%s is left from an earlier lock and no longer matches %s: sign it again with"
                + " 'modelcache lock --sign KEY'%n",
            sigFile, lockfile.getFileName());
      }
      return;
    }
    byte[] signature = LockSignature.sign(signingKey, Files.readAllBytes(lockfile));
    Path temp = sigFile.resolveSibling("." + sigFile.getFileName() + ".tmp");
    Files.write(temp, signature);
    Files.move(temp, sigFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    out.printf("signed %s: %s%n", lockfile.getFileName(), sigFile);
  }
}
