package dev.modelcache.source.hub;

import static dev.modelcache.source.hub.FakeHubTest.gitSha1;
import static dev.modelcache.source.hub.FakeHubTest.randomBytes;
import static dev.modelcache.source.hub.FakeHubTest.sha256;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.source.hub.FakeHub.Fault;
import dev.modelcache.source.hub.FakeHub.Recorded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real Python {@code huggingface_hub} client against the fake Hub: if it downloads into the
 * standard cache layout and maps every error header to its own exception, the fake is faithful
 * enough to test our client with. Skips where huggingface_hub cannot be installed.
 */
class HuggingFaceHubClientFidelityTest {
  private static final byte[] WEIGHTS = randomBytes(300_000, 11);
  private static final byte[] CONFIG = "{\"model_type\": \"bert\"}\n".getBytes(UTF_8);
  private static final byte[] NOTES = "notes\n".getBytes(UTF_8);
  private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(60);

  @TempDir Path tmp;
  private FakeHub hub;
  private String commit;
  private Path python;

  @BeforeEach
  void start() throws Exception {
    Optional<Path> found = PythonHub.python();
    Assumptions.assumeTrue(
        found.isPresent(), () -> "huggingface_hub is not installable here: " + PythonHub.reason());
    python = found.get();
    hub = FakeHub.start();
    commit =
        hub.repo("org/name")
            .file("model.safetensors", WEIGHTS, true)
            .file("config.json", CONFIG, false)
            .file("sub/notes.txt", NOTES, false)
            .commit();
  }

  @AfterEach
  void stop() {
    if (hub != null) {
      hub.close();
    }
  }

