package dev.modelcache.http;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.UnknownModelException;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The configured models by name, in config order: what a route's model name must be one of. A
 * config reload replaces the map whole, so a request reads it without a lock.
 */
final class KnownModels {
  private volatile Map<String, ModelConfig> models;

  KnownModels(List<ModelConfig> models) {
    replace(models);
  }

  void replace(List<ModelConfig> configured) {
    Map<String, ModelConfig> next = new LinkedHashMap<>();
    configured.forEach(m -> next.put(m.name(), m));
    models = next;
  }

  Collection<ModelConfig> all() {
    return Collections.unmodifiableCollection(models.values());
  }

  /** Every name, comma-separated, for messages that say what could have been asked. */
  String names() {
    return String.join(", ", models.keySet());
  }

  /** Whether a model named {@code name} is configured. */
  boolean isKnown(String name) {
    return models.containsKey(name);
  }

  /**
   * The model named {@code name}.
   *
   * @throws UnknownModelException naming the configured ones when there is none (404)
   */
  ModelConfig known(String name) {
    ModelConfig model = models.get(name);
    if (model == null) {
      throw new UnknownModelException(
          "model '"
              + (name.length() > 64 ? name.substring(0, 64) + "..." : name)
              + "' is not configured (configured: "
              + names()
              + ")");
    }
    return model;
  }
}
