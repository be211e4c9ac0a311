package dev.modelcache.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.CacheStore.SourceStamp;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * modelcache's own records about each model, in JSON under {@code .modelcache/}: the install record
 * ({@code models/{name}.json}: the snapshot, every file with its SHA-256, blob and {@link
 * FileStamp}) and the stamps of a local source's files ({@code sources/{name}.json}). Each is
 * replaced atomically, and not rewritten when unchanged.
 */
final class InstallRecords {
  private final CacheLayout layout;
  private final ObjectMapper json = new ObjectMapper();

  InstallRecords(CacheLayout layout) {
    this.layout = layout;
  }

  /** What was last installed for {@code model}, or empty when nothing was (see {@link #write}). */
  Optional<InstalledSnapshot> read(ModelConfig model) throws IOException {
    JsonNode node;
    try {
      node = json.readTree(Files.readAllBytes(layout.recordFile(model)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    Path repo = layout.repoDir(model);
    String id = node.path("snapshot").asText();
    if (!layout.recordedRepo(repo, node.path("repo").asText())) {
      return Optional
          .empty(); // the model's source changed since: the record is about another repository
    }
    Path snapshot = repo.resolve("snapshots").resolve(CacheLayout.checkedSegment(id));
    List<InstalledFile> files = new ArrayList<>();
    for (JsonNode file : node.path("files")) {
      files.add(
          new InstalledFile(
              file.path("path").asText(),
              file.path("size").asLong(),
              file.path("sha256").asText(),
              repo.resolve("blobs").resolve(CacheLayout.checkedSegment(file.path("blob").asText())),
              stampOf(file.path("stamp"))));
    }
    return Optional.of(new InstalledSnapshot(id, snapshot, files));
  }

  /** Records {@code snapshot} as what is installed for {@code model}. */
  void write(ModelConfig model, InstalledSnapshot snapshot) throws IOException {
    ObjectNode node = json.createObjectNode();
    node.put("model", model.name());
    node.put("source", model.source().text());
    node.put("repo", layout.relative(layout.repoDir(model)));
    node.put("snapshot", snapshot.id());
    ArrayNode files = node.putArray("files");
    for (InstalledFile file : snapshot.files()) {
      ObjectNode entry =
          files
              .addObject()
              .put("path", file.path())
              .put("size", file.size())
              .put("sha256", file.sha256())
              .put("blob", file.blob().getFileName().toString());
      if (file.stamp() != null) {
        putStamp(entry.putObject("stamp"), file.stamp());
      }
    }
    String text = json.writerWithDefaultPrettyPrinter().writeValueAsString(node);
    Path record = layout.recordFile(model);
    if (Files.isRegularFile(record)
        && Files.readString(record, StandardCharsets.UTF_8).equals(text)) {
      return;
    }
    Files.createDirectories(record.getParent());
    AtomicFiles.write(record, text);
  }

  /** The stamps the install record of {@code model} holds, by blob; empty when it holds none. */
  Map<Path, FileStamp> stamps(ModelConfig model) {
    Map<Path, FileStamp> stamps = new HashMap<>();
    try {
      read(model)
          .ifPresent(
              previous ->
                  previous.files().stream()
                      .filter(f -> f.stamp() != null)
                      .forEach(f -> stamps.put(f.blob(), f.stamp())));
    } catch (IOException e) {
      // an unreadable record vouches for nothing: its blobs are re-hashed at the next verification
    }
    return stamps;
  }

  /** See {@link CacheStore#sourceStamps}. */
  Map<String, SourceStamp> sourceStamps(ModelConfig model) {
    JsonNode node;
    try {
      node = json.readTree(Files.readAllBytes(layout.sourceStampsFile(model)));
    } catch (IOException e) {
      return Map.of(); // none yet, or unreadable: every file is read again
    }
    if (!model.source().text().equals(node.path("source").asText())) {
      return Map.of();
    }
    Map<String, SourceStamp> stamps = new TreeMap<>();
    for (Map.Entry<String, JsonNode> file : node.path("files").properties()) {
      JsonNode f = file.getValue();
      stamps.put(file.getKey(), new SourceStamp(readStamp(f), f.path("sha256").asText()));
    }
    return stamps;
  }

  /** See {@link CacheStore#recordSourceStamps}. */
  void recordSourceStamps(ModelConfig model, Map<String, SourceStamp> stamps) throws IOException {
    if (new TreeMap<>(stamps).equals(sourceStamps(model))) {
      return;
    }
    ObjectNode node = json.createObjectNode();
    node.put("model", model.name());
    node.put("source", model.source().text());
    ObjectNode files = node.putObject("files");
    new TreeMap<>(stamps)
        .forEach(
            (path, stamp) ->
                putStamp(files.putObject(path), stamp.stamp()).put("sha256", stamp.sha256()));
    Path file = layout.sourceStampsFile(model);
    Files.createDirectories(file.getParent());
    AtomicFiles.write(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(node));
  }

  private static ObjectNode putStamp(ObjectNode node, FileStamp stamp) {
    return node.put("size", stamp.size())
        .put("mtime_ns", stamp.mtimeNanos())
        .put("inode", stamp.inode());
  }

  /** The stamp {@code node} holds, or null when it is no object. */
  private static @Nullable FileStamp stampOf(JsonNode node) {
    return node.isObject() ? readStamp(node) : null;
  }

  private static FileStamp readStamp(JsonNode node) {
    return new FileStamp(
        node.path("size").asLong(),
        node.path("mtime_ns").asLong(),
        node.path("inode").asLong(FileStamp.NO_INODE));
  }
}
