package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.store.CacheStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code list --json} and {@code verify --json}: the shapes docs/operations.md promises. */
class JsonOutputTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /** The JSON examples of docs/operations.md's "JSON output for scripts": list's, then verify's. */
  private static List<JsonNode> documented() throws Exception {
    String doc = Files.readString(Path.of("docs/operations.md"));
    String section = doc.substring(doc.indexOf("### JSON output for scripts"));
    section = section.substring(0, section.indexOf("\n### ", 1));
    List<JsonNode> blocks = new ArrayList<>();
    String[] chunks = section.split("```json\n");
    for (int i = 1; i < chunks.length; i++) {
      blocks.add(JSON.readTree(chunks[i].substring(0, chunks[i].indexOf("```"))));
    }
    assertThat(blocks).hasSize(2);
    return blocks;
  }

  /** Every key of a document, nested, in order; the first item stands for each list. */
  private static String shape(JsonNode node) {
    if (node.isObject()) {
      List<String> keys = new ArrayList<>();
      node.properties().forEach(e -> keys.add(e.getKey() + ":" + shape(e.getValue())));
      return "{" + String.join(",", keys) + "}";
    }
    if (node.isArray()) {
      return node.isEmpty() ? "[]" : "[" + shape(node.get(0)) + "]";
    }
    return "";
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Test
  void listJsonHasEveryModelWithItsFilesOrNothingCached() throws Exception {
    Path cache = tmp.resolve("cache");
    Path config =
        TestModels.configFile(
            tmp,
            cache,
            TestModels.modelYaml("iris", TestModels.copy("iris", tmp))
                + TestModels.modelYaml("digits", TestModels.copy("digits", tmp)));
    // Fetch iris only, with a config of its own beside.
    Path irisOnly =
        TestModels.configFile(
            Files.createDirectories(tmp.resolve("iris-only")),
            cache,
            TestModels.modelYaml("iris", tmp.resolve("iris")));
    assertThat(CliRun.of("fetch", "-c", irisOnly.toString()).code()).isZero();

    CliRun list = CliRun.of("list", "--json", "-c", config.toString());
    assertThat(list.code()).as(list.err()).isZero();
    assertThat(list.err()).isEmpty();
    JsonNode root = JSON.readTree(list.out());
    assertThat(fieldNames(root)).containsExactly("config", "cache_dir", "models");
    assertThat(root.get("config").asText()).isEqualTo(config.toString());
    assertThat(root.get("cache_dir").asText()).isEqualTo(cache.toString());
    assertThat(shape(root))
        .as("the shape in docs/operations.md")
        .isEqualTo(shape(documented().get(0)));
    JsonNode iris = root.get("models").get(0);
    assertThat(fieldNames(iris))
        .containsExactly("name", "source", "cached", "snapshot", "bytes", "files");
    assertThat(iris.get("name").asText()).isEqualTo("iris");
    assertThat(iris.get("source").asText()).isEqualTo("file:" + tmp.resolve("iris"));
    assertThat(iris.get("cached").asBoolean()).isTrue();
    assertThat(iris.get("snapshot").asText()).isNotEmpty();
    assertThat(iris.get("files")).hasSize(2);
    long bytes = 0;
    for (JsonNode file : iris.get("files")) {
      assertThat(fieldNames(file)).containsExactly("path", "size", "sha256");
      assertThat(file.get("sha256").asText())
          .isEqualTo(TestModels.sha256("iris", file.get("path").asText()));
      bytes += file.get("size").asLong();
    }
    assertThat(iris.get("bytes").asLong()).isEqualTo(bytes);
    JsonNode digits = root.get("models").get(1);
    assertThat(digits.get("name").asText()).isEqualTo("digits");
    assertThat(digits.get("cached").asBoolean()).isFalse();
    assertThat(digits.get("snapshot").isNull()).isTrue();
    assertThat(digits.get("bytes").asLong()).isZero();
    assertThat(digits.get("files")).isEmpty();
  }

  @Test
  void verifyJsonReportsEachModelAndEachProblemAndExitsOneOnAProblem() throws Exception {
    Path cache = tmp.resolve("cache");
    Path config =
        TestModels.configFile(
            tmp, cache, TestModels.modelYaml("iris", TestModels.copy("iris", tmp)));
    assertThat(CliRun.of("fetch", "-c", config.toString()).code()).isZero();

    CliRun ok = CliRun.of("verify", "--json", "-c", config.toString());
    assertThat(ok.code()).as(ok.err()).isZero();
    assertThat(ok.err()).isEmpty();
    JsonNode root = JSON.readTree(ok.out());
    assertThat(fieldNames(root))
        .containsExactly(
            "mode", "ok", "files", "rehashed", "bytes_hashed", "seconds", "threads", "models");
    assertThat(root.get("mode").asText()).isEqualTo("fast");
    assertThat(root.get("ok").asBoolean()).isTrue();
    assertThat(root.get("files").asInt()).isEqualTo(2);
    assertThat(root.get("rehashed").asInt()).isZero();
    JsonNode iris = root.get("models").get(0);
    assertThat(fieldNames(iris))
        .containsExactly("name", "ok", "snapshot", "files", "rehashed", "problems");
    assertThat(iris.get("ok").asBoolean()).isTrue();
    assertThat(iris.get("problems")).isEmpty();

    Path blob = cache.resolve("local/iris/blobs/" + TestModels.sha256("iris", "model.pt"));
    TestModels.flipOneByte(blob);
    TestModels.shiftMtime(blob, 1);
    String actual = CacheStore.sha256Of(blob);
    CliRun bad = CliRun.of("verify", "--json", "--full", "-c", config.toString());
    assertThat(bad.code()).isEqualTo(1);
    assertThat(bad.err()).isEmpty();
    root = JSON.readTree(bad.out());
    assertThat(shape(root))
        .as("the shape in docs/operations.md")
        .isEqualTo(shape(documented().get(1)));
    assertThat(root.get("mode").asText()).isEqualTo("full");
    assertThat(root.get("ok").asBoolean()).isFalse();
    assertThat(root.get("rehashed").asInt()).isEqualTo(2);
    iris = root.get("models").get(0);
    assertThat(iris.get("ok").asBoolean()).isFalse();
    JsonNode problem = iris.get("problems").get(0);
    assertThat(fieldNames(problem)).containsExactly("kind", "path", "message");
    assertThat(problem.get("kind").asText()).isEqualTo("CORRUPT");
    assertThat(problem.get("path").asText()).isEqualTo("model.pt");
    assertThat(problem.get("message").asText()).startsWith("iris").contains(actual);
  }

  @Test
  void verifyJsonOfAModelNeverFetchedSaysNotInstalled() throws Exception {
    Path config =
        TestModels.configFile(
            tmp, tmp.resolve("cache"), TestModels.modelYaml("iris", TestModels.copy("iris", tmp)));
    CliRun run = CliRun.of("verify", "--json", "-c", config.toString());
    assertThat(run.code()).isEqualTo(1);
    JsonNode iris = JSON.readTree(run.out()).get("models").get(0);
    assertThat(iris.get("snapshot").isNull()).isTrue();
    assertThat(iris.get("files").asInt()).isZero();
    assertThat(iris.get("problems").get(0).get("kind").asText()).isEqualTo("NOT_INSTALLED");
    assertThat(iris.get("problems").get(0).get("path").isNull()).isTrue();
  }
}
