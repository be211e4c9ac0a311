package dev.modelcache.store;

import dev.modelcache.config.Config.CacheConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

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
 *   <li>URL models ({@code url}): {@code url/{name}}, as local models: blobs named by SHA-256, the
 *       snapshot id from the listing of the pinned files, so each set of pins has its own.
 *   <li>OCI models ({@code oci://}): {@code oci/{registry}--{repository}} ('/' as '--', the port's
 *       ':' as '_'), blobs named by their layer digest (a SHA-256), snapshots named by the
 *       manifest's digest (its 64 hex digits), refs named by the tag (none for a digest).
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
 *
 * <p>This class is the facade the other packages use; the work is done behind it by package-private
 * classes, one per seam: {@code CacheLayout} (paths and name checks), {@code PartFiles} (downloads
 * in progress), {@code Installer} (publishing and quarantine), {@code InstallRecords} (records and
 * stamps), {@code SnapshotLinks} (what a load reads) and {@code VolumeSpace} (writability, space).
 */
public final class CacheStore {
  private final CacheLayout layout;
  private final VolumeSpace space;
  private final PartFiles parts;
  private final InstallRecords records;
  private final Installer installer;

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
    this.layout = new CacheLayout(root, hubDir);
    this.space = new VolumeSpace(layout.root(), volume);
    this.parts = new PartFiles(layout);
    this.records = new InstallRecords(layout);
    this.installer = new Installer(layout, records);
  }

  public Path root() {
    return layout.root();
  }

  /** Where the Hub's repositories are, in HuggingFace's layout ({@code HF_HUB_CACHE}). */
  public Path hubDir() {
    return layout.hubDir();
  }

  /** The repository folder of {@code model} on the volume. */
  public Path repoDir(ModelConfig model) {
    return layout.repoDir(model);
  }

  /**
   * The repository folder of a source: {@code local/{name}} for {@code file:}, {@code
   * hub/{repoType}s--{org}--{name}} for {@code hf://} (location {@code org/name}), {@code
   * s3/{bucket}--{prefix}} for {@code s3://} (location {@code bucket/prefix}), {@code url/{name}}
   * for {@code url}, {@code oci/{registry}--{repository}} for {@code oci://}.
   */
  public Path repoDir(
      SourceRef.Scheme scheme, String location, @Nullable String repoType, String name) {
    return layout.repoDir(scheme, location, repoType, name);
  }

  /** HuggingFace's folder name for a repository: {@code models--org--name}. */
  public static String hubFolder(String repoType, String repoId) {
    return CacheLayout.hubFolder(repoType, repoId);
  }

  /**
   * The name of the ref a fetch of {@code model} moves, or null when the revision is itself a
   * commit.
   */
  public static @Nullable String refName(ModelConfig model) {
    return CacheLayout.refName(model);
  }

  /**
   * Starts a download under {@code .modelcache/tmp}.
   *
   * @param gitBlobSize the expected size when the git blob SHA-1 must be computed too, else -1
   */
  public PartFile newPart(long gitBlobSize) throws IOException {
    return parts.newPart(gitBlobSize);
  }

  /**
   * Starts a download of {@code size} bytes in {@code parts} ranges written at once; see {@link
   * RangedPart}.
   *
   * @param gitBlob whether the git blob SHA-1 must be computed too
   */
  public RangedPart newRangedPart(long size, int parts, boolean gitBlob) throws IOException {
    return this.parts.newRangedPart(size, parts, gitBlob);
  }

  /**
   * Takes the download lock of one blob of {@code model} (see {@link BlobLock}).
   *
   * @param key the blob's name when known (the Hub's etag, a pinned SHA-256), else a key derived
   *     from its path
   * @param waiting told who holds the lock when this call has to wait for it
   */
  public BlobLock lock(ModelConfig model, String key, Consumer<String> waiting) throws IOException {
    return parts.lock(model, key, waiting);
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
    return parts.part(model, key, size, gitBlobSize, lock);
  }

  /** Like {@link #part}, for a download in several ranges at once (see {@link RangedPart}). */
  public RangedPart rangedPart(
      ModelConfig model, String key, long size, int parts, boolean gitBlob, BlobLock lock)
      throws IOException {
    return this.parts.rangedPart(model, key, size, parts, gitBlob, lock);
  }

  /**
   * How many bytes the part of one blob's download holds on disk (for "how far did it get"
   * messages).
   */
  public long partBytes(ModelConfig model, String key) {
    return parts.partBytes(model, key);
  }

  /**
   * Sets a verified download aside under {@code .modelcache/verified} by its blob name, not yet
   * installed, so that its lock can be released: a later fetch (of this process or another) reuses
   * it, and {@link #install} publishes it.
   */
  public StagedFile setAside(ModelConfig model, StagedFile staged, String blobName)
      throws IOException {
    return installer.setAside(model, staged, blobName);
  }

  /**
   * A verified download set aside earlier under {@code blobName}, when it has {@code size} bytes.
   */
  public Optional<Path> setAside(ModelConfig model, String blobName, long size) throws IOException {
    return installer.setAside(model, blobName, size);
  }

  /** Deletes a staged file that will not be installed. */
  public void discard(StagedFile staged) {
    Installer.discard(staged);
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
  public record Entry(
      String path, String blob, long size, String sha256, @Nullable StagedFile staged) {}

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
      ModelConfig model, String snapshotId, @Nullable String ref, List<Entry> files)
      throws IOException {
    return installer.install(model, snapshotId, ref, files);
  }

  /**
   * Writes {@code trees/{commit}.json} of a Hub model, as huggingface_hub does (see {@link
   * HubTree}), atomically; unchanged when it already holds the same text. The listing of a commit
   * never changes, so it is written before the snapshot it describes is published.
   */
  public void writeTree(ModelConfig model, String commit, List<HubTree.Entry> entries)
      throws IOException {
    installer.writeTree(model, commit, entries);
  }

  /** What modelcache last installed for {@code model}, or empty when it never did. */
  public Optional<InstalledSnapshot> installed(ModelConfig model) throws IOException {
    return records.read(model);
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
    return SnapshotLinks.realPath(snapshot, file);
  }

  /**
   * Checks what a loader reads from {@code snapshot}: its folders (none a symlink), the real path
   * of every file ({@link #realPath}) and the symlinks no record names (none leading out of the
   * cache).
   *
   * @throws StoreException naming the first path that leaves the cache or leads to other bytes
   */
  public static void checkServable(InstalledSnapshot snapshot) throws StoreException {
    SnapshotLinks.checkServable(snapshot);
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
    return CacheLayout.checkRelativePath(path);
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
    return space.writable();
  }

  /** Usable bytes on the cache's volume, or -1 when it cannot tell. */
  public long usableBytes() {
    return space.usableBytes();
  }

  /**
   * Fails before a download when the cache volume has fewer usable bytes than {@code bytesNeeded},
   * naming both; passes when the volume cannot tell (the download then finds out).
   */
  public void checkSpace(long bytesNeeded) throws StoreException {
    space.checkSpace(bytesNeeded);
  }

  /**
   * Moves a blob whose bytes no longer match its digest out of its repository, to {@code
   * .modelcache/quarantine/{model}/{yyyyMMddTHHmmss.SSSZ}--{blob}}, and returns the new path. The
   * snapshot's link to it dangles until a fetch brings the blob back.
   */
  public Path quarantine(ModelConfig model, Path blob, Instant when) throws IOException {
    space.requireWritable("quarantine " + blob);
    return installer.quarantine(model, blob, when);
  }

  /**
   * Rewrites {@code model}'s install record with the stamps of {@code snapshot}, after a
   * verification re-hashed files whose stamps had changed.
   */
  public void recordStamps(ModelConfig model, InstalledSnapshot snapshot) throws IOException {
    space.requireWritable("record the stamps of " + model.name());
    records.write(model, snapshot);
  }

  /** Where everything lives under the root; for the store's own classes. */
  CacheLayout layout() {
    return layout;
  }

  /**
   * Bytes of the regular files under {@code path} (symlinks not followed). Files come and go while
   * fetches run: one that vanishes during the walk is skipped, so the answer is a snapshot, never
   * an error.
   */
  public static long bytesUnder(Path path) {
    return VolumeSpace.bytesUnder(path);
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
    return records.sourceStamps(model);
  }

  /** Records {@code stamps} as {@code model}'s source stamps; writes nothing when unchanged. */
  public void recordSourceStamps(ModelConfig model, Map<String, SourceStamp> stamps)
      throws IOException {
    records.recordSourceStamps(model, stamps);
  }
}
