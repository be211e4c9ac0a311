package dev.modelcache.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.Config.CacheConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The shared volume. Every model lives in a repository folder with HuggingFace's structure: {@code
 * blobs/{name}}, {@code snapshots/{id}/{path}} as relative symlinks to the blobs, and {@code
 * refs/{revision}} holding the snapshot id with no trailing newline.
 *
 * <ul>
 *   <li>Hub models: {@code hub/models--{org}--{name}} (datasets: {@code hub/datasets--...}; the Hub
 *       cache folder is {@link #hubDir}, {@code hub/} unless {@code HF_HUB_CACHE} named another
 *       folder of the root), exactly as the HuggingFace libraries write them: blobs named by the
 *       Hub's etag (the SHA-256 of LFS files, the git blob SHA-1 of plain files), snapshots named
 *       by commit, refs named by the revision asked for, and {@code trees/{commit}.json}, the
 *       commit's tree listing (see {@link HubTree}).
 *   <li>Local models ({@code file:}): {@code local/{name}}, blobs named by SHA-256, {@code
 *       refs/main}; the snapshot id is the first 40 hex digits of the SHA-256 of the listing in
 *       {@code sha256sum} format (one {@code "<sha256> <path>\n"} line per file, sorted by path),
 *       so the same bytes give the same id anywhere.
 * </ul>
 *
 * <p>Nothing appears under a final name unless it is complete: bytes go to {@code
 * .modelcache/tmp/}, are fsynced, then renamed atomically; each snapshot symlink is created under a
 * temporary name and renamed; the ref is replaced last. modelcache also records, per model, the
 * exact file list it installed with every SHA-256 and the {@link FileStamp} (size, mtime, inode) of
 * each blob it verified, in {@code .modelcache/models/{name}.json}; blobs found corrupted are moved
 * to {@code .modelcache/quarantine/}. Nothing under {@code .modelcache} is needed to read a model.
 *
 * <p>Every path a record holds is relative to the cache root, so that the volume can be mounted
 * elsewhere or moved (records of earlier versions, with absolute paths, are re-rooted). Nothing
 * under the root may lead outside it: {@link #realPath} is the one answer to "which bytes does this
 * snapshot file serve", for verification and load alike, and install writes nothing through a
 * symlinked folder.
 */
public final class CacheStore {
  /** How {@link #realPath} ends its message about a snapshot path that is no link to a blob. */
  static final String NOT_LINKED = " does not link to its blob; run 'modelcache fetch'";

  private static final Pattern SHA1_HEX = Pattern.compile("[0-9a-f]{40}");
  private static final DateTimeFormatter QUARANTINE_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
  private final Path root;
  private final Path hubDir;
  private final Volume volume;
  private final ObjectMapper json = new ObjectMapper();

  public CacheStore(Path root) {
    this(root, Volume.system());
  }

  /** A store on {@code volume}; tests pass one that is full or read-only. */
  public CacheStore(Path root, Volume volume) {
    this(root, root.resolve("hub"), volume);
  }

  /** The store of {@code cache.dir}, with the Hub's repositories in its {@code hubDir}. */
  public CacheStore(CacheConfig cache) {
    this(cache.dir(), cache.hubDir(), Volume.system());
  }

  /**
   * @param hubDir where the Hub's repositories go: a folder directly in {@code root} ({@code
   *     root/hub}, or the one {@code HF_HUB_CACHE} names), so that everything stays under the root
   */
  public CacheStore(Path root, Path hubDir, Volume volume) {
    this.root = root.toAbsolutePath().normalize();
    this.hubDir = hubDir.toAbsolutePath().normalize();
    this.volume = volume;
    if (!this.root.equals(this.hubDir.getParent())) {
      throw new IllegalArgumentException(
          "the Hub cache ("
              + hubDir
              + ") must be a folder directly in the cache root ("
              + root
              + ")");
    }
  }

  public Path root() {
    return root;
  }

  /** Where the Hub's repositories are, in HuggingFace's layout ({@code HF_HUB_CACHE}). */
  public Path hubDir() {
    return hubDir;
  }

  /** The repository folder of {@code model} on the volume. */
  public Path repoDir(ModelConfig model) {
    SourceRef source = model.source();
    return repoDir(source.scheme(), source.location(), source.repoType(), model.name());
  }

  /**
   * The repository folder of a source: {@code local/{name}} for {@code file:}, {@code
   * hub/{repoType}s--{org}--{name}} for {@code hf://} (location {@code org/name}), {@code
   * s3/{bucket}--{prefix}} for {@code s3://} (location {@code bucket/prefix}).
   */
  public Path repoDir(SourceRef.Scheme scheme, String location, String repoType, String name) {
    return switch (scheme) {
      case FILE -> root.resolve("local").resolve(name);
      case HF -> hubDir.resolve(hubFolder(repoType, location));
      case S3 -> root.resolve("s3").resolve(location.replace("/", "--"));
    };
  }

  /** HuggingFace's folder name for a repository: {@code models--org--name}. */
  public static String hubFolder(String repoType, String repoId) {
    return repoType + "s--" + repoId.replace("/", "--");
  }

  /**
   * The name of the ref a fetch of {@code model} moves, or null when the revision is itself a
   * commit.
   */
  public static String refName(ModelConfig model) {
    if (model.source().scheme() != SourceRef.Scheme.HF) {
      return "main";
    }
    String revision = model.source().revision();
    return SHA1_HEX.matcher(revision).matches() ? null : revision;
  }

  /**
   * Starts a download under {@code .modelcache/tmp}.
   *
   * @param gitBlobSize the expected size when the git blob SHA-1 must be computed too, else -1
   */
  public PartFile newPart(long gitBlobSize) throws IOException {
    Files.createDirectories(tempDir());
    return new PartFile(tempDir().resolve(UUID.randomUUID() + ".part"), gitBlobSize);
  }

  /**
   * Starts a download of {@code size} bytes in {@code parts} ranges written at once; see {@link
   * RangedPart}.
   *
   * @param gitBlob whether the git blob SHA-1 must be computed too
   */
  public RangedPart newRangedPart(long size, int parts, boolean gitBlob) throws IOException {
    Files.createDirectories(tempDir());
    return new RangedPart(tempDir().resolve(UUID.randomUUID() + ".part"), size, parts, gitBlob);
  }

  /**
   * Takes the download lock of one blob of {@code model} (see {@link BlobLock}).
   *
   * @param key the blob's name when known (the Hub's etag, a pinned SHA-256), else a key derived
   *     from its path
   * @param waiting told who holds the lock when this call has to wait for it
   */
  public BlobLock lock(ModelConfig model, String key, java.util.function.Consumer<String> waiting)
      throws IOException {
    return BlobLock.acquire(
        stateDir("locks", model).resolve(checkedSegment(key) + ".lock"), waiting);
  }

  /**
   * The resumable part of one blob's download, under {@code .modelcache/parts}: a part left by a
   * crash is taken up where it stopped, its bytes re-read into the digests. Hold the blob's {@link
   * #lock} while using it.
   *
   * @param gitBlobSize the expected size when the git blob SHA-1 must be computed too, else -1
   */
  public PartFile part(ModelConfig model, String key, long size, long gitBlobSize, BlobLock lock)
      throws IOException {
    if (!lock.crossProcess()) {
      return newPart(gitBlobSize); // another process may be at the same blob: a name of its own
    }
    Path dir = stateDir("parts", model);
    Files.createDirectories(dir);
    return new PartFile(dir.resolve(checkedSegment(key) + ".part"), gitBlobSize, size, true);
  }

  /** Like {@link #part}, for a download in several ranges at once (see {@link RangedPart}). */
  public RangedPart rangedPart(
      ModelConfig model, String key, long size, int parts, boolean gitBlob, BlobLock lock)
      throws IOException {
    if (!lock.crossProcess()) {
      return newRangedPart(size, parts, gitBlob);
    }
    Path dir = stateDir("parts", model);
    Files.createDirectories(dir);
    return new RangedPart(dir.resolve(checkedSegment(key) + ".ranged"), size, parts, gitBlob, true);
  }

  /**
   * Sets a verified download aside under {@code .modelcache/verified} by its blob name, not yet
   * installed, so that its lock can be released: a later fetch (of this process or another) reuses
   * it, and {@link #install} publishes it.
   */
  public StagedFile setAside(ModelConfig model, StagedFile staged, String blobName)
      throws IOException {
    Path dir = stateDir("verified", model);
    Files.createDirectories(dir);
    Path target = dir.resolve(checkedSegment(blobName));
    moveAtomically(staged.temp(), target);
    fsyncDirectory(dir);
    Files.deleteIfExists(RangedPart.stateOf(staged.temp())); // a ranged part's progress
    return new StagedFile(target, staged.size(), staged.sha256(), staged.gitSha1());
  }

  /**
   * A verified download set aside earlier under {@code blobName}, when it has {@code size} bytes.
   */
  public Optional<Path> setAside(ModelConfig model, String blobName, long size) throws IOException {
    Path file = stateDir("verified", model).resolve(checkedSegment(blobName));
    return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && Files.size(file) == size
        ? Optional.of(file)
        : Optional.empty();
  }

  /**
   * How many bytes the part of one blob's download holds on disk (for "how far did it get"
   * messages).
   */
  public long partBytes(ModelConfig model, String key) {
    Path dir = stateDir("parts", model);
    long bytes = 0;
    for (String suffix : List.of(".part", ".ranged")) {
      try {
        bytes = Math.max(bytes, Files.size(dir.resolve(key + suffix)));
      } catch (IOException e) {
        // no such part yet
      }
    }
    return bytes;
  }

  private Path stateDir(String kind, ModelConfig model) {
    return root.resolve(".modelcache")
        .resolve(kind)
        .resolve(
            root.relativize(repoDir(model)).toString().replace(java.io.File.separatorChar, '-'));
  }

  /** Deletes a staged file that will not be installed. */
  public void discard(StagedFile staged) {
    try {
      Files.deleteIfExists(staged.temp());
      Files.deleteIfExists(RangedPart.stateOf(staged.temp()));
    } catch (IOException e) {
      // A leftover temp file is harmless; the caller is already reporting the real failure.
    }
  }

  /**
   * The blob {@code blobName} of {@code model}'s repository when it exists with {@code size} bytes.
   */
  public Optional<Path> blob(ModelConfig model, String blobName, long size) throws IOException {
    Path blob = repoDir(model).resolve("blobs").resolve(blobName);
    // a symlink in blobs/ holds no bytes of its own: never taken for the blob (fetched again)
    return Files.isRegularFile(blob, LinkOption.NOFOLLOW_LINKS) && Files.size(blob) == size
        ? Optional.of(blob)
        : Optional.empty();
  }

  /**
   * One file to install.
   *
   * @param blob the blob's name in {@code blobs/}
   * @param staged the verified bytes to publish, or null when the blob is already in place
   */
  public record Entry(String path, String blob, long size, String sha256, StagedFile staged) {}

  /**
   * Publishes a complete, verified set of files as {@code model}'s snapshot {@code snapshotId}:
   * blobs first, then the snapshot's symlinks, then the install record, then the ref. A crash at
   * any point leaves the previous snapshot whole and current. Writes nothing when everything is
   * already in place.
   *
   * @param ref the ref to point at the snapshot, or null (a Hub revision given as a commit has no
   *     ref)
   */
  public InstalledSnapshot install(
      ModelConfig model, String snapshotId, String ref, List<Entry> files) throws IOException {
    Path repo = repoDir(model);
    Path blobs = repo.resolve("blobs");
    Path snapshot = repo.resolve("snapshots").resolve(checkedSegment(snapshotId));
    for (Entry file : files) {
      checkRelativePath(file.path());
      checkedSegment(file.blob());
    }
    realFolders(blobs, null);
    Files.createDirectories(blobs);
    Map<Path, FileStamp> previousStamps = previousStamps(model);
    Set<Path> moved = new HashSet<>();
    for (Entry file : files) {
      if (file.staged() == null) {
        continue;
      }
      Path blob = blobs.resolve(file.blob());
      if (Files.isRegularFile(blob, LinkOption.NOFOLLOW_LINKS) && Files.size(blob) == file.size()) {
        Files.deleteIfExists(
            file.staged().temp()); // another process installed the same bytes first
      } else {
        moveAtomically(file.staged().temp(), blob);
        moved.add(blob);
      }
    }
    if (!moved.isEmpty()) {
      fsyncDirectory(blobs);
    }
    List<InstalledFile> installed = new ArrayList<>();
    for (Entry file : files) {
      Path link = snapshot.resolve(file.path());
      Path target = link.getParent().relativize(blobs.resolve(file.blob()));
      realFolders(link.getParent(), snapshot);
      if (!Files.isSymbolicLink(link) || !Files.readSymbolicLink(link).equals(target)) {
        Files.createDirectories(link.getParent());
        Path temp =
            link.resolveSibling("." + link.getFileName() + "." + UUID.randomUUID() + ".tmp");
        Files.createSymbolicLink(temp, target);
        moveAtomically(temp, link);
        fsyncDirectory(link.getParent());
      }
      Path blob = blobs.resolve(file.blob());
      // Stamp only bytes this install verified; a blob found in place keeps the stamp its last
      // verification gave it, or none, so that the next verification re-hashes it.
      FileStamp stamp = moved.contains(blob) ? FileStamp.of(blob) : previousStamps.get(blob);
      installed.add(new InstalledFile(file.path(), file.size(), file.sha256(), blob, stamp));
    }
    InstalledSnapshot result = new InstalledSnapshot(snapshotId, snapshot, installed);
    writeRecord(model, result);
    if (ref != null) {
      Path refFile = repo.resolve("refs").resolve(ref);
      if (!Files.isRegularFile(refFile)
          || !Files.readString(refFile, StandardCharsets.UTF_8).equals(snapshotId)) {
        realFolders(refFile.getParent(), null);
        Files.createDirectories(refFile.getParent());
        writeAtomically(refFile, snapshotId);
      }
    }
    return result;
  }

  /**
   * Writes {@code trees/{commit}.json} of a Hub model, as huggingface_hub does (see {@link
   * HubTree}), atomically; unchanged when it already holds the same text. The listing of a commit
   * never changes, so it is written before the snapshot it describes is published.
   */
  public void writeTree(ModelConfig model, String commit, List<HubTree.Entry> entries)
      throws IOException {
    Path trees = repoDir(model).resolve("trees");
    Path file = trees.resolve(checkedSegment(commit) + ".json");
    String text = HubTree.json(entries);
    realFolders(trees, null);
    if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
        && Files.readString(file, StandardCharsets.UTF_8).equals(text)) {
      return;
    }
    Files.createDirectories(trees);
    writeAtomically(file, text);
  }

  /** What modelcache last installed for {@code model}, or empty when it never did. */
  public Optional<InstalledSnapshot> installed(ModelConfig model) throws IOException {
    Path record = recordFile(model);
    JsonNode node;
    try {
      node = json.readTree(Files.readAllBytes(record));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    Path repo = repoDir(model);
    String id = node.path("snapshot").asText();
    if (!recordedRepo(repo, node.path("repo").asText())) {
      return Optional
          .empty(); // the model's source changed since: the record is about another repository
    }
    Path snapshot = repo.resolve("snapshots").resolve(checkedSegment(id));
    List<InstalledFile> files = new ArrayList<>();
    for (JsonNode file : node.path("files")) {
      JsonNode stamp = file.path("stamp");
      files.add(
          new InstalledFile(
              file.path("path").asText(),
              file.path("size").asLong(),
              file.path("sha256").asText(),
              repo.resolve("blobs").resolve(checkedSegment(file.path("blob").asText())),
              stamp.isObject()
                  ? new FileStamp(
                      stamp.path("size").asLong(),
                      stamp.path("mtime_ns").asLong(),
                      stamp.path("inode").asLong(FileStamp.NO_INODE))
                  : null));
    }
    return Optional.of(new InstalledSnapshot(id, snapshot, files));
  }

  /**
   * Whether an install record's {@code repo} names {@code repo}: a path relative to the cache root,
   * as records are written, or an absolute one, as records written before were. An absolute one is
   * re-rooted (its tail compared), for the cache may have been moved or mounted elsewhere since.
   */
  private boolean recordedRepo(Path repo, String recorded) {
    Path relative = root.relativize(repo);
    Path path;
    try {
      path = Path.of(recorded);
    } catch (java.nio.file.InvalidPathException e) {
      return false;
    }
    return path.isAbsolute() ? path.endsWith(relative) : path.equals(relative);
  }

  /** {@code path} relative to the cache root, '/'-separated: how records name paths. */
  private String relative(Path path) {
    return root.relativize(path).toString().replace(java.io.File.separatorChar, '/');
  }

  /**
   * Makes sure that what {@link #install} writes under {@code dir} stays in the cache: no folder
   * from the root down to {@code dir} may be a symlink. One at or under {@code replaceable} (a
   * snapshot folder, rebuilt from the blobs) is removed, the link only, never what it leads to; any
   * other is an error naming it.
   */
  private void realFolders(Path dir, Path replaceable) throws IOException {
    Path at = root;
    for (Path name : root.relativize(dir)) {
      at = at.resolve(name);
      if (!Files.isSymbolicLink(at)) {
        continue;
      }
      if (replaceable != null && at.startsWith(replaceable)) {
        Files.delete(at);
        continue;
      }
      throw new StoreException(
          at
              + " is a symlink to "
              + Files.readSymbolicLink(at)
              + ": modelcache writes nothing through a symlink in the cache; replace it with a"
              + " folder, or set cache.dir to the real path",
          null);
    }
  }

  /**
   * The real path of {@code file} of {@code snapshot}: the bytes a loader reading the snapshot
   * folder opens. Verification hashes this path and a model is loaded only when it resolves (see
   * {@link #checkServable}), so both see the same bytes. It must be the file's recorded blob,
   * reached inside the cache: the relative symlink {@code ../../blobs/{name}} of the HuggingFace
   * layout is; a symlink anywhere on the way (the file, its folder, the snapshot, the repository,
   * the blob) that leaves the cache root or leads to other bytes is not.
   *
   * @throws StoreException naming the file, its path and where it leads
   */
  public static Path realPath(InstalledSnapshot snapshot, InstalledFile file)
      throws StoreException {
    Path root = snapshot.root();
    Path realRoot = realRoot(root);
    Path link = snapshot.dir().resolve(file.path());
    Path real;
    try {
      real = link.toRealPath();
    } catch (IOException e) {
      throw new StoreException(file.path() + ": " + link + NOT_LINKED, e);
    }
    if (!real.startsWith(realRoot)) {
      throw new StoreException(
          file.path() + ": " + leavesTheCache(link, real, root) + "; run 'modelcache fetch'", null);
    }
    if (!real.equals(realRoot.resolve(root.relativize(file.blob())))) {
      boolean leads =
          Files.isSymbolicLink(link) || !real.equals(realRoot.resolve(root.relativize(link)));
      throw new StoreException(
          file.path()
              + ": "
              + link
              + (leads
                  ? " leads to "
                      + real
                      + ", not to its blob "
                      + file.blob()
                      + ": other bytes; run 'modelcache fetch'"
                  : NOT_LINKED),
          null);
    }
    return real;
  }

  /**
   * Checks that the folder of {@code snapshot} is a folder of its repository: none of the folders
   * from the cache root down to it is a symlink (a symlinked repository or snapshot folder serves
   * other bytes than the ones verified, or bytes outside the cache).
   *
   * @throws StoreException naming the first symlinked folder and where it leads
   */
  public static void checkFolders(InstalledSnapshot snapshot) throws StoreException {
    Path root = snapshot.root();
    Path at = root;
    for (Path name : root.relativize(snapshot.dir())) {
      at = at.resolve(name);
      if (!Files.isSymbolicLink(at)) {
        continue;
      }
      // a fetch replaces a symlinked snapshot folder; it writes nothing through any other
      String advice =
          at.equals(snapshot.dir())
              ? "; run 'modelcache fetch'"
              : "; replace it with a real folder, or set cache.dir to the real path";
      Path real;
      try {
        real = at.toRealPath();
      } catch (IOException e) {
        throw new StoreException(at + " is a symlink that leads nowhere" + advice, e);
      }
      if (!real.startsWith(realRoot(root))) {
        throw new StoreException(leavesTheCache(at, real, root) + advice, null);
      }
      throw new StoreException(
          at
              + " is a symlink to "
              + real
              + ": the folders of a snapshot must be folders of the cache, not links to other ones"
              + advice,
          null);
    }
  }

  /**
   * Checks that no symlink in the folder of {@code snapshot} that its install record does not name
   * leads out of the cache: a loader may read any file of the folder.
   *
   * @throws StoreException naming the first such symlink and where it leads
   */
  public static void checkStrayLinks(InstalledSnapshot snapshot) throws StoreException {
    Path dir = snapshot.dir();
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Set<Path> recorded = new HashSet<>();
    snapshot.files().forEach(f -> recorded.add(dir.resolve(f.path())));
    Path root = snapshot.root();
    try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
      for (Path link : (Iterable<Path>) walk.filter(Files::isSymbolicLink)::iterator) {
        if (recorded.contains(link)) {
          continue;
        }
        Path real;
        try {
          real = link.toRealPath();
        } catch (IOException e) {
          continue; // leads nowhere: nothing can be read through it
        }
        if (!real.startsWith(realRoot(root))) {
          throw new StoreException(
              dir.relativize(link)
                  + ": "
                  + leavesTheCache(link, real, root)
                  + "; it is no file of snapshot "
                  + snapshot.id()
                  + ": remove it",
              null);
        }
      }
    } catch (StoreException e) {
      throw e;
    } catch (IOException | java.io.UncheckedIOException e) {
      throw new StoreException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Checks what a loader reads from {@code snapshot}: its folders ({@link #checkFolders}), the real
   * path of every file ({@link #realPath}) and the symlinks no record names ({@link
   * #checkStrayLinks}).
   *
   * @throws StoreException naming the first path that leaves the cache or leads to other bytes
   */
  public static void checkServable(InstalledSnapshot snapshot) throws StoreException {
    checkFolders(snapshot);
    for (InstalledFile file : snapshot.files()) {
      realPath(snapshot, file);
    }
    checkStrayLinks(snapshot);
  }

  private static String leavesTheCache(Path link, Path real, Path root) {
    return link
        + " leads outside the cache "
        + root
        + ", to "
        + real
        + ": modelcache never follows a symlink out of the cache";
  }

  private static Path realRoot(Path root) throws StoreException {
    try {
      return root.toRealPath();
    } catch (IOException e) {
      throw new StoreException("the cache " + root + " cannot be read: " + e.getMessage(), e);
    }
  }

  /** The snapshot id of a listing of local or S3 files: see the class comment. */
  public static String snapshotId(Map<String, String> sha256ByPath) {
    StringBuilder listing = new StringBuilder();
    new TreeMap<>(sha256ByPath)
        .forEach((path, sha) -> listing.append(sha).append("  ").append(path).append('\n'));
    return Digests.sha256Hex(listing.toString()).substring(0, 40);
  }

  /**
   * Refuses a path from an upstream listing that could escape the model's folder: absolute, with
   * {@code ..} or empty segments, backslashes or control characters.
   */
  public static String checkRelativePath(String path) throws IOException {
    boolean bad =
        path.isEmpty()
            || path.startsWith("/")
            || path.contains("\\")
            || path.chars().anyMatch(c -> c < 0x20);
    if (!bad) {
      for (String segment : path.split("/", -1)) {
        if (segment.isEmpty() || segment.equals("..") || segment.equals(".")) {
          bad = true;
          break;
        }
      }
    }
    if (bad) {
      throw new IOException(
          "refusing file path '"
              + path.replaceAll("\\p{Cntrl}", "?")
              + "' from the source: it is absolute, has '..', '.' or empty segments, or control characters, and"
              + " could escape the model's folder");
    }
    return path;
  }

  private static String checkedSegment(String name) throws IOException {
    if (name.isEmpty()
        || name.contains("/")
        || name.contains("\\")
        || name.equals("..")
        || name.equals(".")) {
      throw new IOException("refusing name '" + name + "': it must be a single path segment");
    }
    return name;
  }

  /** Re-reads a file and returns its SHA-256 in hex (see {@link Digests#sha256Hex(Path)}). */
  public static String sha256Of(Path file) throws IOException {
    return Digests.sha256Hex(file);
  }

  /**
   * Whether modelcache may write to the cache: false on a read-only mount or without permission.
   * Asks the volume without writing (a probe file would change the folder's mtime).
   */
  public boolean writable() {
    Path existing = existingAncestor(root);
    return existing != null && volume.writable(existing);
  }

  /** Usable bytes on the cache's volume, or -1 when it cannot tell. */
  public long usableBytes() {
    Path existing = existingAncestor(root);
    try {
      return existing == null ? -1 : volume.usableBytes(existing);
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * Fails before a download when the cache volume has fewer usable bytes than {@code bytesNeeded},
   * naming both; passes when the volume cannot tell (the download then finds out).
   */
  public void checkSpace(long bytesNeeded) throws StoreException {
    Path existing = existingAncestor(root);
    if (bytesNeeded <= 0 || existing == null) {
      return;
    }
    long usable;
    try {
      usable = volume.usableBytes(existing);
    } catch (IOException e) {
      return;
    }
    if (usable < bytesNeeded) {
      throw new StoreException(
          "not enough space for the cache at "
              + root
              + ": "
              + bytesNeeded
              + " bytes ("
              + ByteSize.mib(bytesNeeded)
              + ") still to fetch, "
              + usable
              + " bytes ("
              + ByteSize.mib(usable)
              + ") usable on its volume; free space (modelcache gc --delete) or grow the volume",
          null);
    }
  }

  /**
   * Moves a blob whose bytes no longer match its digest out of its repository, to {@code
   * .modelcache/quarantine/{model}/{yyyyMMddTHHmmss.SSSZ}--{blob}}, and returns the new path. The
   * snapshot's link to it dangles until a fetch brings the blob back.
   */
  public Path quarantine(ModelConfig model, Path blob, Instant when) throws IOException {
    requireWritable("quarantine " + blob);
    Path dir = quarantineDir().resolve(checkedSegment(model.name()));
    Files.createDirectories(dir);
    String time = QUARANTINE_TIME.format(when);
    Path target = dir.resolve(time + "--" + blob.getFileName());
    for (int i = 2; Files.exists(target, LinkOption.NOFOLLOW_LINKS) && i < 1000; i++) {
      target = dir.resolve(time + "-" + i + "--" + blob.getFileName());
    }
    moveAtomically(blob, target);
    fsyncDirectory(dir);
    fsyncDirectory(blob.getParent());
    return target;
  }

  /**
   * Rewrites {@code model}'s install record with the stamps of {@code snapshot}, after a
   * verification re-hashed files whose stamps had changed.
   */
  public void recordStamps(ModelConfig model, InstalledSnapshot snapshot) throws IOException {
    requireWritable("record the stamps of " + model.name());
    writeRecord(model, snapshot);
  }

  private void requireWritable(String what) throws StoreException {
    if (!writable()) {
      throw new StoreException("the cache at " + root + " is read-only: cannot " + what, null);
    }
  }

  private Map<Path, FileStamp> previousStamps(ModelConfig model) {
    Map<Path, FileStamp> stamps = new HashMap<>();
    try {
      installed(model)
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

  private static Path existingAncestor(Path dir) {
    Path existing = dir;
    while (existing != null && !Files.isDirectory(existing)) {
      existing = existing.getParent();
    }
    return existing;
  }

  Path tempDir() {
    return root.resolve(".modelcache").resolve("tmp");
  }

  Path quarantineDir() {
    return root.resolve(".modelcache").resolve("quarantine");
  }

  Path recordsDir() {
    return root.resolve(".modelcache").resolve("models");
  }

  private Path recordFile(ModelConfig model) {
    return recordsDir().resolve(model.name() + ".json");
  }

  private void writeRecord(ModelConfig model, InstalledSnapshot snapshot) throws IOException {
    ObjectNode node = json.createObjectNode();
    node.put("model", model.name());
    node.put("source", model.source().text());
    node.put("repo", relative(repoDir(model)));
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
        entry
            .putObject("stamp")
            .put("size", file.stamp().size())
            .put("mtime_ns", file.stamp().mtimeNanos())
            .put("inode", file.stamp().inode());
      }
    }
    String text = json.writerWithDefaultPrettyPrinter().writeValueAsString(node);
    Path record = recordFile(model);
    if (Files.isRegularFile(record)
        && Files.readString(record, StandardCharsets.UTF_8).equals(text)) {
      return;
    }
    Files.createDirectories(record.getParent());
    writeAtomically(record, text);
  }

  private static void writeAtomically(Path target, String content) throws IOException {
    Path temp =
        target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try (FileChannel channel =
        FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      channel.write(ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
      channel.force(true);
    }
    moveAtomically(temp, target);
    fsyncDirectory(target.getParent());
  }

  private static void moveAtomically(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException(
          "cannot rename "
              + from
              + " to "
              + to
              + " atomically: the cache's .modelcache/tmp and"
              + " its models must be on one filesystem",
          e);
    }
  }

  static void fsyncDirectory(Path dir) {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some filesystems refuse fsync on a directory; the rename is still atomic there.
    }
  }

  /**
   * Bytes of the regular files under {@code path} (symlinks not followed). Files come and go while
   * fetches run: one that vanishes during the walk is skipped, so the answer is a snapshot, never
   * an error.
   */
  public static long bytesUnder(Path path) {
    long[] total = {0};
    try {
      Files.walkFileTree(
          path,
          new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(
                Path file, java.nio.file.attribute.BasicFileAttributes attrs) {
              if (attrs.isRegularFile()) {
                total[0] += attrs.size();
              }
              return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) {
              return java.nio.file.FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      // the visitor swallows per-file failures; what was counted stands
    }
    return total[0];
  }

  /**
   * A file of a local ({@code file:}) source as it was when its bytes were copied: its stamp in the
   * source folder and the SHA-256 of what was copied.
   */
  public record SourceStamp(FileStamp stamp, String sha256) {}

  /**
   * The stamps of {@code model}'s source files recorded by {@link #recordSourceStamps}, by path;
   * empty when none were, or when they were recorded for another source. Kept in {@code
   * .modelcache/sources/{name}.json}; like {@code cache.verify: fast}, an unchanged stamp lets an
   * unpinned local file be recognised without reading it.
   */
  public Map<String, SourceStamp> sourceStamps(ModelConfig model) {
    JsonNode node;
    try {
      node = json.readTree(Files.readAllBytes(sourceStampsFile(model)));
    } catch (IOException e) {
      return Map.of(); // none yet, or unreadable: every file is read again
    }
    if (!model.source().text().equals(node.path("source").asText())) {
      return Map.of();
    }
    Map<String, SourceStamp> stamps = new TreeMap<>();
    for (Map.Entry<String, JsonNode> file : node.path("files").properties()) {
      JsonNode f = file.getValue();
      stamps.put(
          file.getKey(),
          new SourceStamp(
              new FileStamp(
                  f.path("size").asLong(),
                  f.path("mtime_ns").asLong(),
                  f.path("inode").asLong(FileStamp.NO_INODE)),
              f.path("sha256").asText()));
    }
    return stamps;
  }

  /** Records {@code stamps} as {@code model}'s source stamps; writes nothing when unchanged. */
  public void recordSourceStamps(ModelConfig model, Map<String, SourceStamp> stamps)
      throws IOException {
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
                files
                    .putObject(path)
                    .put("size", stamp.stamp().size())
                    .put("mtime_ns", stamp.stamp().mtimeNanos())
                    .put("inode", stamp.stamp().inode())
                    .put("sha256", stamp.sha256()));
    Path file = sourceStampsFile(model);
    Files.createDirectories(file.getParent());
    writeAtomically(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(node));
  }

  private Path sourceStampsFile(ModelConfig model) throws IOException {
    return root.resolve(".modelcache")
        .resolve("sources")
        .resolve(checkedSegment(model.name()) + ".json");
  }
}
