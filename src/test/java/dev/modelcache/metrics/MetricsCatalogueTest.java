package dev.modelcache.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.modelcache.inference.ModelStates;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/metrics.md against what a scrape really shows: every meter of {@link Metrics} has its row,
 * every row is a real family with the type Prometheus sees, and the scrape keeps the naming rules
 * that {@code promtool check metrics} enforces (checked here without promtool, so on every
 * machine).
 */
class MetricsCatalogueTest {
  private static final Path DOC = Path.of("docs/metrics.md");
  private static final Pattern TYPE = Pattern.compile("(?m)^# TYPE (\\S+) (\\S+)$");
  private static final Pattern HELP = Pattern.compile("(?m)^# HELP (\\S+) (.*)$");
  private static final Pattern SAMPLE =
      Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (\\S+)");
  private static final Pattern ROW =
      Pattern.compile("(?m)^\\| (`[^|]+`) \\|\\s*(\\w+)\\s*\\|([^|]*)\\|");
  private static final Pattern NAME = Pattern.compile("`([a-z_:][a-z0-9_:]*)`");

  @TempDir Path cache;
  private PrometheusMeterRegistry registry;
  private JvmMetrics jvm;
  private String scrape;

  @BeforeEach
  void registerEveryMeter() {
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    jvm = new JvmMetrics().bindTo(registry);
    Metrics metrics = new Metrics(registry);
    ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
    metrics.bindModels(states, List.of("iris"));
    metrics.bindCache(cache, () -> dev.modelcache.store.CacheStore.bytesUnder(cache));
    metrics.bindHttp(() -> 1);
    metrics.bindReload();
    new WatchMeters(registry).bind("iris");
    CacheMeters cacheMeters = new CacheMeters(registry, 2L << 30);
    cacheMeters.evicted(1000);
    cacheMeters.refused();
    new RevisionMeters(registry).request("iris", "0b5d", Metrics.Outcome.SUCCESS);
    metrics.bindGrpc(() -> 1);
    metrics.grpcCall("ModelInfer", "OK");
    for (Metrics.Outcome outcome : Metrics.Outcome.values()) {
      metrics.inference("iris", outcome, 1_000_000);
    }
    metrics.loaded("iris", Duration.ofMillis(20));
    metrics.modelInfo("iris", "PyTorch", "tensor", "cpu()");
    new ModelMemoryMeters(registry).loaded("iris", "0b5d", new Object(), 42L << 20);
    metrics.fetchBytes("iris", "hf").increment(100);
    metrics.fetched("iris", Duration.ofSeconds(1));
    metrics.fetchRetries("iris", "hf").increment();
    metrics.verifyFailures("iris").increment();
    metrics.batch("iris", 1);
    for (Metrics.Rejection reason : Metrics.Rejection.values()) {
      metrics.rejected(reason);
    }
    scrape = registry.scrape();
  }

  @AfterEach
  void close() {
    jvm.close();
    registry.close();
  }

  /** family name to type, as the scrape declares them. */
  private Map<String, String> families() {
    Map<String, String> families = new LinkedHashMap<>();
    Matcher type = TYPE.matcher(scrape);
    while (type.find()) {
      families.put(type.group(1), type.group(2));
    }
    return families;
  }

  /** Documented family name to its row's type, from the tables of docs/metrics.md. */
  private static Map<String, String> documented() throws Exception {
    Map<String, String> rows = new LinkedHashMap<>();
    Matcher row = ROW.matcher(Files.readString(DOC));
    while (row.find()) {
      Matcher name = NAME.matcher(row.group(1));
      while (name.find()) {
        rows.put(name.group(1), row.group(2));
      }
    }
    return rows;
  }

  @Test
  void everyMeterNameConstantHasARow() throws Exception {
    Set<String> rows = documented().keySet();
    List<Field> fields = new java.util.ArrayList<>(List.of(Metrics.class.getDeclaredFields()));
    fields.addAll(List.of(WatchMeters.class.getDeclaredFields()));
    fields.addAll(List.of(CacheMeters.class.getDeclaredFields()));
    fields.addAll(List.of(RevisionMeters.class.getDeclaredFields()));
    fields.addAll(List.of(ModelMemoryMeters.class.getDeclaredFields()));
    for (Field field : fields) {
      if (Modifier.isStatic(field.getModifiers()) && field.getType() == String.class) {
        String prefix = ((String) field.get(null)).replace('.', '_');
        assertThat(rows)
            .as("Metrics." + field.getName() + " (" + field.get(null) + ") in " + DOC)
            .anyMatch(row -> row.startsWith(prefix));
        assertThat(families().keySet())
            .as("Metrics." + field.getName() + " registered by this test")
            .anyMatch(family -> family.startsWith(prefix));
      }
    }
  }

