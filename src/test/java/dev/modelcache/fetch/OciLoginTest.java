package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.OciSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.oci.OciRegistry;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Logins to one real registry for the class (Debian's {@code docker-registry} with {@code htpasswd}
 * auth: a {@code Basic} challenge): from an {@code auths} entry of Docker's {@code config.json},
 * wrong, missing, and from a {@code credHelpers} helper script on the {@code PATH} given to the
 * source, which answers, fails, or knows no login. Every logger is at DEBUG; no password may appear
 * on a line or in an error.
 */
class OciLoginTest {
  private static final String USER = "alice";
  private static final String PASSWORD = "pw-4kT9-registry-secret";
  private static final byte[] WEIGHTS = HubFetchTest.randomBytes(100_000, 5);

  @TempDir static Path shared;
  private static OciRegistry registry;

  @TempDir Path tmp;
  private final List<Duration> sleeps = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    registry = OciRegistry.startWithLogin(shared, USER, PASSWORD);
    registry.push("team/iris", "v1", Map.of("model.bin", WEIGHTS));
  }

  @AfterAll
  static void stop() {
    if (registry != null) {
      registry.close();
    }
  }

  private static String auth(String user, String password) {
    return Base64.getEncoder()
        .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Fetches team/iris:v1 with {@code dockerConfig} (JSON) as Docker's config, {@code path} as PATH.
   */
  private InstalledSnapshot fetch(String dockerConfig, String path) throws Exception {
    Path file = Files.writeString(tmp.resolve("config.json"), dockerConfig);
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  oci:\n    docker_config: "
            + file
            + "\nmodels:\n  - name: m\n    source: oci://"
            + registry.host()
            + "/team/iris:v1\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(tmp.resolve("cache")),
            Map.of(
                SourceRef.Scheme.OCI,
                new OciSource(config.sources().oci(), new OkHttpClient(), Map.of("PATH", path))),
            new ModelStates(List.of("m"), Set.of("m"), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            false,
            new Backoff(
                2, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofSeconds(5), () -> 1.0),
            sleeps::add,
            64 * 1024)) {
      return fetcher.fetch(config.models().get(0));
    }
  }

  /** The message of a fetch that must fail at once; no secret in it, its causes or the log. */
  private String failure(String dockerConfig, String path, String... secrets) {
    Throwable thrown;
    List<String> texts = new ArrayList<>();
    try (LogCapture log = LogCapture.everythingAtDebug()) {
      thrown = catchThrowable(() -> fetch(dockerConfig, path));
      texts.addAll(log.fullLines());
    }
    assertThat(thrown).isInstanceOf(SourceException.class);
    for (Throwable t = thrown; t != null; t = t.getCause()) {
      texts.add(t.toString());
    }
    for (String secret : secrets) {
      assertThat(texts).noneMatch(text -> text.contains(secret));
    }
    assertThat(sleeps).as("not retried").isEmpty();
    System.out.println("OciLoginTest: " + thrown.getMessage());
    return thrown.getMessage();
  }

  /** A {@code docker-credential-mctest} in a fresh folder: {@code body} after {@code read reg}. */
  private String helper(String body) throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    Path script =
        Files.writeString(
            bin.resolve("docker-credential-mctest"),
            "#!/bin/sh\nread -r reg\necho \"$1 $reg\" > " + tmp.resolve("asked") + "\n" + body);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    return bin + ":/usr/bin:/bin";
  }

  private static String credHelpers() {
    return "{\"credHelpers\": {\"" + registry.host() + "\": \"mctest\"}}";
  }

  @Test
  void anAuthsEntryAnswersTheBasicChallengeAndIsNeverLogged() throws Exception {
    String auth = auth(USER, PASSWORD);
    List<String> lines;
    try (LogCapture log = LogCapture.everythingAtDebug()) {
      InstalledSnapshot snapshot =
          fetch("{\"auths\": {\"" + registry.host() + "\": {\"auth\": \"" + auth + "\"}}}", "");
      assertThat(snapshot.dir().resolve("model.bin")).hasBinaryContent(WEIGHTS);
      lines = log.fullLines();
    }
    assertThat(lines).noneMatch(line -> line.contains(PASSWORD) || line.contains(auth));
    System.out.println("OciLoginTest: Basic login fetch logged " + lines.size() + " lines");
  }

  @Test
  void aWrongPasswordIsA401NamingTheRegistryAndDockerLogin() {
    String wrong = auth(USER, "wrong-pw-3vZ8");
    String message =
        failure(
            "{\"auths\": {\"https://" + registry.host() + "\": {\"auth\": \"" + wrong + "\"}}}",
            "",
            wrong,
            "wrong-pw-3vZ8");
    assertThat(message)
        .startsWith("m - " + registry.host() + " answered HTTP 401")
        .contains("the registry refuses the login from " + tmp.resolve("config.json"))
        .contains("run 'docker login " + registry.host() + "'");
  }

  @Test
  void noLoginForTheRegistryIsNamedWithWhatToDo() {
    String message = failure("{\"auths\": {\"elsewhere.example\": {\"auth\": \"eDp5\"}}}", "");
    assertThat(message)
        .startsWith("m - " + registry.host() + " asks for a login for the manifest ")
        .contains("run 'docker login " + registry.host() + "'");
  }

  @Test
  void aCredentialHelperOnThePathGivesTheLogin() throws Exception {
    String path =
        helper(
            "printf '{\"ServerURL\": \"%s\", \"Username\": \""
                + USER
                + "\", \"Secret\": \""
                + PASSWORD
                + "\"}' \"$reg\"\n");
    InstalledSnapshot snapshot = fetch(credHelpers(), path);
    assertThat(snapshot.dir().resolve("model.bin")).hasBinaryContent(WEIGHTS);
    assertThat(tmp.resolve("asked")).hasContent("get " + registry.host());
  }

  @Test
  void aFailingHelperIsNamedAndNeverQuoted() throws Exception {
    String path = helper("echo 'helper broke near " + PASSWORD + "'\necho oops >&2\nexit 3\n");
    String message = failure(credHelpers(), path, PASSWORD);
    assertThat(message)
        .isEqualTo(
            "m - the credential helper docker-credential-mctest failed for "
                + registry.host()
                + " (exit 3): check that 'echo "
                + registry.host()
                + " | docker-credential-mctest get' prints the login, or run 'docker login "
                + registry.host()
                + "' again");
  }

  @Test
  void aHelperThatKnowsNoLoginOrIsMissingIsNamed() throws Exception {
    String path = helper("echo 'credentials not found in native keychain'\nexit 1\n");
    assertThat(failure(credHelpers(), path))
        .startsWith("m - " + registry.host() + " asks for a login for the manifest ");
    assertThat(failure(credHelpers(), "/usr/bin:/bin"))
        .isEqualTo(
            "m - Docker's config.json names the credential helper docker-credential-mctest for "
                + registry.host()
                + ", which is not on the PATH: install it there, or put the login in the config's"
                + " auths");
  }
}
