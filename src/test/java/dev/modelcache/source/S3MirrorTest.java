package dev.modelcache.source;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.s3.S3Server;
import dev.modelcache.store.Lockfile;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link S3Mirror} against a real S3 server: single PUTs, multipart uploads, and what a fetch sees.
 */
class S3MirrorTest {
  @TempDir Path tmp;
  private S3Server s3;
  private ModelConfig target;

  @BeforeEach
  void start() throws Exception {
    s3 = S3Server.start();
    s3.bucket("mirror");
    target =
        new ConfigLoader(Map.of(), tmp)
            .parse(
                "sources:\n  s3:\n    endpoint: "
                    + s3.endpoint()
                    + "\n    path_style: true\nmodels:\n  - name: m\n    source: s3://mirror/m\n",
                "test",
                tmp)
            .models()
            .get(0);
  }

  @AfterEach
  void stop() {
    s3.close();
  }

  @Test
  void aFileOverThePutLimitGoesUpInPartsAndTheBucketLockVouchesForIt() throws Exception {
    byte[] big = random(12 << 20, 3);
    byte[] small = random(1000, 4);
    Path bigFile = Files.write(tmp.resolve("big.bin"), big);
    Path smallFile = Files.write(tmp.resolve("small.bin"), small);
    List<S3Mirror.Upload> uploads =
        List.of(
            new S3Mirror.Upload("big.bin", big.length, sha256(big), bigFile),
            new S3Mirror.Upload("sub/small.bin", small.length, sha256(small), smallFile));
    String lock =
        Lockfile.empty()
            .with(
                "m",
                new Lockfile.Locked(
                    "s3://mirror/m",
                    "id",
                    List.of(
                        new Lockfile.LockedFile("big.bin", big.length, sha256(big)),
                        new Lockfile.LockedFile("sub/small.bin", small.length, sha256(small)))))
            .toJson();

    S3Mirror.Result first = S3Mirror.mirror(s3.admin(), target, uploads, lock, 6 << 20, 5 << 20);
    assertThat(first.uploaded()).isEqualTo(2);
    assertThat(first.bytesUploaded()).isEqualTo(big.length + small.length);
    assertThat(first.strays()).isEmpty();

    try (S3Source source = new S3Source()) {
      Snapshot snapshot = source.resolve(target);
      assertThat(snapshot.files())
          .extracting(SourceFile::path, SourceFile::sha256, SourceFile::sha256Origin)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple(
                  "big.bin", sha256(big), "the bucket's modelcache.lock"),
              org.assertj.core.groups.Tuple.tuple(
                  "sub/small.bin", sha256(small), "the object's x-amz-checksum-sha256"));
      try (InputStream in = source.open(target, snapshot, snapshot.files().get(0), 0, big.length)) {
        assertThat(in.readAllBytes()).isEqualTo(big);
      }
    }

    S3Mirror.Result again = S3Mirror.mirror(s3.admin(), target, uploads, lock, 6 << 20, 5 << 20);
    assertThat(again.uploaded()).isZero();
    assertThat(again.present()).isEqualTo(2);
  }

  @Test
  void namesObjectsUnderThePrefixThatAreNotFilesOfTheSnapshot() throws Exception {
    byte[] bytes = random(100, 5);
    s3.put("mirror", "m/old-weights.bin", bytes, true);
    Path file = Files.write(tmp.resolve("w.bin"), bytes);

    S3Mirror.Result result =
        S3Mirror.mirror(
            s3.admin(),
            target,
            List.of(new S3Mirror.Upload("w.bin", bytes.length, sha256(bytes), file)),
            "{}");

    assertThat(result.strays()).containsExactly("m/old-weights.bin");
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static byte[] random(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
