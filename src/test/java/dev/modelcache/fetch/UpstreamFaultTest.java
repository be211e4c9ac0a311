package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.FileSource;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Fault;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Upstream faults, one per case, injected into the download of one model while a healthy model is
 * fetched beside it by the same fetcher. For every fault: no wrong byte is ever installed (every
 * blob in the cache hashes to its name), retries are bounded and spaced (the backoff's pauses are
 * recorded, the requests for the faulty file counted at the server), the final error names the
 * cause, and the healthy model is fetched whole regardless.
 */
class UpstreamFaultTest {
  private static final byte[] FAULTY = randomBytes(256 * 1024, 7);
  private static final byte[] HEALTHY = randomBytes(200 * 1024, 8);
  private static final String FAULTY_SHA = sha256(FAULTY);
  private static final int ATTEMPTS = 4;

  @org.junit.jupiter.api.io.TempDir Path tmp;
  private FakeHub hub;
  private Fetcher fetcher;
  private final List<Duration> sleeps = Collections.synchronizedList(new ArrayList<>());
  private final ConcurrentLinkedQueue<String> finished = new ConcurrentLinkedQueue<>();

  /**
   * One fault and what must follow.
   *
   * @param failure null when the fetch must recover and install the right bytes; else a fragment
   *     the final error must contain
   * @param maxFileRequests the most GETs the faulty file may cost at the CDN
   * @param pauses the backoff pauses the fault must cause, in order
   */
  record Case(
      String name,
      Consumer<FakeHub> inject,
      String failure,
      int maxFileRequests,
      List<Duration> pauses) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> faults() {
    Duration first = Duration.ofMillis(100);
    Duration second = Duration.ofMillis(200);
    Duration third = Duration.ofMillis(400);
    return Stream.of(
        new Case(
            "a burst of 5xx, shorter than the retry budget",
            hub ->
                hub.fault(Fault.status(FAULTY_SHA, 503, null))
                    .fault(Fault.status(FAULTY_SHA, 502, null))
                    .fault(Fault.status(FAULTY_SHA, 500, null)),
            null,
            4,
            List.of(first, second, third)),
        new Case(
            "5xx for good",
            hub -> {
              for (int i = 0; i < ATTEMPTS; i++) {
                hub.fault(Fault.status(FAULTY_SHA, 503, null));
              }
            },
            "gave up after " + ATTEMPTS + " attempts",
            ATTEMPTS,
            List.of(first, second, third)),
        new Case(
            "429 with Retry-After",
            hub -> hub.fault(Fault.status(FAULTY_SHA, 429, "3")),
            null,
            2,
            List.of(Duration.ofSeconds(3))),
        new Case(
            "the connection cut mid-body",
            hub -> hub.fault(Fault.cut(FAULTY_SHA, 100_000)),
            null,
            2,
            List.of(first)),
        new Case(
            "a body one byte shorter than its Content-Length",
            hub -> hub.fault(Fault.cut(FAULTY_SHA, FAULTY.length - 1)),
            null,
            2,
            List.of(first)),
        new Case(
            "a slow drip (32 KiB/s)",
            hub -> hub.fault(Fault.slow(FAULTY_SHA, 32 * 1024)),
            null,
            1,
            List.of()),
        new Case(
            "the right size with wrong bytes",
            hub -> hub.fault(Fault.wrongBytes(FAULTY_SHA)),
            "weights.bin: sha256 mismatch: expected " + FAULTY_SHA,
            1,
            List.of()),
        new Case(
            "a redirect loop at the CDN",
            hub -> {
              for (int i = 0; i < 3 * ATTEMPTS; i++) {
                hub.fault(Fault.redirectLoop(FAULTY_SHA));
              }
            },
            "redirect loop",
            ATTEMPTS,
            null),
        new Case(
            "a Content-Length a terabyte too large",
            hub -> hub.fault(Fault.hugeLength(FAULTY_SHA, 1L << 40)),
            null,
            2,
            null));
  }

  @BeforeEach
  void startHub() throws Exception {
    hub = FakeHub.start();
    hub.repo("org/faulty")
        .file("weights.bin", FAULTY, true)
        .file("config.json", "{\"faulty\": true}\n".getBytes(StandardCharsets.UTF_8), false)
        .commit("main");
    hub.repo("org/healthy")
        .file("weights.bin", HEALTHY, true)
        .file("config.json", "{\"healthy\": true}\n".getBytes(StandardCharsets.UTF_8), false)
        .commit("main");
  }

