package dev.modelcache.inference;

import dev.modelcache.store.InstalledSnapshot;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What {@code /models} reports about a model whose files are ready.
 *
 * @param loaded false for a {@code load: lazy} model before its first request; the fields after it
 *     are null then
 * @param batchMaxSize the most items one forward pass holds: {@code batch.max_size}, or 1 when
 *     batching would change the model's answers
 * @param unbatched why batching would change its answers, or null
 * @param memory what the loaded model was measured to take, or null
 */
public record LoadedInfo(
    InstalledSnapshot snapshot,
    boolean loaded,
    @Nullable String modelFile,
    String engine,
    @Nullable String device,
    @Nullable Duration loadTime,
    @Nullable Duration warmupTime,
    List<String> labels,
    int batchMaxSize,
    @Nullable String unbatched,
    @Nullable ModelMemory memory) {}
