package dev.modelcache.fetch;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.PythonHub;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.HubTree;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What modelcache fetched from the (fake) Hub is read by the real Python huggingface_hub with
 * {@code HF_HUB_OFFLINE=1}, for a branch, a tag and a commit, with and without the config's
 * patterns, without one request; a snapshot that lacks a file is reported as incomplete. Skips
 * where huggingface_hub cannot be installed.
 */
class HubOfflineClientTest {
  private static final byte[] WEIGHTS = randomBytes(200_000, 5);
  private static final byte[] CONFIG = "{\"model_type\": \"bert\"}\n".getBytes(UTF_8);
  private static final byte[] NOTES = "notes\n".getBytes(UTF_8);
  private static final byte[] README = "# readme\n".getBytes(UTF_8);

  @TempDir Path tmp;
  private FakeHub hub;
  private Path python;

  @BeforeEach
  void start() throws Exception {
    Optional<Path> found = PythonHub.python();
    Assumptions.assumeTrue(
        found.isPresent(), () -> "huggingface_hub is not installable here: " + PythonHub.reason());
    python = found.get();
    hub = FakeHub.start();
  }

  @AfterEach
  void stop() {
    if (hub != null) {
      hub.close();
    }
  }

  @Test
  void huggingfaceHubReadsEveryRevisionOfferedOffline() throws Exception {
    String commit = stage("org/full").commit("main", "v1");
    String partCommit = stage("org/part").commit("main", "v1");
    String include = "    include: [\"*.json\", \"sub/*\"]\n";
    fetch(
        model("full-branch", "org/full@main", "")
            + model("full-tag", "org/full@v1", "")
            + model("full-commit", "org/full@" + commit, "")
            + model("part-branch", "org/part@main", include)
            + model("part-tag", "org/part@v1", include)
            + model("part-commit", "org/part@" + partCommit, include));
    Path repo = tmp.resolve("cache/hub/models--org--full");
    hub.clearRequests();

    String script =
        String.join(
            "\n",
            "import hashlib, json, os, huggingface_hub",
            "from huggingface_hub import hf_hub_download, snapshot_download",
            "def digests(folder):",
            "    out = {}",
            "    for base, _, names in os.walk(folder):",
            "        for n in names:",
            "            p = os.path.join(base, n)",
            "            out[os.path.relpath(p, folder)] = hashlib.sha256(open(p, 'rb').read()).hexdigest()",
            "    return out",
            "def attempt(call):",
            "    try:",
            "        return {'ok': call()}",
            "    except Exception as e:",
            "        print(type(e).__name__ + ': ' + str(e))",
            "        return {'error': type(e).__name__}",
            "out = {'version': huggingface_hub.__version__}",
            "revisions = {'branch': 'main', 'tag': 'v1', 'commit': '" + commit + "'}",
            "part = {'branch': 'main', 'tag': 'v1', 'commit': '" + partCommit + "'}",
            "patterns = ['*.json', 'sub/*']",
            "for kind, rev in revisions.items():",
            "    out['full-' + kind] = attempt(lambda: digests(snapshot_download('org/full', revision=rev)))",
            "    out['full-file-' + kind] = attempt(lambda: hashlib.sha256(open(hf_hub_download("
                + "'org/full', 'model.safetensors', revision=rev), 'rb').read()).hexdigest())",
            "for kind, rev in part.items():",
            "    out['part-' + kind] = attempt(lambda: digests(snapshot_download('org/part', revision=rev,"
                + " allow_patterns=patterns)))",
            "    out['part-file-' + kind] = attempt(lambda: hashlib.sha256(open(hf_hub_download("
                + "'org/part', 'sub/notes.txt', revision=rev), 'rb').read()).hexdigest())",
            "    out['part-unfiltered-' + kind] = attempt(lambda: digests(snapshot_download('org/part',"
                + " revision=rev)))",
            "print('RESULT ' + json.dumps(out))");
    JsonNode out = runPython(script);

    Map<String, String> all =
        Map.of(
            "model.safetensors", sha256(WEIGHTS),
            "config.json", sha256(CONFIG),
            "sub/notes.txt", sha256(NOTES),
            "README.md", sha256(README));
    Map<String, String> part =
        Map.of("config.json", sha256(CONFIG), "sub/notes.txt", sha256(NOTES));
    for (String kind : List.of("branch", "tag", "commit")) {
      assertThat(digests(out.path("full-" + kind)))
          .as("snapshot_download('org/full', %s): %s", kind, out)
          .isEqualTo(all);
      assertThat(out.path("full-file-" + kind).path("ok").asText())
          .as("hf_hub_download('org/full', %s): %s", kind, out)
          .isEqualTo(sha256(WEIGHTS));
      assertThat(digests(out.path("part-" + kind)))
          .as("snapshot_download('org/part', %s, allow_patterns): %s", kind, out)
          .isEqualTo(part);
      assertThat(out.path("part-file-" + kind).path("ok").asText())
          .as("hf_hub_download('org/part', %s): %s", kind, out)
          .isEqualTo(sha256(NOTES));
      // the cache holds only the config's patterns: asked for the whole repo, the client raises
      // (for a commit it goes on to download what is missing, which offline raises)
      assertThat(out.path("part-unfiltered-" + kind).path("error").asText())
          .as("snapshot_download('org/part', %s) with no patterns: %s", kind, out)
          .isEqualTo(kind.equals("commit") ? "LocalEntryNotFoundError" : "IncompleteSnapshotError");
    }
    assertThat(hub.requests()).isEmpty();
    assertThat(repo.resolve("trees/" + commit + ".json")).exists();
  }

