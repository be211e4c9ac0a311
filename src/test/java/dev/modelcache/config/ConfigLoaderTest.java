package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.LogCapture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  private static final String PIN = "a".repeat(64);
  @TempDir Path dir;

  private Config parse(String yaml, Map<String, String> env) {
    return new ConfigLoader(env, dir).parse(yaml, "test.yaml", dir);
  }

  @Test
  void appliesDefaultsAndResolvesRelativePathsAgainstTheConfigFolder() {
    Config config = parse("models:\n  - name: iris\n    source: file:models/iris\n", Map.of());
    assertThat(config.cache().dir()).isEqualTo(Path.of("/models"));
    assertThat(config.cache().offline()).isFalse();
    assertThat(config.cache().verify()).isEqualTo(Config.VerifyMode.FAST);
    assertThat(config.server().port()).isEqualTo(8080);
    assertThat(config.server().token()).isNull();
    ModelConfig iris = config.models().get(0);
    assertThat(iris.source().directory()).isEqualTo(dir.resolve("models/iris"));
    assertThat(iris.workers()).isEqualTo(1);
    assertThat(iris.timeoutMs()).isEqualTo(30_000);
    assertThat(iris.lazy()).isFalse();
    assertThat(iris.batchMaxSize()).isEqualTo(1);
    assertThat(iris.queue()).isEqualTo(64);
    assertThat(iris.required()).isTrue();
    assertThat(iris.task()).isEqualTo(ModelConfig.TaskKind.TENSOR);
  }

  @Test
  void rejectsUnknownKeyNamingKeyAndFile() {
    assertThatThrownBy(() -> parse("models:\n  - name: iris\n    sorce: file:x\n", Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("test.yaml: unknown key 'models[0].sorce'")
        .hasMessageContaining("allowed under models[0]: name, source");
    assertThatThrownBy(() -> parse("cache:\n  dri: /x\n", Map.of()))
        .hasMessageStartingWith("test.yaml: unknown key 'cache.dri'");
    assertThatThrownBy(() -> parse("modles: []\n", Map.of()))
        .hasMessageStartingWith("test.yaml: unknown key 'modles'");
  }

  @Test
  void loadNamesTheFileInMessages() throws Exception {
    Path file = dir.resolve("bad.yaml");
    Files.writeString(file, "server:\n  prot: 1\n");
    assertThatThrownBy(() -> new ConfigLoader(Map.of(), dir).load(file))
        .hasMessageStartingWith(file + ": unknown key 'server.prot'");
    assertThatThrownBy(() -> new ConfigLoader(Map.of(), dir).load(dir.resolve("missing.yaml")))
        .hasMessageContaining("missing.yaml: config file not found");
  }

  @Test
  void environmentOverridesScalarKeys() {
    Config config =
        parse(
            "cache:\n  dir: /a\nserver:\n  port: 1\n",
            Map.of(
                "MODELCACHE_CACHE_DIR",
                "/b",
                "MODELCACHE_PORT",
                "9090",
                "MODELCACHE_OFFLINE",
                "true",
                "MODELCACHE_CACHE_VERIFY",
                "full"));
    assertThat(config.cache().dir()).isEqualTo(Path.of("/b"));
    assertThat(config.server().port()).isEqualTo(9090);
    assertThat(config.cache().offline()).isTrue();
    assertThat(config.cache().verify()).isEqualTo(Config.VerifyMode.FULL);
  }

  @Test
  void cacheMaxBytesTakesAUnitFromTheEnvironment() {
    Config config =
        parse("cache:\n  max_bytes: 1MB\n", Map.of("MODELCACHE_CACHE_MAX_BYTES", "2GiB"));
    assertThat(config.cache().maxBytes()).isEqualTo(2147483648L);
    assertThat(parse("cache:\n  max_bytes: 1MB\n", Map.of()).cache().maxBytes())
        .isEqualTo(1_000_000L);
    assertThat(parse("", Map.of()).cache().maxBytes()).isZero();
  }

  @Test
  void readsTheGrpcSectionWithItsDefaultsAndOverrides() {
    Config defaults = parse("models: []\n", Map.of());
    assertThat(defaults.server().grpc()).isEqualTo(new Config.GrpcConfig(false, 8081));
    Config config =
        parse(
            "server:\n  grpc: {enabled: true, port: 9001}\n", Map.of("MODELCACHE_GRPC_PORT", "0"));
    assertThat(config.server().grpc()).isEqualTo(new Config.GrpcConfig(true, 0));
    assertThat(
            parse(
                    "server:\n  grpc: {port: 9001}\n",
                    Map.of("MODELCACHE_SERVER_GRPC_ENABLED", "true"))
                .server()
                .grpc())
        .isEqualTo(new Config.GrpcConfig(true, 9001));
    assertThatThrownBy(() -> parse("server:\n  grpc: {prot: 1}\n", Map.of()))
        .hasMessageStartingWith("test.yaml: unknown key 'server.grpc.prot'");
    assertThatThrownBy(() -> parse("server:\n  grpc: {port: 70000}\n", Map.of()))
        .hasMessageContaining("server.grpc.port");
  }

  @Test
  void readsTheServingKeysOfAModel() {
    ModelConfig model =
        parse(
                "models:\n  - name: m\n    source: file:x\n    workers: 4\n    queue: 8\n"
                    + "    timeout_ms: 250\n    load: LAZY\n"
                    + "    batch: {max_size: 16, max_delay_ms: 5}\n",
                Map.of())
            .models()
            .get(0);
    assertThat(model.workers()).isEqualTo(4);
    assertThat(model.queue()).isEqualTo(8);
    assertThat(model.timeoutMs()).isEqualTo(250);
    assertThat(model.lazy()).isTrue();
    assertThat(model.batchMaxSize()).isEqualTo(16);
    assertThat(model.batchMaxDelayMs()).isEqualTo(5);
    assertThatThrownBy(
            () -> parse("models:\n  - name: m\n    source: file:x\n    load: later\n", Map.of()))
        .hasMessage("test.yaml: models[0].load must be preload or lazy, not 'later'");
    assertThatThrownBy(
            () -> parse("models:\n  - name: m\n    source: file:x\n    timeout_ms: 0\n", Map.of()))
        .hasMessage("test.yaml: models[0].timeout_ms (0) must be between 1 and 3600000");
  }

  @Test
  void theHuggingFaceEnvironmentPlacesTheHubCacheWhenCacheDirIsNotSet() {
    // HF_HUB_CACHE is the Hub cache itself, whatever its name; the cache root is its parent
    Config hubCache = parse("", Map.of("HF_HUB_CACHE", "/x/hub-cache", "HF_HOME", "/h"));
    assertThat(hubCache.cache().hubDir()).isEqualTo(Path.of("/x/hub-cache"));
    assertThat(hubCache.cache().dir()).isEqualTo(Path.of("/x"));
    // else HF_HOME/hub
    Config home = parse("", Map.of("HF_HOME", "/h"));
    assertThat(home.cache().hubDir()).isEqualTo(Path.of("/h/hub"));
    assertThat(home.cache().dir()).isEqualTo(Path.of("/h"));
    // ~ and relative paths as Python reads them
    assertThat(parse("", Map.of("HF_HUB_CACHE", "~/c/hub", "HOME", "/home/u")).cache().hubDir())
        .isEqualTo(Path.of("/home/u/c/hub"));
    assertThat(parse("", Map.of("HF_HOME", "rel")).cache().hubDir())
        .isEqualTo(dir.resolve("rel/hub"));
    // else the default
    Config none = parse("", Map.of("HF_HUB_CACHE", " "));
    assertThat(none.cache().dir()).isEqualTo(Path.of("/models"));
    assertThat(none.cache().hubDir()).isEqualTo(Path.of("/models/hub"));
  }

  @Test
  void cacheDirWinsOverTheHuggingFaceEnvironment() {
    Map<String, String> hf = Map.of("HF_HUB_CACHE", "/x/hub-cache", "HF_HOME", "/h");
    Config yaml = parse("cache:\n  dir: /v\n", hf);
    assertThat(yaml.cache().dir()).isEqualTo(Path.of("/v"));
    assertThat(yaml.cache().hubDir()).isEqualTo(Path.of("/v/hub"));
    Config env =
        parse("cache:\n  dir: /v\n", Map.of("MODELCACHE_CACHE_DIR", "/m", "HF_HUB_CACHE", "/x/c"));
    assertThat(env.cache().dir()).isEqualTo(Path.of("/m"));
    assertThat(env.cache().hubDir()).isEqualTo(Path.of("/m/hub"));
    // the Docker image's environment: both name the same Hub cache
    Config image =
        parse("", Map.of("MODELCACHE_CACHE_DIR", "/models", "HF_HUB_CACHE", "/models/hub"));
    assertThat(image.cache().dir()).isEqualTo(Path.of("/models"));
    assertThat(image.cache().hubDir()).isEqualTo(Path.of("/models/hub"));
  }

  @Test
  void warnsWhenCacheDirSendsTheHubModelsAwayFromHfHubCache() {
    try (LogCapture logs = new LogCapture(ConfigLoader.class)) {
      parse("", Map.of("MODELCACHE_CACHE_DIR", "/models", "HF_HUB_CACHE", "/models/hub"));
      parse("cache:\n  dir: /v\n", Map.of());
      assertThat(logs.lines()).isEmpty();

      parse("cache:\n  dir: /v\n", Map.of("HF_HUB_CACHE", "/x/hub-cache"));
      assertThat(logs.lines())
          .containsExactly(
              "WARN cache - the Hub models go to /v/hub (cache.dir wins), but HF_HUB_CACHE names"
                  + " the Hub cache /x/hub-cache: huggingface_hub given this environment looks"
                  + " there and will not find them; set HF_HUB_CACHE to /v/hub, or leave cache.dir"
                  + " and MODELCACHE_CACHE_DIR unset");
    }
  }

  @Test
  void rejectsAHubCacheWithNoRoomForModelcacheBesideIt() {
    assertThatThrownBy(() -> parse("", Map.of("HF_HUB_CACHE", "/")))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "HF_HUB_CACHE (/) puts the Hub cache at /, where modelcache cannot keep its own state"
                + " beside it (in its parent folder, as .modelcache/, local/, oci/, s3/, gcs/ and url/): set"
                + " cache.dir or MODELCACHE_CACHE_DIR, or point HF_HUB_CACHE at a folder of its own");
    assertThatThrownBy(() -> parse("", Map.of("HF_HUB_CACHE", "/x/s3")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("HF_HUB_CACHE (/x/s3) puts the Hub cache at /x/s3, where");
    assertThatThrownBy(() -> parse("", Map.of("HF_HUB_CACHE", "/x/url")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("HF_HUB_CACHE (/x/url) puts the Hub cache at /x/url, where");
  }

  @Test
  void hfHubOfflineTurnsOfflineOn() {
    assertThat(parse("", Map.of("HF_HUB_OFFLINE", "1")).cache().offline()).isTrue();
  }

  @Test
  void rejectsUnknownModelcacheVariable() {
    assertThatThrownBy(() -> parse("", Map.of("MODELCACHE_CAHCE_DIR", "/x")))
        .hasMessageStartingWith(
            "environment variable MODELCACHE_CAHCE_DIR is not a modelcache setting")
        .hasMessageContaining("MODELCACHE_CACHE_DIR");
  }

  @Test
  void ignoresKubernetesServiceLinksOfAServiceNamedModelcache() {
    // What Kubernetes injects into every pod of a namespace with a Service named modelcache (and
    // one named modelcache-admin), unless the pod sets enableServiceLinks: false.
    Map<String, String> links =
        Map.ofEntries(
            Map.entry("MODELCACHE_SERVICE_HOST", "10.0.0.1"),
            Map.entry("MODELCACHE_SERVICE_PORT", "8080"),
            Map.entry("MODELCACHE_SERVICE_PORT_HTTP", "8080"),
            Map.entry("MODELCACHE_PORT", "tcp://10.0.0.1:8080"),
            Map.entry("MODELCACHE_PORT_8080_TCP", "tcp://10.0.0.1:8080"),
            Map.entry("MODELCACHE_PORT_8080_TCP_PROTO", "tcp"),
            Map.entry("MODELCACHE_PORT_8080_TCP_PORT", "8080"),
            Map.entry("MODELCACHE_PORT_8080_TCP_ADDR", "10.0.0.1"),
            Map.entry("MODELCACHE_ADMIN_SERVICE_HOST", "10.0.0.2"),
            Map.entry("MODELCACHE_ADMIN_PORT", "tcp://10.0.0.2:9090"),
            Map.entry("MODELCACHE_ADMIN_PORT_9090_TCP_ADDR", "10.0.0.2"));
    assertThat(parse("", links).server().port()).isEqualTo(8080);
    Map<String, String> withOverride = new java.util.HashMap<>(links);
    withOverride.put("MODELCACHE_SERVER_PORT", "9000");
    assertThat(parse("", withOverride).server().port()).isEqualTo(9000);
    // A plain port in MODELCACHE_PORT is still our override, and a typo is still refused.
    assertThat(parse("", Map.of("MODELCACHE_PORT", "9001")).server().port()).isEqualTo(9001);
    assertThatThrownBy(() -> parse("", Map.of("MODELCACHE_PORT", "tcp:/10.0.0.1")))
        .hasMessageStartingWith("environment variable MODELCACHE_SERVER_PORT: server.port must be");
  }

  @Test
  void badValuesNameKeyAndValue() {
    assertThatThrownBy(() -> parse("server:\n  port: eighty\n", Map.of()))
        .hasMessage("test.yaml: server.port must be a whole number, not 'eighty'");
    assertThatThrownBy(() -> parse("", Map.of("MODELCACHE_PORT", "99999")))
        .hasMessage(
            "environment variable MODELCACHE_SERVER_PORT: server.port (99999) must be between 0 and 65535");
    assertThatThrownBy(() -> parse("cache:\n  verify: slow\n", Map.of()))
        .hasMessage("test.yaml: cache.verify must be one of fast, full, not 'slow'");
    assertThatThrownBy(() -> parse("models:\n  - name: a b\n    source: file:x\n", Map.of()))
        .hasMessageContaining("models[0].name 'a b' is not URL-safe");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - name: a\n    source: file:x\n    sha256: {m.pt: xyz}\n",
                    Map.of()))
        .hasMessage(
            "test.yaml: models[0].sha256.m.pt must be 64 hex digits (a SHA-256), not 'xyz'");
    assertThatThrownBy(() -> parse("models:\n  - name: a\n    source: ftp://x\n", Map.of()))
        .hasMessageContaining("models[0].source 'ftp://x' has an unknown scheme");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - name: a\n    source: file:x\n  - name: a\n    source: file:y\n",
                    Map.of()))
        .hasMessage("test.yaml: model name 'a' is used twice; names must be unique");
    assertThatThrownBy(() -> parse("models: {name: a}\n", Map.of()))
        .hasMessage("test.yaml: models must be a list, not a mapping");
    assertThatThrownBy(
            () -> parse("models:\n  - name: a\n    source: file:x\n    device: tpu\n", Map.of()))
        .hasMessageContaining("models[0].device must be auto, cpu, gpu or gpu:N, not 'tpu'");
  }

  @Test
  void invalidYamlSaysWhere() {
    assertThatThrownBy(() -> parse("models: [\n", Map.of()))
        .hasMessageStartingWith("test.yaml: not valid YAML");
  }

  @Test
  void pinsAreNormalisedToLowerCase() {
    Config config =
        parse(
            "models:\n  - name: a\n    source: file:x\n    sha256: {m.pt: "
                + PIN.toUpperCase()
                + "}\n",
            Map.of());
    assertThat(config.models().get(0).sha256()).containsEntry("m.pt", PIN);
  }

  @Test
  void metricsAuthAndShutdownGraceHaveDefaultsAndOverrides() {
    Config defaults = parse("", Map.of());
    assertThat(defaults.server().authMetrics()).isFalse();
    assertThat(defaults.server().shutdownGraceSeconds()).isEqualTo(30);
    Config set =
        parse("server:\n  shutdown_grace_seconds: 5\n  auth: { metrics: true }\n", Map.of());
    assertThat(set.server().authMetrics()).isTrue();
    assertThat(set.server().shutdownGraceSeconds()).isEqualTo(5);
    Config env =
        parse(
            "",
            Map.of(
                "MODELCACHE_SERVER_AUTH_METRICS", "true",
                "MODELCACHE_SERVER_SHUTDOWN_GRACE_SECONDS", "0"));
    assertThat(env.server().authMetrics()).isTrue();
    assertThat(env.server().shutdownGraceSeconds()).isZero();
    assertThat(String.join("\n", set.describe()))
        .contains("server.shutdown_grace_seconds=5")
        .contains("server.auth.metrics=true");
    assertThatThrownBy(() -> parse("server:\n  auth: { metrics: sometimes }\n", Map.of()))
        .hasMessage("test.yaml: server.auth.metrics must be true or false, not 'sometimes'");
    assertThatThrownBy(() -> parse("server:\n  shutdown_grace_seconds: -1\n", Map.of()))
        .hasMessage("test.yaml: server.shutdown_grace_seconds (-1) must be between 0 and 3600");
    assertThatThrownBy(() -> parse("server:\n  auth: { metric: true }\n", Map.of()))
        .hasMessage(
            "test.yaml: unknown key 'server.auth.metric' (allowed under server.auth: token_env,"
                + " metrics)");
  }

  @Test
  void describeMasksSecrets() {
    Config config =
        parse("", Map.of("HF_TOKEN", "hf_secretvalue", "MODELCACHE_TOKEN", "api-secret"));
    assertThat(config.server().token().reveal()).isEqualTo("api-secret");
    assertThat(String.join("\n", config.describe()))
        .doesNotContain("hf_secretvalue")
        .doesNotContain("api-secret")
        .contains("sources.hf.token=****")
        .contains("server.auth.token_env=MODELCACHE_TOKEN (set: ****)");
    assertThat(config.toString()).doesNotContain("hf_secretvalue").doesNotContain("api-secret");
  }

  @Test
  void hubTokenComesFromConfigThenEnvironmentThenTheLoginFile() throws Exception {
    Files.writeString(dir.resolve("token"), "hf_fromfile\n");
    assertThat(parse("", Map.of("HF_HOME", dir.toString())).sources().hf().token().reveal())
        .isEqualTo("hf_fromfile");
    assertThat(
            parse("", Map.of("HF_HOME", dir.toString(), "HUGGING_FACE_HUB_TOKEN", "hf_old"))
                .sources()
                .hf()
                .token()
                .reveal())
        .isEqualTo("hf_old");
    assertThat(
            parse("", Map.of("HF_HOME", dir.toString(), "HF_TOKEN", "hf_env"))
                .sources()
                .hf()
                .token()
                .reveal())
        .isEqualTo("hf_env");
    assertThat(
            parse("sources:\n  hf: {token: hf_config}\n", Map.of("HF_TOKEN", "hf_env"))
                .sources()
                .hf()
                .token()
                .reveal())
        .isEqualTo("hf_config");
    assertThat(parse("", Map.of("HOME", dir.resolve("nohome").toString())).sources().hf().token())
        .isNull();
  }

  @Test
  void hubSourcesParseRepoRevisionAndType() {
    Config config =
        parse(
            "models:\n  - name: a\n    source: hf://org/name@refs/pr/1\n"
                + "  - name: b\n    source: hf://org/data\n    repo_type: dataset\n",
            Map.of());
    SourceRef a = config.models().get(0).source();
    assertThat(a.scheme()).isEqualTo(SourceRef.Scheme.HF);
    assertThat(a.location()).isEqualTo("org/name");
    assertThat(a.revision()).isEqualTo("refs/pr/1");
    assertThat(a.repoType()).isEqualTo("model");
    SourceRef b = config.models().get(1).source();
    assertThat(b.revision()).isEqualTo("main");
    assertThat(b.repoType()).isEqualTo("dataset");
    assertThatThrownBy(() -> parse("models:\n  - name: a\n    source: hf://org/na me\n", Map.of()))
        .hasMessage(
            "test.yaml: models[0].source 'hf://org/na me' is not hf://{org}/{name}[@revision]");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - name: a\n    source: file:x\n    repo_type: dataset\n", Map.of()))
        .hasMessage("test.yaml: models[0].repo_type only applies to hf:// sources");
  }

  @Test
  void embeddedDefaultAndTheExampleFileDescribeTheSameDemoModels() {
    Path repo = Path.of("").toAbsolutePath();
    Config embedded = new ConfigLoader(Map.of(), repo).load(null);
    Config file = new ConfigLoader(Map.of(), repo).load(repo.resolve("config/modelcache.yaml"));
    assertThat(embedded.origin()).isEqualTo(ConfigLoader.EMBEDDED);
    assertThat(embedded.cache().dir()).isEqualTo(repo.resolve("data"));
    assertThat(file.cache().dir()).isEqualTo(repo.resolve("data"));
    assertThat(embedded.models()).hasSize(2);
    assertThat(file.models()).hasSize(2);
    for (int i = 0; i < 2; i++) {
      ModelConfig a = embedded.models().get(i);
      ModelConfig b = file.models().get(i);
      assertThat(a.name()).isEqualTo(b.name());
      assertThat(a.source().directory()).isEqualTo(b.source().directory());
      assertThat(a.sha256()).isEqualTo(b.sha256()).isNotEmpty();
    }
  }

  @Test
  void modelcacheConfigVariableNamesTheFile() throws Exception {
    Path file = dir.resolve("c.yaml");
    Files.writeString(file, "server:\n  port: 1234\n");
    assertThat(
            new ConfigLoader(Map.of("MODELCACHE_CONFIG", file.toString()), dir)
                .load(null)
                .server()
                .port())
        .isEqualTo(1234);
  }

  @Test
  void readsEnginesTasksAndTaskOptions() {
    Config config =
        parse(
            "models:\n"
                + "  - {name: a, source: file:a}\n"
                + "  - {name: b, source: file:b, engine: onnxruntime, model_file: onnx/model.onnx,"
                + " task: text-embedding, task_options: {pooling: cls, normalize: true,"
                + " max_length: 256}}\n"
                + "  - {name: c, source: file:c, task: image-classification,"
                + " task_options: {image_size: 224, resize: 256, mean: 0.5, std: [0.2, 0.3, 0.4],"
                + " top_k: 3, scores: sigmoid}}\n",
            Map.of());
    ModelConfig a = config.models().get(0);
    assertThat(a.engine()).isEqualTo("auto");
    assertThat(a.modelFile()).isNull();
    assertThat(a.taskOptions()).isEqualTo(TaskOptions.NONE);
    ModelConfig b = config.models().get(1);
    assertThat(b.engine()).isEqualTo("OnnxRuntime");
    assertThat(b.modelFile()).isEqualTo("onnx/model.onnx");
    assertThat(b.task()).isEqualTo(ModelConfig.TaskKind.TEXT_EMBEDDING);
    assertThat(b.taskOptions().pooling()).isEqualTo(TaskOptions.Pooling.CLS);
    assertThat(b.taskOptions().normalize()).isTrue();
    assertThat(b.taskOptions().maxLength()).isEqualTo(256);
    TaskOptions c = config.models().get(2).taskOptions();
    assertThat(c.imageSize()).containsExactly(224, 224);
    assertThat(c.resize()).isEqualTo(256);
    assertThat(c.mean()).containsExactly(0.5, 0.5, 0.5);
    assertThat(c.std()).containsExactly(0.2, 0.3, 0.4);
    assertThat(c.topK()).isEqualTo(3);
    assertThat(c.scores()).isEqualTo(TaskOptions.Scores.SIGMOID);
  }

  @Test
  void aModelFromTheCommandLineGetsTheSameDefaults() {
    Config config = parse("sources: {s3: {region: eu-west-1}}\n", Map.of());
    ModelConfig model =
        new ConfigLoader(Map.of(), dir).model(config, "mirrored", "s3://bucket/prefix");
    assertThat(model.engine()).isEqualTo("auto");
    assertThat(model.taskOptions()).isEqualTo(TaskOptions.NONE);
    assertThat(model.s3().region()).isEqualTo("eu-west-1");
  }

  @Test
  void rejectsUnknownEnginesAndOptionsOfAnotherTask() {
    assertThatThrownBy(
            () -> parse("models:\n  - {name: a, source: file:a, engine: tf}\n", Map.of()))
        .hasMessage(
            "test.yaml: models[0].engine must be one of auto, PyTorch, OnnxRuntime, not 'tf'");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - {name: a, source: file:a, task: image-classification,"
                        + " task_options: {pooling: mean}}\n",
                    Map.of()))
        .hasMessage(
            "test.yaml: models[0].task_options.pooling does not apply to task image-classification"
                + " (its options: image_size, resize, mean, std, top_k, scores)");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - {name: a, source: file:a, task_options: {top_k: 1}}\n", Map.of()))
        .hasMessage(
            "test.yaml: models[0].task_options.top_k does not apply to task tensor, which takes no"
                + " task_options");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - {name: a, source: file:a, task: image-classification,"
                        + " task_options: {mean: [1, 2]}}\n",
                    Map.of()))
        .hasMessage(
            "test.yaml: models[0].task_options.mean must be one number or three (red, green,"
                + " blue), not 2");
    assertThatThrownBy(
            () -> parse("models:\n  - {name: a, source: file:a, model_file: ../x.pt}\n", Map.of()))
        .hasMessage(
            "test.yaml: models[0].model_file '../x.pt' must be a path relative to the model's"
                + " folder, without '..' (such as onnx/model.onnx)");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - {name: a, source: file:a, task: text-embedding,"
                        + " task_options: {pooling: sum}}\n",
                    Map.of()))
        .hasMessage(
            "test.yaml: models[0].task_options.pooling must be one of mean, cls, max, not 'sum'");
  }

  @Test
  void s3SourcesParseBucketAndPrefixAndTakeGlobalSettingsModelByModel() {
    Config config =
        parse(
            "sources:\n  s3:\n    endpoint: http://127.0.0.1:9000\n    path_style: true\n"
                + "    require_pins: true\nmodels:\n"
                + "  - name: a\n    source: s3://bucket/org/model/\n"
                + "  - name: b\n    source: s3://bucket\n    require_pins: false\n"
                + "    s3: { region: eu-west-1, anonymous: true }\n"
                + "    version_ids: { model.pt: \"3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY\" }\n",
            Map.of());
    ModelConfig a = config.models().get(0);
    assertThat(a.source().scheme()).isEqualTo(SourceRef.Scheme.S3);
    assertThat(a.source().location()).isEqualTo("bucket/org/model");
    assertThat(a.s3())
        .isEqualTo(new Config.S3Config("http://127.0.0.1:9000", "us-east-1", true, false, true));
    assertThat(a.requirePins()).isTrue();
    ModelConfig b = config.models().get(1);
    assertThat(b.source().location()).isEqualTo("bucket");
    assertThat(b.s3())
        .isEqualTo(new Config.S3Config("http://127.0.0.1:9000", "eu-west-1", true, true, true));
    assertThat(b.requirePins()).isFalse();
    assertThat(b.versionIds()).containsEntry("model.pt", "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
    assertThat(config.models().get(0).versionIds()).isEmpty();
  }

  @Test
  void s3MistakesNameKeyAndValue() {
    assertThatThrownBy(() -> parse("models:\n  - name: a\n    source: s3://b/x/../y\n", Map.of()))
        .hasMessage(
            "test.yaml: models[0].source 's3://b/x/../y' is not s3://{bucket}/{prefix} (a bucket name"
                + " of 3 to 63 letters, digits, '.', '-' or '_', and a prefix without empty, '.' or '..'"
                + " segments)");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - name: a\n    source: file:x\n    s3: { region: x }\n", Map.of()))
        .hasMessage("test.yaml: models[0].s3 only applies to s3:// sources");
    assertThatThrownBy(
            () ->
                parse(
                    "models:\n  - name: a\n    source: file:x\n    version_ids: { a: b }\n",
                    Map.of()))
        .hasMessage("test.yaml: models[0].version_ids only applies to s3:// sources");
    assertThatThrownBy(() -> parse("sources:\n  s3:\n    endpoint: minio:9000\n", Map.of()))
        .hasMessage(
            "test.yaml: sources.s3.endpoint must be an http(s) URL such as"
                + " https://s3.example.com:9000, not 'minio:9000'");
    assertThat(
            parse("", Map.of("AWS_ENDPOINT_URL", "http://minio:9000", "AWS_REGION", "eu-north-1"))
                .sources()
                .s3())
        .isEqualTo(new Config.S3Config("http://minio:9000", "eu-north-1", false, false, false));
  }

  @Test
  void theS3ExampleConfigIsValid() {
    Path example = Path.of("config/s3-minio.yaml").toAbsolutePath();
    Config config = new ConfigLoader(Map.of(), dir).load(example);
    assertThat(config.models())
        .extracting(ModelConfig::name)
        .containsExactly("classifier", "legacy");
    assertThat(config.models().get(0).s3().endpoint()).isEqualTo("http://minio:9000");
    assertThat(config.models().get(0).requirePins()).isTrue();
    assertThat(config.models().get(1).s3().region()).isEqualTo("eu-west-1");
    assertThat(config.models().get(1).s3().pathStyle()).isFalse();
  }

  @Test
  void maxModelMemoryTakesSizesWithUnitsAndItsVariable() {
    String models = "models:\n  - name: iris\n    source: file:models/iris\n";
    assertThat(parse(models, Map.of()).server().maxModelMemory()).isZero();
    assertThat(parse("server:\n  max_model_memory: 512MiB\n" + models, Map.of()).server())
        .extracting(Config.ServerConfig::maxModelMemory)
        .isEqualTo(512L << 20);
    assertThat(parse("server:\n  max_model_memory: 1.5 GB\n" + models, Map.of()).server())
        .extracting(Config.ServerConfig::maxModelMemory)
        .isEqualTo(1_500_000_000L);
    assertThat(parse("server:\n  max_model_memory: 1048576\n" + models, Map.of()).server())
        .extracting(Config.ServerConfig::maxModelMemory)
        .isEqualTo(1L << 20);
    assertThat(
            parse(models, Map.of("MODELCACHE_SERVER_MAX_MODEL_MEMORY", "2g"))
                .server()
                .maxModelMemory())
        .isEqualTo(2L << 30);
    assertThatThrownBy(() -> parse("server:\n  max_model_memory: 512 megs\n" + models, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "test.yaml: server.max_model_memory must be a size such as 1073741824, 512MiB or 2GiB"
                + " (units B, KiB, MiB, GiB, TiB, K, M, G, T, KB, MB, GB, TB), not '512 megs'");
  }
}
