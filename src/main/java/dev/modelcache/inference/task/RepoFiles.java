package dev.modelcache.inference.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.modelcache.inference.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The JSON files of a model repo that say how to use it (HuggingFace conventions). */
final class RepoFiles {
  static final ObjectMapper JSON = new ObjectMapper();

  private final Path dir;
  private final String model;

  RepoFiles(Path dir, String model) {
    this.dir = dir;
    this.model = model;
  }

  Path dir() {
    return dir;
  }

  String model() {
    return model;
  }

  /** The file parsed, or a missing node when the repo lacks it. */
  JsonNode json(String file) throws ModelLoadException {
    Path path = dir.resolve(file);
    if (!Files.isRegularFile(path)) {
      return MissingNode.getInstance();
    }
    try {
      return JSON.readTree(path.toFile());
    } catch (IOException e) {
      throw new ModelLoadException(
          model + " - " + file + " is not valid JSON: " + e.getMessage(), e);
    }
  }

  /** A required file, with a message saying what needs it when it is absent. */
  Path require(String file, String neededFor) throws ModelLoadException {
    Path path = dir.resolve(file);
    if (!Files.isRegularFile(path)) {
      throw new ModelLoadException(
          model
              + " - "
              + neededFor
              + " needs the repo's "
              + file
              + ", which the snapshot lacks; add it to the model's include patterns");
    }
    return path;
  }
}