  @Test
  void huggingfaceHubReportsASnapshotThatLacksAFile() throws Exception {
    String commit = stage("org/full").commit("main");
    fetch(
        model("full-branch", "org/full@main", "") + model("full-commit", "org/full@" + commit, ""));
    Files.delete(tmp.resolve("cache/hub/models--org--full/snapshots/" + commit + "/sub/notes.txt"));

    String script =
        String.join(
            "\n",
            "import json",
            "from huggingface_hub import snapshot_download",
            "out = {}",
            "for rev in ['main', '" + commit + "']:",
            "    try:",
            "        out[rev] = {'ok': snapshot_download('org/full', revision=rev)}",
            "    except Exception as e:",
            "        print(type(e).__name__ + ': ' + str(e))",
            "        out[rev] = {'error': type(e).__name__, 'message': str(e)}",
            "print('RESULT ' + json.dumps(out))");
    JsonNode out = runPython(script);

    assertThat(out.path("main").path("error").asText())
        .as("%s", out)
        .isEqualTo("IncompleteSnapshotError");
    assertThat(out.path("main").path("message").asText())
        .contains("1 file(s) are missing (sub/notes.txt)");
    // for a commit the client tries to download what is missing, which offline raises
    assertThat(out.path(commit).path("error").asText())
        .as("%s", out)
        .isEqualTo("LocalEntryNotFoundError");
  }

  @Test
  void writesTheSameTreeListingAsHuggingfaceHubDownloadingItself() throws Exception {
    String commit = stage("org/full").xet(true).commit("main");
    fetch(model("full", "org/full@main", "    include: [\"*.json\"]\n"));

    String script =
        String.join(
            "\n",
            "from huggingface_hub import snapshot_download",
            "snapshot_download('org/full', revision='main', allow_patterns=['*.json'])",
            "print('RESULT {}')");
    runPython(
        script,
        tmp.resolve("python-cache"),
        Map.of("HF_HUB_OFFLINE", "0", "HF_HUB_DISABLE_XET", "1"));

    String name = "models--org--full/trees/" + commit + ".json";
    assertThat(Files.readString(tmp.resolve("cache/hub/" + name), UTF_8))
        .isEqualTo(Files.readString(tmp.resolve("python-cache/" + name), UTF_8));
  }

  @Test
  void writesTheTreeListingByteForByteAsHuggingfaceHub() throws Exception {
    String xet = "ab".repeat(32);
    List<HubTree.Entry> entries =
        List.of(
            new HubTree.Entry(
                "z/w\u00e9ights \"1\".bin", 12, "1".repeat(40), "2".repeat(64), 12L, xet),
            new HubTree.Entry("config.json", 5, "3".repeat(40), null, null, null),
            new HubTree.Entry("b\\c\t.txt", 0, "4".repeat(40), null, null, null));
    String script =
        String.join(
            "\n",
            "from huggingface_hub._tree_cache import TreeCacheEntry, write_tree_cache",
            "write_tree_cache('" + tmp + "', 'c' * 40, {",
            "  'z/w\\u00e9ights \"1\".bin': TreeCacheEntry(size=12, blob_id='1' * 40,"
                + " lfs_sha256='2' * 64, lfs_size=12, xet_hash='"
                + xet
                + "'),",
            "  'config.json': TreeCacheEntry(size=5, blob_id='3' * 40),",
            "  'b\\\\c\\t.txt': TreeCacheEntry(size=0, blob_id='4' * 40),",
            "})",
            "print('RESULT {}')");
    runPython(script);

    assertThat(HubTree.json(entries))
        .isEqualTo(Files.readString(tmp.resolve("trees/" + "c".repeat(40) + ".json"), UTF_8));
  }

