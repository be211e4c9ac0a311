package dev.modelcache.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code modelcache list}: what is configured and what of it the cache holds. */
@Command(
    name = "list",
    description = "List the configured models and what the cache holds for each.")
final class ListCommand implements Callable<Integer> {
  @Mixin ConfigOption config;
  @Spec CommandSpec spec;

  @Option(names = "--files", description = "also list every file with its size and SHA-256")
  boolean files;

  @Option(
      names = "--json",
      description =
          "print one JSON document instead (every model with its files; the shape is in"
              + " docs/operations.md)")
  boolean json;

  @Override
  public Integer call() throws Exception {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    CacheStore store = new CacheStore(loaded.cache());
    if (json) {
      out.println(Json.write(json(loaded, store)));
      out.flush();
      return 0;
    }
    out.printf(
        "%-20s %-10s %-42s %6s %12s  %s%n",
        "MODEL", "CACHED", "SNAPSHOT", "FILES", "BYTES", "SOURCE");
    for (ModelConfig model : loaded.models()) {
      Optional<InstalledSnapshot> snapshot = store.installed(model);
      out.printf(
          "%-20s %-10s %-42s %6s %12s  %s%n",
          model.name(),
          snapshot.isPresent() ? "yes" : "no",
          snapshot.map(InstalledSnapshot::id).orElse("-"),
          snapshot.map(s -> String.valueOf(s.files().size())).orElse("-"),
          snapshot.map(s -> String.valueOf(s.totalBytes())).orElse("-"),
          model.source());
      if (files && snapshot.isPresent()) {
        for (InstalledFile file : snapshot.get().files()) {
          out.printf("    %-40s %12d  sha256:%s%n", file.path(), file.size(), file.sha256());
        }
      }
    }
    out.flush();
    return 0;
  }

  /** The stable shape of {@code list --json}, documented in docs/operations.md. */
  private static ObjectNode json(Config loaded, CacheStore store) throws java.io.IOException {
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.put("config", loaded.origin());
    root.put("cache_dir", loaded.cache().dir().toString());
    ArrayNode models = root.putArray("models");
    for (ModelConfig model : loaded.models()) {
      Optional<InstalledSnapshot> snapshot = store.installed(model);
      ObjectNode item = models.addObject();
      item.put("name", model.name());
      item.put("source", model.source().toString());
      item.put("cached", snapshot.isPresent());
      item.put("snapshot", snapshot.map(InstalledSnapshot::id).orElse(null));
      item.put("bytes", snapshot.map(InstalledSnapshot::totalBytes).orElse(0L));
      ArrayNode files = item.putArray("files");
      for (InstalledFile file : snapshot.map(InstalledSnapshot::files).orElse(List.of())) {
        files
            .addObject()
            .put("path", file.path())
            .put("size", file.size())
            .put("sha256", file.sha256());
      }
    }
    return root;
  }
}
