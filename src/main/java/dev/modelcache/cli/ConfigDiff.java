package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.Secret;
import dev.modelcache.store.Lockfile;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a reloaded config changes: the settings outside {@code models:} that cannot change while the
 * daemon runs, and the models added, removed and changed (their entry, or their entry of {@code
 * modelcache.lock}).
 *
 * <pre>{@code
 * ConfigDiff diff = ConfigDiff.of(running, runningLock, reloaded, reloadedLock);
 * diff.fixed(); // ["server.port"]: the reload is refused
 * }</pre>
 */
record ConfigDiff(
    List<String> fixed, List<ModelConfig> added, List<String> removed, List<ModelConfig> changed) {

  /** Key names as the YAML spells them, where the record's component differs. */
  private static final Map<String, String> KEYS =
      Map.of(
          "server.token_env", "server.auth.token_env",
          "server.token", "server.auth.token_env",
          "server.auth_metrics", "server.auth.metrics",
          "cache.hub_dir", "cache.dir");

  static ConfigDiff of(Config old, Lockfile oldLock, Config next, Lockfile nextLock) {
    List<String> fixed = new ArrayList<>();
    compare("cache", old.cache(), next.cache(), fixed);
    compare("sources", old.sources(), next.sources(), fixed);
    compare("server", old.server(), next.server(), fixed);
    Map<String, ModelConfig> before = new LinkedHashMap<>();
    old.models().forEach(m -> before.put(m.name(), m));
    List<ModelConfig> added = new ArrayList<>();
    List<ModelConfig> changed = new ArrayList<>();
    for (ModelConfig model : next.models()) {
      ModelConfig was = before.remove(model.name());
      if (was == null) {
        added.add(model);
      } else if (!was.withThreads(model.threads()).equals(model) // auto moves with the workers
          || !locked(oldLock, was).equals(locked(nextLock, model))) {
        changed.add(model);
      }
    }
    return new ConfigDiff(
        fixed.stream().distinct().toList(), added, List.copyOf(before.keySet()), changed);
  }

  static List<ModelConfig> concat(List<ModelConfig> a, List<ModelConfig> b) {
    List<ModelConfig> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  boolean modelsUnchanged() {
    return added.isEmpty() && removed.isEmpty() && changed.isEmpty();
  }

  private static Optional<Lockfile.Locked> locked(Lockfile lock, ModelConfig model) {
    return lock.model(model.name());
  }

  private static void compare(String key, Object a, Object b, List<String> out) {
    if (a instanceof Record && b != null && a.getClass() == b.getClass()) {
      for (RecordComponent component : a.getClass().getRecordComponents()) {
        compare(
            key + "." + snake(component.getName()), value(component, a), value(component, b), out);
      }
    } else if (a instanceof Secret s && b instanceof Secret t) {
      if (!s.reveal().equals(t.reveal())) {
        out.add(KEYS.getOrDefault(key, key));
      }
    } else if (!Objects.equals(a, b)) {
      out.add(KEYS.getOrDefault(key, key));
    }
  }

  private static Object value(RecordComponent component, Object record) {
    try {
      return component.getAccessor().invoke(record);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot read " + component, e);
    }
  }

  private static String snake(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
  }
}