  @Test
  void fetchesIntoTheHubCacheThatHfHubCacheNames() throws Exception {
    String commit = stage("org/full").commit("main");
    Path hubCache = tmp.resolve("x/hub-cache");
    Config config =
        fetch(
            "sources:\n  hf:\n    endpoint: "
                + hub.endpoint()
                + "\nmodels:\n"
                + model("full", "org/full@main", ""),
            Map.of("HF_HUB_CACHE", hubCache.toString()));

    assertThat(config.cache().dir()).isEqualTo(tmp.resolve("x"));
    Path repo = hubCache.resolve("models--org--full");
    assertThat(repo.resolve("refs/main")).hasContent(commit);
    assertThat(repo.resolve("snapshots/" + commit + "/model.safetensors"))
        .hasBinaryContent(WEIGHTS);
    assertThat(repo.resolve("trees/" + commit + ".json")).exists();
    assertThat(tmp.resolve("x/.modelcache/models/full.json")).exists();
    assertThat(tmp.resolve("x/hub")).doesNotExist();
    try (java.util.stream.Stream<Path> inHubCache = Files.list(hubCache)) {
      assertThat(inHubCache.map(p -> p.getFileName().toString()))
          .containsExactly("models--org--full");
    }
    hub.clearRequests();

    String script =
        String.join(
            "\n",
            "import hashlib, json",
            "from huggingface_hub import hf_hub_download, scan_cache_dir",
            "path = hf_hub_download('org/full', 'model.safetensors')",
            "scan = scan_cache_dir()",
            "out = {'sha256': hashlib.sha256(open(path, 'rb').read()).hexdigest(),",
            "       'repos': [r.repo_id for r in scan.repos],",
            "       'warnings': [str(w) for w in scan.warnings]}",
            "print('RESULT ' + json.dumps(out))");
    JsonNode out = runPython(script, hubCache);

    assertThat(out.path("sha256").asText()).isEqualTo(sha256(WEIGHTS));
    assertThat(out.path("repos").toString()).isEqualTo("[\"org/full\"]");
    assertThat(out.path("warnings").toString()).isEqualTo("[]");
    assertThat(hub.requests()).isEmpty();
  }

  private FakeHub.Repo stage(String repo) {
    return hub.repo(repo)
        .file("model.safetensors", WEIGHTS, true)
        .file("config.json", CONFIG, false)
        .file("sub/notes.txt", NOTES, false)
        .file("README.md", README, false);
  }

  private static String model(String name, String source, String extra) {
    return "  - name: " + name + "\n    source: hf://" + source + "\n" + extra;
  }

  private void fetch(String modelsYaml) throws Exception {
    fetch(
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nmodels:\n"
            + modelsYaml,
        Map.of());
  }

  private Config fetch(String yaml, Map<String, String> env) throws Exception {
    Config config = new ConfigLoader(env, tmp).parse(yaml, "test config", tmp);
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(config.cache()),
            Map.of(
                SourceRef.Scheme.HF,
                new HuggingFaceSource(config.sources().hf(), new OkHttpClient())),
            new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            false)) {
      for (ModelConfig model : config.models()) {
        fetcher.fetch(model);
      }
    }
    return config;
  }

  /** Runs {@code script} offline on the cache; returns its "RESULT {json}" line. */
  private JsonNode runPython(String script) throws Exception {
    return runPython(script, tmp.resolve("cache/hub"));
  }

  private JsonNode runPython(String script, Path hubCache) throws Exception {
    return runPython(script, hubCache, Map.of());
  }

  private JsonNode runPython(String script, Path hubCache, Map<String, String> overrides)
      throws Exception {
    Map<String, String> env = new java.util.HashMap<>();
    env.putAll(
        Map.of(
            "HF_ENDPOINT",
            hub.endpoint(),
            "HF_HOME",
            tmp.resolve("hf-home").toString(),
            "HF_HUB_CACHE",
            hubCache.toString(),
            "HF_HUB_OFFLINE",
            "1",
            "HF_HUB_DISABLE_TELEMETRY",
            "1",
            "HF_HUB_DISABLE_PROGRESS_BARS",
            "1"));
    env.putAll(overrides);
    PythonHub.Result result = PythonHub.run(python, script, env, Duration.ofSeconds(60));
    System.out.println("huggingface_hub " + PythonHub.version() + " printed:\n" + result.output());
    assertThat(result.ok()).as("python exit %s:\n%s", result.exitCode(), result.output()).isTrue();
    String line =
        result
            .output()
            .lines()
            .filter(l -> l.startsWith("RESULT "))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no RESULT line in:\n" + result.output()));
    return new ObjectMapper().readTree(line.substring("RESULT ".length()));
  }

  /** The {path: sha256} an attempt returned, or its error. */
  private static Object digests(JsonNode attempt) {
    if (!attempt.has("ok")) {
      return attempt.toString();
    }
    Map<String, String> out = new java.util.TreeMap<>();
    attempt.path("ok").properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
    return out;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
