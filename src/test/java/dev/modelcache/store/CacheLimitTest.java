package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.metrics.CacheMeters;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheLimitTest {
  @TempDir Path cache;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  /**
   * A Hub repository {@code org/name} with one snapshot of one 1000-byte blob, used {@code ago}.
   */
  private Path hubRepo(String name, Duration ago) throws Exception {
    Path repo = cache.resolve("hub/models--org--" + name);
    String commit = (name + "0000000000000000000000000000000000000000").substring(0, 40);
    String blob = (name + "b".repeat(64)).substring(0, 64);
    Files.createDirectories(repo.resolve("blobs"));
    Files.write(repo.resolve("blobs").resolve(blob), new byte[1000]);
    Path snapshot = repo.resolve("snapshots").resolve(commit);
    Files.createDirectories(snapshot);
    Files.createSymbolicLink(snapshot.resolve("model.bin"), Path.of("../../blobs/" + blob));
    Files.createDirectories(repo.resolve("refs"));
    Files.writeString(repo.resolve("refs/main"), commit, StandardCharsets.UTF_8);
    Files.createDirectories(repo.resolve("trees"));
    Files.writeString(repo.resolve("trees").resolve(commit + ".json"), "{}");
    Files.setLastModifiedTime(snapshot, FileTime.from(Instant.now().minus(ago)));
    return repo;
  }

  private CacheLimit limit(long max, CacheLimit.Keep keep) {
    CacheStore store = new CacheStore(cache);
    return new CacheLimit(
        store, max, () -> keep, new CacheMeters(registry, max), Clock.systemUTC());
  }

  private static CacheLimit.Keep nothing() {
    return new CacheLimit.Keep(List.of(), Lockfile.empty(), Set.of());
  }

  @Test
  void evictsTheLeastRecentlyUsedSnapshotFirstAndLeavesNoDanglingLink() throws Exception {
    Path a = hubRepo("a", Duration.ofDays(3));
    Path b = hubRepo("b", Duration.ofHours(2));
    Path c = hubRepo("c", Duration.ofDays(1));
    CacheLimit limit = limit(3500, nothing());
    EvictionPlan plan = limit.plan(1000);
    assertThat(plan.evictable())
        .extracting(EvictionPlan.Evictable::repo)
        .containsExactly(a, c, b); // least recently used first
    assertThat(plan.usedBytes()).isGreaterThanOrEqualTo(3000);
    assertThat(plan.chosen()).isEqualTo(1);

    limit.makeRoom("new", 1000).close();
    assertThat(a).doesNotExist();
    assertThat(b.resolve("refs/main")).exists();
    assertThat(c.resolve("refs/main")).exists();
    assertThat(registry.get(CacheMeters.EVICTIONS).counter().count()).isEqualTo(1);
    assertThat(registry.get(CacheMeters.EVICTED_BYTES).counter().count())
        .isGreaterThanOrEqualTo(1000);
    try (Stream<Path> walk = Files.walk(cache)) {
      assertThat(walk.filter(Files::isSymbolicLink).filter(p -> !Files.exists(p)).toList())
          .isEmpty();
    }
  }

  @Test
  void neverEvictsWhatTheLockfileOrALoadedVersionNeeds() throws Exception {
    Path a = hubRepo("a", Duration.ofDays(3));
    Path b = hubRepo("b", Duration.ofDays(2));
    Path c = hubRepo("c", Duration.ofDays(1));
    String commitA = Files.readString(a.resolve("refs/main"));
    Lockfile lock =
        Lockfile.empty().with("a", new Lockfile.Locked("hf://org/a", commitA, List.of()));
    Path loadedB = b.resolve("snapshots").resolve(Files.readString(b.resolve("refs/main")));
    CacheLimit limit = limit(3500, new CacheLimit.Keep(List.of(), lock, Set.of(loadedB)));
    assertThat(limit.plan(1000).evictable())
        .extracting(EvictionPlan.Evictable::repo)
        .containsExactly(c);
    limit.makeRoom("new", 1000).close();
    assertThat(a.resolve("refs/main")).exists();
    assertThat(b.resolve("refs/main")).exists();
    assertThat(c).doesNotExist();
  }

  @Test
  void keepsWhatWasUsedLatelyByAnyProcess() throws Exception {
    Path a = hubRepo("a", Duration.ofMinutes(5));
    CacheLimit limit = limit(1500, nothing());
    EvictionPlan plan = limit.plan(1000);
    assertThat(plan.evictable()).isEmpty();
    assertThat(plan.kept()).isEqualTo(1);
    assertThat(a).exists();
  }

  @Test
  void failsWithTheNumbersAndEvictsNothingWhenEvictionCannotMakeRoom() throws Exception {
    Path a = hubRepo("a", Duration.ofDays(3));
    Path b = hubRepo("b", Duration.ofDays(2));
    long used = CacheStore.bytesUnder(cache.resolve("hub"));
    CacheLimit limit = limit(2500, nothing());
    assertThatThrownBy(() -> limit.makeRoom("big", 3000))
        .isInstanceOf(StoreException.class)
        .hasMessageStartingWith(
            "big - cache.max_bytes 2.4 KiB (2500 bytes) leaves no room for it: it needs 2.9 KiB"
                + " (3000 bytes) more, the cache holds ")
        .hasMessageContaining("(" + used + " bytes), so ")
        .hasMessageContaining(" (" + (used + 3000 - 2500) + " bytes) must go; ")
        .hasMessageContaining(
            " evictable (hub/models--org--a snapshot a00000000000,"
                + " hub/models--org--b snapshot b00000000000)")
        .hasMessageContaining("short; nothing was evicted. Raise cache.max_bytes");
    assertThat(a.resolve("refs/main")).exists();
    assertThat(b.resolve("refs/main")).exists();
    assertThat(registry.get(CacheMeters.EVICTION_FAILURES).counter().count()).isEqualTo(1);
    assertThat(registry.get(CacheMeters.EVICTIONS).counter().count()).isZero();
  }

  @Test
  void withoutALimitNothingIsEvicted() throws Exception {
    Path a = hubRepo("a", Duration.ofDays(3));
    CacheLimit.none(new CacheStore(cache), Clock.systemUTC()).makeRoom("x", 1L << 40).close();
    assertThat(a.resolve("refs/main")).exists();
  }
}
