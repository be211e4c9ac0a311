package dev.modelcache.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * {@code modelcache.lock}: for every model, the source it came from, the resolved revision (the Hub
 * commit, or the snapshot id of a local model) and every file's path, size and SHA-256. JSON,
 * sorted, meant to be committed next to the config.
 *
 * <pre>{@code
 * Lockfile lock = Lockfile.read(path);
 * lock.model("iris").ifPresent(locked -> ...);
 * lock.with("iris", Lockfile.Locked.of(source, snapshot)).write(path);
 * }</pre>
 */
public final class Lockfile {
  public static final String FILE_NAME = "modelcache.lock";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, Locked> models;

  private Lockfile(Map<String, Locked> models) {
    this.models = Map.copyOf(models);
  }

  public static Lockfile empty() {
    return new Lockfile(Map.of());
  }

  /** Every model this lockfile names, by name. */
  public Map<String, Locked> models() {
    return models;
  }

  /** One model as locked. */
  public record Locked(String source, String revision, List<LockedFile> files) {
    public Locked {
      files = List.copyOf(files);
    }

    public static Locked of(String source, InstalledSnapshot snapshot) {
      return of(source, snapshot, Map.of());
    }

    /**
     * The entry for {@code snapshot}, with the S3 ETag and version id of every file that {@code
     * objects} (by path) names.
     */
    public static Locked of(
        String source, InstalledSnapshot snapshot, Map<String, ObjectId> objects) {
      List<LockedFile> files = new ArrayList<>();
      for (InstalledFile file : snapshot.files()) {
        ObjectId object = objects.get(file.path());
        files.add(
            new LockedFile(
                file.path(),
                file.size(),
                file.sha256(),
                object == null ? null : object.etag(),
                object == null ? null : object.versionId(),
                object == null ? null : object.url()));
      }
      files.sort((a, b) -> a.path().compareTo(b.path()));
      return new Locked(source, snapshot.id(), files);
    }

    /**
     * How {@code snapshot} differs from this entry, one line per file whose SHA-256 differs; empty
     * when none.
     */
    public List<String> differences(InstalledSnapshot snapshot) {
      List<String> differences = new ArrayList<>();
      for (InstalledFile installed : snapshot.files()) {
        Optional<LockedFile> locked = file(installed.path());
        if (locked.isPresent() && !locked.get().sha256().equals(installed.sha256())) {
          differences.add(
              installed.path()
                  + ": sha256 "
                  + installed.sha256()
                  + " in the cache, "
                  + locked.get().sha256()
                  + " in modelcache.lock");
        }
      }
      return differences;
    }

    public Optional<LockedFile> file(String path) {
      return files.stream().filter(f -> f.path().equals(path)).findFirst();
    }
  }

  /**
   * Which object a file came from: its S3 ETag and version id (null when unversioned), or its URL
   * (without the query string).
   */
  public record ObjectId(@Nullable String etag, @Nullable String versionId, @Nullable String url) {
    public ObjectId(@Nullable String etag, @Nullable String versionId) {
      this(etag, versionId, null);
    }
  }

  /**
   * One file as locked.
   *
   * @param etag the S3 object's ETag when it came from S3, else null
   * @param versionId the S3 object's version id when the bucket keeps versions, else null
   * @param url the URL of a url model's file (without its query string), else null
   */
  public record LockedFile(
      String path,
      long size,
      String sha256,
      @Nullable String etag,
      @Nullable String versionId,
      @Nullable String url) {
    public LockedFile(String path, long size, String sha256) {
      this(path, size, sha256, null, null, null);
    }

    public LockedFile(
        String path, long size, String sha256, @Nullable String etag, @Nullable String versionId) {
      this(path, size, sha256, etag, versionId, null);
    }
  }

  /** Reads {@code file}; a missing file is an empty lockfile. */
  public static Lockfile read(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return empty();
    }
    return parse(bytes, file);
  }

  /** The lockfile whose text is {@code bytes}, read from {@code file} (named in messages). */
  public static Lockfile parse(byte[] bytes, Path file) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(bytes);
    } catch (IOException e) {
      throw new IOException(
          file
              + " is not a valid modelcache.lock ("
              + e.getMessage()
              + "); fix it or delete it and run 'modelcache lock'",
          e);
    }
    Map<String, Locked> models = new TreeMap<>();
    for (Map.Entry<String, JsonNode> entry : root.path("models").properties()) {
      JsonNode node = entry.getValue();
      List<LockedFile> files = new ArrayList<>();
      for (JsonNode f : node.path("files")) {
        String sha256 = f.path("sha256").asText("");
        if (!sha256.matches("[0-9a-f]{64}")
            || f.path("path").asText("").isEmpty()
            || !f.path("size").isNumber()) {
          throw new IOException(
              file
                  + ": model "
                  + entry.getKey()
                  + " has a file entry without path, size or a"
                  + " 64-hex sha256; fix it or run 'modelcache lock'");
        }
        files.add(
            new LockedFile(
                f.path("path").asText(),
                f.path("size").asLong(),
                sha256,
                f.hasNonNull("etag") ? f.path("etag").asText() : null,
                f.hasNonNull("version_id") ? f.path("version_id").asText() : null,
                f.hasNonNull("url") ? f.path("url").asText() : null));
      }
      models.put(
          entry.getKey(),
          new Locked(node.path("source").asText(), node.path("revision").asText(), files));
    }
    return new Lockfile(models);
  }

  public Optional<Locked> model(String name) {
    return Optional.ofNullable(models.get(name));
  }

  public Lockfile with(String name, Locked locked) {
    Map<String, Locked> copy = new TreeMap<>(models);
    copy.put(name, locked);
    return new Lockfile(copy);
  }

  /** Writes the lockfile atomically (temp file, fsync, rename). */
  public void write(Path file) throws IOException {
    byte[] bytes = toJson().getBytes(StandardCharsets.UTF_8);
    Path absolute = file.toAbsolutePath();
    Path temp =
        absolute.resolveSibling("." + absolute.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try (FileChannel channel =
        FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      channel.write(ByteBuffer.wrap(bytes));
      channel.force(true);
    }
    Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The lockfile's text: sorted, pretty-printed JSON ending in a newline. */
  public String toJson() throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", 1);
    ObjectNode all = root.putObject("models");
    for (Map.Entry<String, Locked> entry : new TreeMap<>(models).entrySet()) {
      ObjectNode model = all.putObject(entry.getKey());
      model.put("source", entry.getValue().source());
      model.put("revision", entry.getValue().revision());
      ArrayNode files = model.putArray("files");
      for (LockedFile f : entry.getValue().files()) {
        ObjectNode row =
            files.addObject().put("path", f.path()).put("size", f.size()).put("sha256", f.sha256());
        if (f.etag() != null) {
          row.put("etag", f.etag());
        }
        if (f.versionId() != null) {
          row.put("version_id", f.versionId());
        }
        if (f.url() != null) {
          row.put("url", f.url());
        }
      }
    }
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
  }
}
