package dev.modelcache.store;

import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

/**
 * The shared volume. Local models live under {@code <dir>/local/{name}} in HuggingFace's structure:
 * {@code blobs/{sha256}}, {@code snapshots/{id}/{path}} as relative symlinks to the blobs, and
 * {@code refs/main} holding the snapshot id. The snapshot id is the first 40 hex digits of the
 * SHA-256 of the listing in {@code sha256sum} format (one {@code "<sha256> <path>\n"} line per
 * file, sorted by path), so the same bytes give the same id on every machine.
 *
 * <p>Nothing appears under a final name unless it is complete: bytes go to {@code
 * .modelcache/tmp/}, are fsynced, then renamed atomically; snapshot folders are built under a
 * temporary name and renamed whole; refs are replaced atomically.
 */
public final class CacheStore {
  private static final String REF = "main";
  private final Path root;

  public CacheStore(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  /**
   * {@code <dir>/local/{name}}: the repository folder of a model fetched from a {@code file:}
   * source.
   */
  public Path localRepo(String model) {
    return root.resolve("local").resolve(model);
  }

  Path tempDir() {
    return root.resolve(".modelcache").resolve("tmp");
  }

  /**
   * Copies {@code in} to a temporary file while computing its SHA-256, fsyncs it, and returns it
   * unpublished.
   *
   * @param progress told the number of bytes of each chunk written
   */
  public StagedFile stage(InputStream in, LongConsumer progress) throws IOException {
    Files.createDirectories(tempDir());
    Path temp = tempDir().resolve(UUID.randomUUID() + ".part");
    MessageDigest sha256 = sha256();
    long size = 0;
    boolean done = false;
    try (FileChannel channel =
            FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        OutputStream out = new DigestOutputStream(Channels.newOutputStream(channel), sha256)) {
      byte[] buffer = new byte[1 << 16];
      int n;
      while ((n = in.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
        size += n;
        progress.accept(n);
      }
      out.flush();
      channel.force(true);
      done = true;
    } finally {
      if (!done) {
        Files.deleteIfExists(temp);
      }
    }
    return new StagedFile(temp, size, HexFormat.of().formatHex(sha256.digest()));
  }

  /** Deletes a staged file that will not be installed. */
  public void discard(StagedFile staged) {
    try {
      Files.deleteIfExists(staged.temp());
    } catch (IOException e) {
      // A leftover temp file is harmless and swept by gc; the caller is already reporting the real
      // failure.
    }
  }

  /**
   * Publishes a complete, verified set of files as the model's current snapshot: blobs first, then
   * the snapshot folder, then the ref. A crash at any point leaves the previous snapshot intact and
   * current.
   *
   * @param files staged files by path in the snapshot
   */
  public InstalledSnapshot install(String model, Map<String, StagedFile> files) throws IOException {
    Path repo = localRepo(model);
    Path blobs = repo.resolve("blobs");
    Path snapshots = repo.resolve("snapshots");
    Path refs = repo.resolve("refs");
    Files.createDirectories(blobs);
    Files.createDirectories(snapshots);
    Files.createDirectories(refs);

    Map<String, String> digests = new TreeMap<>();
    files.forEach((path, staged) -> digests.put(path, staged.sha256()));
    String id = snapshotId(digests);
    for (StagedFile staged : files.values()) {
      Path blob = blobs.resolve(staged.sha256());
      if (Files.exists(blob)) {
        Files.deleteIfExists(staged.temp());
      } else {
        moveAtomically(staged.temp(), blob);
      }
    }
    fsyncDirectory(blobs);

    Path snapshot = snapshots.resolve(id);
    if (!Files.isDirectory(snapshot)) {
      Path building = snapshots.resolve(".tmp-" + UUID.randomUUID());
      try {
        for (Map.Entry<String, String> entry : digests.entrySet()) {
          Path link = building.resolve(entry.getKey());
          Files.createDirectories(link.getParent());
          Files.createSymbolicLink(
              link, link.getParent().relativize(blobs.resolve(entry.getValue())));
        }
        fsyncDirectory(building);
        Files.move(building, snapshot, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
        // Another process published the same content-addressed snapshot first: identical by
        // construction.
      } finally {
        deleteTree(building);
      }
      fsyncDirectory(snapshots);
    }
    writeAtomically(refs.resolve(REF), id);
    return installed(model)
        .orElseThrow(
            () -> new IOException(model + " - snapshot " + id + " vanished after install"));
  }

  /** The model's current snapshot, or empty when it was never installed. */
  public Optional<InstalledSnapshot> installed(String model) throws IOException {
    Path repo = localRepo(model);
    Path ref = repo.resolve("refs").resolve(REF);
    String id;
    try {
      id = Files.readString(ref, StandardCharsets.UTF_8).strip();
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    Path snapshot = repo.resolve("snapshots").resolve(id);
    if (!Files.isDirectory(snapshot)) {
      throw new IOException(
          model
              + " - refs/main names snapshot "
              + id
              + " but "
              + snapshot
              + " is missing;"
              + " run 'modelcache fetch' to repair the cache");
    }
    List<InstalledFile> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(snapshot)) {
      for (Path link : (Iterable<Path>) walk.sorted()::iterator) {
        if (Files.isDirectory(link)) {
          continue;
        }
        Path blob = link.getParent().resolve(Files.readSymbolicLink(link)).normalize();
        String path = snapshot.relativize(link).toString().replace(java.io.File.separatorChar, '/');
        long size = Files.exists(blob) ? Files.size(blob) : -1;
        files.add(new InstalledFile(path, size, blob.getFileName().toString(), blob));
      }
    }
    return Optional.of(new InstalledSnapshot(id, snapshot, files));
  }

  /**
   * Re-hashes every file of the model's current snapshot and returns one line per problem (missing
   * snapshot, missing blob, digest that does not match the blob's name or a pin); empty when all is
   * well.
   */
  public List<String> verify(String model, Map<String, String> pins) throws IOException {
    List<String> problems = new ArrayList<>();
    Optional<InstalledSnapshot> snapshot = installed(model);
    if (snapshot.isEmpty()) {
      problems.add(
          model + " - not in the cache at " + localRepo(model) + "; run 'modelcache fetch'");
      return problems;
    }
    for (InstalledFile file : snapshot.get().files()) {
      if (!Files.isRegularFile(file.blob())) {
        problems.add(
            model
                + " - "
                + file.path()
                + ": blob "
                + file.blob()
                + " is missing; run 'modelcache fetch'");
        continue;
      }
      String actual = sha256Of(file.blob());
      String pin = pins.get(file.path());
      if (!actual.equals(file.sha256())) {
        problems.add(
            model
                + " - "
                + file.path()
                + ": sha256 mismatch: expected "
                + file.sha256()
                + " (recorded at install), actual "
                + actual
                + "; the file was changed on the volume");
      } else if (pin != null && !pin.equals(actual)) {
        problems.add(
            model
                + " - "
                + file.path()
                + ": sha256 mismatch: expected "
                + pin
                + " (pinned in the config),"
                + " actual "
                + actual
                + "; run 'modelcache fetch' after checking the pin");
      }
    }
    for (String pinned : pins.keySet()) {
      if (snapshot.get().files().stream().noneMatch(f -> f.path().equals(pinned))) {
        problems.add(
            model
                + " - "
                + pinned
                + ": pinned in the config but not in snapshot "
                + snapshot.get().id());
      }
    }
    return problems;
  }

  /** The snapshot id of a listing: see the class comment. */
  public static String snapshotId(Map<String, String> sha256ByPath) {
    StringBuilder listing = new StringBuilder();
    new TreeMap<>(sha256ByPath)
        .forEach((path, sha) -> listing.append(sha).append("  ").append(path).append('\n'));
    byte[] digest = sha256().digest(listing.toString().getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(digest).substring(0, 40);
  }

  /** Re-reads a file and returns its SHA-256 in hex. */
  public static String sha256Of(Path file) throws IOException {
    MessageDigest digest = sha256();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[1 << 16];
      int n;
      while ((n = in.read(buffer)) >= 0) {
        digest.update(buffer, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  private void writeAtomically(Path target, String content) throws IOException {
    Path temp =
        target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try (FileChannel channel =
        FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      channel.write(java.nio.ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
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

  static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some filesystems refuse fsync on a directory; the rename is still atomic there.
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}
