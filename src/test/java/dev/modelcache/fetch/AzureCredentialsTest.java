package dev.modelcache.fetch;

import static dev.modelcache.fetch.S3FetchTest.randomBytes;
import static dev.modelcache.fetch.S3FetchTest.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.AzureSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.azure.Azurite;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Azure source's other credentials against one Azurite for the class: a SAS token made with the
 * development key (from {@code AZURE_STORAGE_SAS_TOKEN} or {@code sas_token_env}), expired or
 * without read permission, and a connection string with its {@code BlobEndpoint}. Each runs with
 * every logger at DEBUG, and no secret may appear on a line, in an error or in its causes.
 */
class AzureCredentialsTest {
  private static final byte[] WEIGHTS = randomBytes(200_000, 3);
  private static final String MODEL =
      "  - name: m\n    source: az://" + Azurite.ACCOUNT + "/models/org/m\n";
  private static final Pattern SIG = Pattern.compile("(?:^|&)sig=([^&]+)");

  @TempDir static Path shared;
  private static Azurite azurite;

  @TempDir Path tmp;

  @BeforeAll
  static void start() throws Exception {
    azurite = Azurite.start(shared);
    azurite.put("models", "org/m/model.bin", WEIGHTS);
  }

  @AfterAll
  static void stop() {
    if (azurite != null) {
      azurite.close();
    }
  }

  /** Fetches {@link #MODEL} with {@code env}; {@code endpoint}: whether the config names one. */
  private InstalledSnapshot fetch(Map<String, String> env, String azureYaml, boolean endpoint)
      throws Exception {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  azure:\n"
            + (endpoint ? "    endpoint: http://127.0.0.1:" + azurite.port() + "/{account}\n" : "")
            + azureYaml
            + "models:\n"
            + MODEL
            + "    sha256:\n      model.bin: "
            + sha256(WEIGHTS)
            + "\n";
    Config config = new ConfigLoader(env, tmp).parse(yaml, "test config", tmp);
    ModelConfig model = config.models().get(0);
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(config.cache().dir()),
            Map.of(SourceRef.Scheme.AZURE, new AzureSource(config.sources().azure(), env, 4 << 20)),
            new ModelStates(List.of("m"), Set.of("m"), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            false,
            new Backoff(
                2, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofSeconds(5), () -> 1.0),
            d -> {},
            Fetcher.RANGED_MIN_BYTES)) {
      return fetcher.fetch(model);
    }
  }

  /** The failure of a fetch that must fail, checked for {@code secrets} with its log lines. */
  private String failure(
      Map<String, String> env, String azureYaml, boolean endpoint, String... secrets) {
    Throwable thrown;
    List<String> lines;
    try (LogCapture log = LogCapture.everythingAtDebug()) {
      thrown = catchThrowable(() -> fetch(env, azureYaml, endpoint));
      lines = log.fullLines();
    }
    assertThat(thrown).isInstanceOf(SourceException.class);
    List<String> texts = new ArrayList<>(lines);
    for (Throwable t = thrown; t != null; t = t.getCause()) {
      texts.add(t.toString());
    }
    assertNoSecret(texts, secrets);
    System.out.println("AzureCredentialsTest: " + thrown.getMessage());
    return thrown.getMessage();
  }

  private static void assertNoSecret(List<String> texts, String... secrets) {
    for (String secret : secrets) {
      assertThat(texts)
          .as(texts.size() + " lines and messages")
          .noneMatch(text -> text.contains(secret));
    }
  }

  /** The SAS itself and its signature, as sent and percent-decoded. */
  private static String[] secrets(String sas) {
    Matcher sig = SIG.matcher(sas);
    assertThat(sig.find()).as("a SAS has a sig").isTrue();
    return new String[] {
      sas, sig.group(1), URLDecoder.decode(sig.group(1), StandardCharsets.UTF_8), Azurite.KEY
    };
  }

  @Test
  void fetchesWithOnlyASasTokenAndNeverLogsIt() throws Exception {
    String sas = azurite.sas("models", "rl", OffsetDateTime.now().plusHours(1));
    List<String> lines;
    try (LogCapture log = LogCapture.everythingAtDebug()) {
      InstalledSnapshot snapshot = fetch(Map.of("AZURE_STORAGE_SAS_TOKEN", sas), "", true);
      assertThat(snapshot.dir().resolve("model.bin")).hasBinaryContent(WEIGHTS);
      lines = log.fullLines();
    }
    assertThat(lines).as("DEBUG took effect").anyMatch(line -> line.startsWith("DEBUG"));
    assertNoSecret(lines, secrets(sas));
    System.out.println("AzureCredentialsTest: SAS fetch logged " + lines.size() + " lines");
  }

  @Test
  void fetchesWithASasFromTheVariableThatSasTokenEnvNames() throws Exception {
    String sas = "?" + azurite.sas("models", "rl", OffsetDateTime.now().plusHours(1));
    InstalledSnapshot snapshot =
        fetch(Map.of("TEAM_SAS", sas), "    sas_token_env: TEAM_SAS\n", true);
    assertThat(snapshot.dir().resolve("model.bin")).hasBinaryContent(WEIGHTS);
  }

  @Test
  void anExpiredSasIsRefusedNamingTheModelAndWhatToDo() {
    String sas = azurite.sas("models", "rl", OffsetDateTime.now().minusHours(1));
    String message = failure(Map.of("AZURE_STORAGE_SAS_TOKEN", sas), "", true, secrets(sas));
    assertThat(message)
        .startsWith("m - listing of az://devstoreaccount1/models/org/m answered HTTP 403")
        .contains("Azure refused the credential ($AZURE_STORAGE_SAS_TOKEN)")
        .contains("has not expired");
  }

  @Test
  void aSasWithoutReadIsRefusedNamingTheModelAndTheFile() {
    String sas = azurite.sas("models", "l", OffsetDateTime.now().plusHours(1));
    String message = failure(Map.of("AZURE_STORAGE_SAS_TOKEN", sas), "", true, secrets(sas));
    assertThat(message)
        .startsWith("m - GET model.bin of az://devstoreaccount1/models/org/m answered HTTP 403")
        .contains("Azure refused the credential ($AZURE_STORAGE_SAS_TOKEN)")
        .contains("a SAS allows read and list");
  }

  @Test
  void fetchesWithTheDevelopmentConnectionStringAndItsBlobEndpoint() throws Exception {
    List<String> lines;
    try (LogCapture log = LogCapture.everythingAtDebug()) {
      InstalledSnapshot snapshot =
          fetch(Map.of("AZURE_STORAGE_CONNECTION_STRING", azurite.connectionString()), "", false);
      assertThat(snapshot.dir().resolve("model.bin")).hasBinaryContent(WEIGHTS);
      lines = log.fullLines();
    }
    assertNoSecret(lines, Azurite.KEY);
  }

  @Test
  void aConnectionStringWithAWrongKeyIsRefusedNeverShowingIt() {
    String wrongKey = java.util.Base64.getEncoder().encodeToString(new byte[64]);
    String connection = azurite.connectionString().replace(Azurite.KEY, wrongKey);
    String message =
        failure(
            Map.of("AZURE_STORAGE_CONNECTION_STRING", connection), "", false, wrongKey, connection);
    assertThat(message)
        .startsWith("m - listing of az://devstoreaccount1/models/org/m answered HTTP 403")
        .contains("Azure refused the credential ($AZURE_STORAGE_CONNECTION_STRING)");
  }
}
