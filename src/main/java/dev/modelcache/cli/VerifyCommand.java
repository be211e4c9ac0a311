package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.CacheStore;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache verify}: re-hash every installed file; never touches the network or changes the
 * cache.
 */
@Command(
    name = "verify",
    description =
        "Re-hash every file of every configured model in the cache and check it"
            + " against the digest recorded at install and the config's pins. Exit 0 when all match, 1 otherwise.")
final class VerifyCommand implements Callable<Integer> {
  @Mixin ConfigOption config;
  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    CacheStore store = new CacheStore(loaded.cache().dir());
    int failures = 0;
    for (ModelConfig model : loaded.models()) {
      List<String> problems = store.verify(model);
      if (problems.isEmpty()) {
        out.printf(
            "ok %s: snapshot %s verified%n",
            model.name(), store.installed(model).orElseThrow().id());
      } else {
        failures += problems.size();
        problems.forEach(p -> err.println("FAILED " + p));
      }
    }
    out.flush();
    err.flush();
    return failures == 0 ? 0 : 1;
  }
}