  @Test
  void snapshotDownloadWritesTheStandardCacheFromTheFake() throws Exception {
    // huggingface_hub reads bodies in 10 MiB chunks and resumes from the last whole chunk, so only
    // a cut past 10 MiB shows its Range request; this file is also streamed from disk by the fake
    Path big = tmp.resolve("big.bin");
    Files.write(big, randomBytes(12 << 20, 12));
    String bigSha256 = FakeHubTest.sha256(big);
    commit = hub.repo("org/name").file("shards/big.bin", big, true).commit("main");
    hub.requireToken("hf_fidelity");
    hub.pageSize(2);
    hub.fault(Fault.cut("/lfs/" + bigSha256, 11 << 20));
    String script =
        String.join(
            "\n",
            "import json, huggingface_hub",
            "from huggingface_hub import constants, hf_hub_download, snapshot_download",
            "out = {'version': huggingface_hub.__version__,",
            "       'has_disable_xet': hasattr(constants, 'HF_HUB_DISABLE_XET')}",
            "out['snapshot'] = snapshot_download('org/name', revision='main')",
            "out['config'] = hf_hub_download('org/name', 'config.json')",
            "print('RESULT ' + json.dumps(out))");
    JsonNode out = runPython(script, Map.of("HF_TOKEN", "hf_fidelity"));

    Path cache = tmp.resolve("cache").toRealPath();
    Path repo = cache.resolve("models--org--name");
    Path snapshot = repo.resolve("snapshots/" + commit);
    assertThat(out.get("snapshot").asText()).isEqualTo(snapshot.toString());
    assertThat(out.get("config").asText()).isEqualTo(snapshot.resolve("config.json").toString());
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(commit);
    assertThat(repo.resolve("blobs/" + sha256(WEIGHTS))).hasBinaryContent(WEIGHTS);
    assertThat(repo.resolve("blobs/" + gitSha1(CONFIG))).hasBinaryContent(CONFIG);
    assertThat(repo.resolve("blobs/" + gitSha1(NOTES))).hasBinaryContent(NOTES);
    assertThat(Files.readSymbolicLink(snapshot.resolve("model.safetensors")))
        .hasToString("../../blobs/" + sha256(WEIGHTS));
    assertThat(Files.readSymbolicLink(snapshot.resolve("config.json")))
        .hasToString("../../blobs/" + gitSha1(CONFIG));
    assertThat(Files.readSymbolicLink(snapshot.resolve("sub/notes.txt")))
        .hasToString("../../../blobs/" + gitSha1(NOTES));
    assertThat(FakeHubTest.sha256(repo.resolve("blobs/" + bigSha256))).isEqualTo(bigSha256);
    assertThat(Files.readSymbolicLink(snapshot.resolve("shards/big.bin")))
        .hasToString("../../../blobs/" + bigSha256);

    List<Recorded> requests = hub.requests();
    System.out.println("huggingface_hub " + out.get("version").asText() + " requested:");
    requests.forEach(
        r ->
            System.out.println(
                "  "
                    + r.host()
                    + " "
                    + r.method()
                    + " "
                    + r.path()
                    + (r.headers().containsKey("range")
                        ? "  range: " + r.headers().get("range")
                        : "")
                    + (r.headers().containsKey("authorization") ? "  (authorized)" : "")));
    try (Stream<Path> files = Files.walk(repo)) {
      System.out.println("cache files:");
      files.sorted().forEach(p -> System.out.println("  " + repo.relativize(p)));
    }
    assertThat(requests)
        .filteredOn(r -> r.host().equals("api"))
        .allSatisfy(
            r -> assertThat(r.headers()).containsEntry("authorization", "Bearer hf_fidelity"));
    assertThat(requests)
        .filteredOn(r -> r.host().equals("cdn"))
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.headers()).doesNotContainKey("authorization"));
    assertThat(requests)
        .filteredOn(r -> r.host().equals("cdn") && r.path().contains(bigSha256))
        .extracting(r -> r.headers().get("range"))
        .hasSize(2)
        .first()
        .isNull();
    assertThat(
            requests.stream()
                .filter(r -> r.host().equals("cdn") && r.path().contains(bigSha256))
                .skip(1)
                .findFirst()
                .orElseThrow()
                .headers()
                .get("range"))
        .matches("bytes=[1-9]\\d*-");
    // 6 entries (config.json, model.safetensors, shards, shards/big.bin, sub, sub/notes.txt)
    assertThat(requests.stream().filter(r -> r.path().contains("/tree/")).count()).isEqualTo(3);
  }

  @Test
  void everyErrorHeaderBecomesTheClientsOwnException() throws Exception {
    hub.repo("org/gated").file("a.bin", new byte[] {1}, true).commit();
    hub.repo("org/gated").gated(true);
    String script =
        String.join(
            "\n",
            "import json",
            "from huggingface_hub import hf_hub_download, snapshot_download",
            "def kind(call):",
            "    try:",
            "        call()",
            "        return 'ok'",
            "    except Exception as e:",
            "        return type(e).__name__",
            "out = {",
            "  'unknown_repo': kind(lambda: snapshot_download('org/nope')),",
            "  'unknown_repo_file': kind(lambda: hf_hub_download('org/nope', 'config.json')),",
            "  'unknown_revision': kind(lambda: snapshot_download('org/name', revision='nobranch')),",
            "  'unknown_revision_file':"
                + " kind(lambda: hf_hub_download('org/name', 'config.json', revision='nobranch')),",
            "  'missing_file': kind(lambda: hf_hub_download('org/name', 'missing.bin')),",
            "  'gated': kind(lambda: hf_hub_download('org/gated', 'a.bin')),",
            "  'gated_other_token':"
                + " kind(lambda: hf_hub_download('org/gated', 'a.bin', token='hf_other')),",
            "}",
            "print('RESULT ' + json.dumps(out))");
    JsonNode out = runPython(script, Map.of());

    assertThat(out.get("unknown_repo").asText()).isEqualTo("RepositoryNotFoundError");
    assertThat(out.get("unknown_repo_file").asText()).isEqualTo("RepositoryNotFoundError");
    assertThat(out.get("unknown_revision").asText()).isEqualTo("RevisionNotFoundError");
    assertThat(out.get("unknown_revision_file").asText()).isEqualTo("RevisionNotFoundError");
    assertThat(out.get("missing_file").asText()).endsWith("EntryNotFoundError");
    assertThat(out.get("gated").asText()).isEqualTo("GatedRepoError");
    assertThat(out.get("gated_other_token").asText()).isEqualTo("GatedRepoError");
  }

  /** Runs the script against the fake with an empty cache; returns its "RESULT {json}" line. */
  private JsonNode runPython(String script, Map<String, String> extraEnv) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("HF_ENDPOINT", hub.endpoint());
    env.put("HF_HOME", tmp.resolve("hf-home").toString()); // no token file from this machine
    env.put("HF_HUB_CACHE", tmp.resolve("cache").toString());
    env.put("HF_HUB_DISABLE_TELEMETRY", "1");
    env.put("HF_HUB_DISABLE_XET", "1"); // ignored by versions before Xet
    env.put("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    env.putAll(extraEnv);
    Files.createDirectories(tmp.resolve("cache"));
    PythonHub.Result result = PythonHub.run(python, script, env, SCRIPT_TIMEOUT);
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
}
