package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.modelcache.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code docs/config.schema.json} names exactly the keys that {@link ConfigLoader} reads. No JSON
 * Schema 2020-12 validator is on the test classpath, so the examples are checked key by key against
 * the schema's properties rather than validated.
 */
class ConfigSchemaTest {
  static final Path SCHEMA = Path.of("docs/config.schema.json");

  /** Sets the keys that the loader reads only when they are present: every task option. */
  static final String EVERY_TASK_OPTION =
      String.join(
          "\n",
          "models:",
          "  - name: embed",
          "    source: hf://org/embed",
          "    task: text-embedding",
          "    task_options: { max_length: 128, pooling: cls, normalize: true }",
          "  - name: classify",
          "    source: hf://org/classify",
          "    task: text-classification",
          "    task_options: { max_length: 128, top_k: 2, scores: sigmoid }",
          "  - name: image",
          "    source: hf://org/image",
          "    task: image-classification",
          "    task_options:",
          "      { image_size: 224, resize: 256, mean: 0.5, std: 0.5, top_k: 1, scores: none }",
          "");

  @TempDir Path tmp;

  /** The keys of the schema, named as {@link ConfigLoader#keysRead()} names them. */
  static Set<String> schemaKeys(JsonNode schema) {
    Set<String> keys = new TreeSet<>();
    collect(schema, "", keys);
    return keys;
  }

  private static void collect(JsonNode object, String prefix, Set<String> keys) {
    assertThat(object.path("additionalProperties").isBoolean())
        .as("'" + prefix + "' must reject unknown keys, as the loader does")
        .isTrue();
    for (Map.Entry<String, JsonNode> property : object.get("properties").properties()) {
      String key = prefix + property.getKey();
      JsonNode value = property.getValue();
      assertThat(value.path("description").asText()).as("the description of " + key).isNotEmpty();
      if (value.has("properties")) {
        collect(value, key + ".", keys);
      } else if (value.path("items").has("properties")) {
        keys.add(key);
        collect(value.get("items"), key + "[].", keys);
      } else {
        keys.add(key);
      }
    }
  }

  @Test
  void theSchemaHasExactlyTheKeysTheLoaderReads() throws Exception {
    JsonNode schema = new ObjectMapper().readTree(SCHEMA.toFile());
    assertThat(schema.get("$schema").asText())
        .isEqualTo("https://json-schema.org/draft/2020-12/schema");

    Set<String> loaderKeys = new TreeSet<>();
    ConfigLoader loader = new ConfigLoader(Map.of(), Path.of(""));
    loader.load(null);
    loaderKeys.addAll(loader.keysRead());
    for (Path example : ConfigExamplesTest.examples()) {
      loader.load(example);
      loaderKeys.addAll(loader.keysRead());
    }
    loader.load(Files.writeString(tmp.resolve("tasks.yaml"), EVERY_TASK_OPTION));
    loaderKeys.addAll(loader.keysRead());

    assertThat(schemaKeys(schema)).containsExactlyElementsOf(loaderKeys);
  }

  @Test
  void everyKeyOfEveryExampleIsInTheSchema() throws Exception {
    JsonNode schema = new ObjectMapper().readTree(SCHEMA.toFile());
    Set<String> keys = schemaKeys(schema);
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    for (Path example : ConfigExamplesTest.examples()) {
      Set<String> used = new TreeSet<>();
      keysOf(yaml.readTree(example.toFile()), "", used);
      assertThat(keys).as(example.toString()).containsAll(used);
    }
  }

  /** The keys of a config file, maps of pins (sha256, version_ids) as one key. */
  private static void keysOf(JsonNode node, String prefix, Set<String> keys) {
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      String key = prefix + field.getKey();
      JsonNode value = field.getValue();
      if (value.isObject() && !key.endsWith("sha256") && !key.endsWith("version_ids")) {
        keysOf(value, key + ".", keys);
      } else if (value.isArray() && value.size() > 0 && value.get(0).isObject()) {
        keys.add(key);
        for (JsonNode item : value) {
          keysOf(item, key + "[].", keys);
        }
      } else {
        keys.add(key);
      }
    }
  }
}