  @Test
  void modelcacheRowsAreExactlyTheScrapedFamiliesWithTheirTypes() throws Exception {
    Map<String, String> scraped = new LinkedHashMap<>();
    families()
        .forEach(
            (name, type) -> {
              if (name.startsWith("modelcache_")) {
                scraped.put(name, type);
              }
            });
    Map<String, String> rows = new LinkedHashMap<>();
    documented()
        .forEach(
            (name, type) -> {
              if (name.startsWith("modelcache_")) {
                rows.put(name, type);
              }
            });
    assertThat(new TreeSet<>(rows.keySet())).isEqualTo(new TreeSet<>(scraped.keySet()));
    assertThat(rows).containsExactlyInAnyOrderEntriesOf(scraped);
  }

  @Test
  void everyJvmAndProcessFamilyIsDocumented() throws Exception {
    Map<String, String> rows = documented();
    families()
        .forEach(
            (name, type) -> {
              if (!name.startsWith("modelcache_")) {
                assertThat(rows).as(name + " in " + DOC).containsEntry(name, type);
              }
            });
  }

  @Test
  void theScrapeKeepsPrometheusNamingRules() {
    Map<String, String> families = families();
    Map<String, String> help = new LinkedHashMap<>();
    Matcher h = HELP.matcher(scrape);
    while (h.find()) {
      help.put(h.group(1), h.group(2));
    }
    Pattern abbreviated =
        Pattern.compile("_(ns|us|ms|sec|secs|min|mins|hrs|kb|mb|gb|kib|mib|gib)(_|$)");
    Pattern nonBase =
        Pattern.compile(
            "_(nanoseconds|microseconds|milliseconds|minutes|hours|days|kilobytes|megabytes"
                + "|gigabytes|percent)(_|$)");
    families.forEach(
        (name, type) -> {
          assertThat(name).matches("[a-z_:][a-z0-9_:]*");
          assertThat(help.get(name)).as("HELP of " + name).isNotBlank();
          assertThat(name)
              .as(name)
              .doesNotContainPattern(abbreviated)
              .doesNotContainPattern(nonBase);
          if (type.equals("counter")) {
            assertThat(name).as("a counter ends in _total").endsWith("_total");
          } else {
            assertThat(name).as(type + " " + name).doesNotEndWith("_total");
          }
          if (!type.equals("histogram") && !type.equals("summary")) {
            assertThat(name)
                .as(type + " " + name)
                .doesNotEndWith("_count")
                .doesNotEndWith("_sum")
                .doesNotEndWith("_bucket");
          }
        });
    for (String line : scrape.lines().toList()) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Matcher sample = SAMPLE.matcher(line);
      assertThat(sample.matches()).as(line).isTrue();
      String name = sample.group(1);
      String family =
          families.containsKey(name) ? name : name.replaceFirst("_(bucket|count|sum)$", "");
      assertThat(families).as("the family of " + line).containsKey(family);
      if (!families.containsKey(name)) {
        assertThat(families.get(family)).as(line).isIn("histogram", "summary");
      }
      String value = sample.group(3);
      assertThat(value).as(line).matches("[-+]?(\\d+(\\.\\d*)?([eE][-+]?\\d+)?|NaN|Inf)");
    }
  }

  @Test
  void theAlertRulesUseDocumentedSeriesOnly() throws Exception {
    String doc = Files.readString(DOC);
    JsonNode rules = new ObjectMapper(new YAMLFactory()).readTree(MetricsDocs.alertRules(doc));
    Set<String> rows = documented().keySet();
    List<String> alerts = new ArrayList<>();
    for (JsonNode rule : rules.get("groups").get(0).get("rules")) {
      alerts.add(rule.get("alert").asText());
      Matcher series =
          Pattern.compile("\\b(modelcache_[a-z_]+)").matcher(rule.get("expr").asText());
      while (series.find()) {
        assertThat(rows)
            .as(rule.get("alert").asText() + " uses " + series.group(1))
            .contains(series.group(1));
      }
    }
    assertThat(alerts)
        .contains(
            "ModelcacheModelNotReady",
            "ModelcacheModelFailed",
            "ModelcacheVerifyFailures",
            "ModelcacheFetchRetriesRising",
            "ModelcacheCacheDiskAlmostFull");
  }
}
