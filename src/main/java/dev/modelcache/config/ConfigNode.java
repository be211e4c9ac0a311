package dev.modelcache.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * One mapping of the YAML tree while it is read: every key read is remembered, and {@link
 * #finish()} rejects the keys nobody read, naming them and the file. Scalar keys outside of lists
 * can be overridden by the environment variable {@code MODELCACHE_<PATH>} ({@code cache.dir} is
 * {@code MODELCACHE_CACHE_DIR}).
 */
final class ConfigNode {
  private final JsonNode node;
  private final String path;
  private final String origin;
  private final Map<String, String> env;
  private final boolean envOverrides;
  private final Set<String> envNames;
  private final Set<String> keys;
  private final Set<String> read = new LinkedHashSet<>();

  /**
   * A root node; {@code envNames} collects every override variable consulted, to reject unknown
   * ones.
   */
  ConfigNode(JsonNode node, String origin, Map<String, String> env, Set<String> envNames) {
    this(node, "", origin, env, true, envNames, new TreeSet<>());
  }

  private ConfigNode(
      @Nullable JsonNode node,
      String path,
      String origin,
      Map<String, String> env,
      boolean envOverrides,
      Set<String> envNames,
      Set<String> keys) {
    this.envNames = envNames;
    this.keys = keys;
    this.node = node == null ? MissingNode.getInstance() : node;
    this.path = path;
    this.origin = origin;
    this.env = env;
    this.envOverrides = envOverrides;
    if (!this.node.isMissingNode() && !this.node.isNull() && !this.node.isObject()) {
      throw error(path, "must be a mapping of keys, not " + describe(this.node));
    }
  }

  /** The environment variable that overrides {@code key} here, or null inside lists. */
  @Nullable String envName(String key) {
    return envOverrides
        ? ("MODELCACHE_" + qualify(key)).replace('.', '_').toUpperCase(Locale.ROOT)
        : null;
  }

  /**
   * Every key with a value (not the mappings) read anywhere in this tree, list items as {@code []}:
   * {@code cache.dir}, {@code models[].name}.
   */
  Set<String> keys() {
    return Collections.unmodifiableSet(keys);
  }

  private void leaf(String key) {
    read.add(key);
    keys.add(qualify(key).replaceAll("\\[\\d+\\]", "[]"));
  }

  String qualify(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  String origin() {
    return origin;
  }

  private @Nullable String raw(String key) {
    leaf(key);
    String name = envName(key);
    if (name != null) {
      envNames.add(name);
      if (env.get(name) != null) {
        return env.get(name);
      }
    }
    JsonNode value = node.get(key);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isValueNode()) {
      throw error(qualify(key), "must be a single value, not " + describe(value));
    }
    return value.asText();
  }

  /** Where {@code key}'s value comes from: its environment variable or the file. */
  String source(String key) {
    String name = envName(key);
    return name != null && env.get(name) != null ? "environment variable " + name : origin;
  }

  String string(String key, String fallback) {
    String value = raw(key);
    return value == null ? fallback : value;
  }

  /** The value of {@code key}, or null when it is not given. */
  @Nullable String string(String key) {
    return raw(key);
  }

  /** The value of {@code key}, else {@code fallback}, which may be null. */
  @Nullable String stringOrNull(String key, @Nullable String fallback) {
    String value = raw(key);
    return value == null ? fallback : value;
  }

  boolean bool(String key, boolean fallback) {
    String value = raw(key);
    if (value == null) {
      return fallback;
    }
    return switch (value.strip().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on", "1" -> true;
      case "false", "no", "off", "0" -> false;
      default ->
          throw new ConfigException(
              source(key) + ": " + qualify(key) + " must be true or false, not '" + value + "'",
              qualify(key));
    };
  }

  int integer(String key, int fallback, int min, int max) {
    String value = raw(key);
    if (value == null) {
      return fallback;
    }
    int parsed;
    try {
      parsed = Integer.parseInt(value.strip());
    } catch (NumberFormatException e) {
      throw new ConfigException(
          source(key) + ": " + qualify(key) + " must be a whole number, not '" + value + "'",
          qualify(key));
    }
    if (parsed < min || parsed > max) {
      throw new ConfigException(
          source(key)
              + ": "
              + qualify(key)
              + " ("
              + parsed
              + ") must be between "
              + min
              + " and "
              + max,
          qualify(key));
    }
    return parsed;
  }

  /**
   * A byte size: a whole number of bytes, or one with a unit ({@code 512MiB}, {@code 2 GiB}, {@code
   * 1.5GB}; see {@link ByteSizes}), else {@code fallback}.
   */
  long bytes(String key, long fallback) {
    String value = raw(key);
    if (value == null) {
      return fallback;
    }
    try {
      return ByteSizes.parse(value);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          source(key) + ": " + qualify(key) + " " + e.getMessage(), qualify(key));
    }
  }

  /** Whether {@code key} is given here (in the file or, outside lists, by its variable). */
  boolean has(String key) {
    String name = envName(key);
    if (name != null && env.get(name) != null) {
      return true;
    }
    JsonNode value = node.get(key);
    return value != null && !value.isNull();
  }

  /**
   * A list of numbers (a single number is a list of one), each between {@code min} and {@code max};
   * null when the key is absent.
   */
  @Nullable List<Double> numbers(String key, double min, double max) {
    leaf(key);
    JsonNode value = node.get(key);
    if (value == null || value.isNull()) {
      return null;
    }
    List<Double> items = new ArrayList<>();
    for (JsonNode item : value.isArray() ? value : List.of(value)) {
      if (!item.isNumber()) {
        throw error(qualify(key), "must be a number or a list of numbers, found " + describe(item));
      }
      double number = item.doubleValue();
      if (!(number >= min && number <= max)) {
        throw error(
            qualify(key), "values must be between " + min + " and " + max + ", not " + number);
      }
      items.add(number);
    }
    return items;
  }

  /** The constant of {@code type} that {@code key} names, or null when it is not given. */
  <E extends Enum<E>> @Nullable E choice(String key, Class<E> type) {
    String value = raw(key);
    return value == null ? null : constant(key, value, type);
  }

  <E extends Enum<E>> E choice(String key, E fallback, Class<E> type) {
    String value = raw(key);
    return value == null ? fallback : constant(key, value, type);
  }

  private <E extends Enum<E>> E constant(String key, String value, Class<E> type) {
    for (E constant : type.getEnumConstants()) {
      if (constant.toString().equalsIgnoreCase(value.strip())) {
        return constant;
      }
    }
    List<String> names = new ArrayList<>();
    for (E constant : type.getEnumConstants()) {
      names.add(constant.toString());
    }
    throw new ConfigException(
        source(key)
            + ": "
            + qualify(key)
            + " must be one of "
            + String.join(", ", names)
            + ", not '"
            + value
            + "'",
        qualify(key));
  }

  /** Whether this mapping is absent or has no keys. */
  boolean isEmpty() {
    return node.isMissingNode() || node.isNull() || node.size() == 0;
  }

  ConfigNode child(String key) {
    read.add(key);
    return new ConfigNode(node.get(key), qualify(key), origin, env, envOverrides, envNames, keys);
  }

  List<ConfigNode> list(String key) {
    leaf(key);
    JsonNode value = node.get(key);
    List<ConfigNode> items = new ArrayList<>();
    if (value == null || value.isNull()) {
      return items;
    }
    if (!value.isArray()) {
      throw error(qualify(key), "must be a list, not " + describe(value));
    }
    for (int i = 0; i < value.size(); i++) {
      items.add(
          new ConfigNode(
              value.get(i), qualify(key) + "[" + i + "]", origin, env, false, envNames, keys));
    }
    return items;
  }

  List<String> strings(String key) {
    leaf(key);
    JsonNode value = node.get(key);
    List<String> items = new ArrayList<>();
    if (value == null || value.isNull()) {
      return items;
    }
    if (value.isTextual()) {
      items.add(value.asText());
      return items;
    }
    if (!value.isArray()) {
      throw error(qualify(key), "must be a list of strings, not " + describe(value));
    }
    for (JsonNode item : value) {
      if (!item.isValueNode() || item.isNull()) {
        throw error(qualify(key), "must be a list of strings, found " + describe(item));
      }
      items.add(item.asText());
    }
    return items;
  }

  Map<String, String> stringMap(String key) {
    leaf(key);
    JsonNode value = node.get(key);
    Map<String, String> map = new LinkedHashMap<>();
    if (value == null || value.isNull()) {
      return map;
    }
    if (!value.isObject()) {
      throw error(qualify(key), "must be a mapping of strings, not " + describe(value));
    }
    for (Map.Entry<String, JsonNode> entry : value.properties()) {
      if (!entry.getValue().isValueNode() || entry.getValue().isNull()) {
        throw error(
            qualify(key) + "." + entry.getKey(),
            "must be a string, not " + describe(entry.getValue()));
      }
      map.put(entry.getKey(), entry.getValue().asText());
    }
    return map;
  }

  /**
   * Fails on the first key of this mapping that nobody read, listing the keys that are allowed
   * here.
   */
  void finish() {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!read.contains(key)) {
        throw new ConfigException(
            origin
                + ": unknown key '"
                + qualify(key)
                + "'"
                + (read.isEmpty()
                    ? ""
                    : " (allowed "
                        + (path.isEmpty() ? "at the top" : "under " + path)
                        + ": "
                        + String.join(", ", read)
                        + ")"),
            qualify(key));
      }
    }
  }

  ConfigException error(String key, String message) {
    return new ConfigException(origin + ": " + key + " " + message, key);
  }

  private static String describe(JsonNode node) {
    if (node.isArray()) {
      return "a list";
    }
    if (node.isObject()) {
      return "a mapping";
    }
    return "'" + node.asText() + "'";
  }
}