  @AfterEach
  void stop() {
    fetching.shutdownNow();
    if (fetcher != null) {
      fetcher.close();
    }
    hub.close();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("faults")
  void noWrongByteIsInstalledRetriesAreBoundedAndTheHealthyModelIsFetched(Case fault)
      throws Exception {
    Config config = config();
    ModelConfig faulty = config.models().get(0);
    ModelConfig healthy = config.models().get(1);
    fault.inject().accept(hub);

    CompletableFuture<InstalledSnapshot> bad = fetchAsync(faulty);
    CompletableFuture<InstalledSnapshot> good = fetchAsync(healthy);

    InstalledSnapshot healthySnapshot = good.get(60, TimeUnit.SECONDS);
    assertThat(healthySnapshot.dir().resolve("weights.bin")).hasBinaryContent(HEALTHY);
    Throwable failure = null;
    InstalledSnapshot faultySnapshot = null;
    try {
      faultySnapshot = bad.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      failure = e.getCause();
    }

    if (fault.failure() == null) {
      assertThat(failure).as("the fetch should have recovered").isNull();
      assertThat(faultySnapshot.dir().resolve("weights.bin")).hasBinaryContent(FAULTY);
    } else {
      assertThat(failure).as("the fetch should have failed").isNotNull();
      assertThat(failure.getMessage()).contains(fault.failure()).startsWith("faulty");
      assertThat(faultySnapshot).isNull();
      assertThat(Files.exists(tmp.resolve("cache/.modelcache/models/faulty.json"))).isFalse();
    }
    if (fault.name().startsWith("a slow drip")) {
      // the healthy model did not wait for the slow one
      assertThat(finished.peek()).isEqualTo("healthy");
    }

    long fileGets =
        hub.requests().stream()
            .filter(r -> r.host().equals("cdn") && r.path().contains(FAULTY_SHA))
            .count();
    assertThat(fileGets).isBetween(1L, (long) fault.maxFileRequests());
    if (fault.pauses() != null) {
      assertThat(sleeps).containsExactlyElementsOf(fault.pauses());
    }
    assertThat(sleeps).hasSizeLessThan(ATTEMPTS).allMatch(d -> !d.isNegative() && !d.isZero());
    assertEveryBlobHashesToItsName(tmp.resolve("cache/hub"));
  }

  /** One thread per model, as the daemon fetches them side by side. */
  private final java.util.concurrent.ExecutorService fetching =
      java.util.concurrent.Executors.newFixedThreadPool(2);

  private CompletableFuture<InstalledSnapshot> fetchAsync(ModelConfig model) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return fetcher.fetch(model);
          } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
          } finally {
            finished.add(model.name());
          }
        },
        fetching);
  }

  private Config config() {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nmodels:\n"
            + "  - name: faulty\n    source: hf://org/faulty\n"
            + "  - name: healthy\n    source: hf://org/healthy\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    fetcher =
        new Fetcher(
            new CacheStore(config.cache().dir()),
            Map.of(
                SourceRef.Scheme.FILE,
                new FileSource(),
                SourceRef.Scheme.HF,
                new HuggingFaceSource(config.sources().hf(), new OkHttpClient())),
            new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            false,
            new Backoff(
                ATTEMPTS,
                Duration.ofMillis(100),
                Duration.ofSeconds(2),
                Duration.ofSeconds(30),
                () -> 1.0),
            sleeps::add,
            Fetcher.RANGED_MIN_BYTES);
    return config;
  }

  /** Every blob is named by its digest: the SHA-256 (LFS) or the git blob SHA-1 (plain files). */
  private static void assertEveryBlobHashesToItsName(Path hubCache) throws Exception {
    List<Path> blobs;
    try (Stream<Path> walk = Files.walk(hubCache)) {
      blobs =
          walk.filter(p -> p.getParent().getFileName().toString().equals("blobs"))
              .filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
              .toList();
    }
    assertThat(blobs).isNotEmpty();
    for (Path blob : blobs) {
      byte[] bytes = Files.readAllBytes(blob);
      String name = blob.getFileName().toString();
      String digest =
          name.length() == 64
              ? sha256(bytes)
              : hex(
                  "SHA-1", ("blob " + bytes.length + "\0").getBytes(StandardCharsets.UTF_8), bytes);
      assertThat(digest).as(blob.toString()).isEqualTo(name);
    }
  }

  private static String sha256(byte[] bytes) {
    return hex("SHA-256", bytes);
  }

  private static String hex(String algorithm, byte[]... parts) {
    try {
      MessageDigest digest = MessageDigest.getInstance(algorithm);
      for (byte[] part : parts) {
        digest.update(part);
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
