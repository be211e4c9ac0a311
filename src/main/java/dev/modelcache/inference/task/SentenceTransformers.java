package dev.modelcache.inference.task;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.TaskOptions.Pooling;
import dev.modelcache.inference.ModelLoadException;

/**
 * What a sentence-transformers repo says of pooling and normalisation: {@code modules.json} lists
 * the modules (a {@code Pooling} folder, a {@code Normalize} step), and the pooling folder's {@code
 * config.json} sets the mode. A repo without them gets mean pooling and no normalisation.
 */
record SentenceTransformers(Pooling pooling, boolean normalize) {

  static SentenceTransformers read(RepoFiles repo) throws ModelLoadException {
    JsonNode modules = repo.json("modules.json");
    String poolingDir = "1_Pooling";
    boolean normalize = false;
    for (JsonNode module : modules) {
      String type = module.path("type").asText("");
      if (type.endsWith(".Pooling")) {
        poolingDir = module.path("path").asText(poolingDir);
      } else if (type.endsWith(".Normalize")) {
        normalize = true;
      }
    }
    JsonNode config = repo.json(poolingDir + "/config.json");
    Pooling pooling = Pooling.MEAN;
    if (config.path("pooling_mode_cls_token").asBoolean(false)) {
      pooling = Pooling.CLS;
    } else if (config.path("pooling_mode_max_tokens").asBoolean(false)) {
      pooling = Pooling.MAX;
    } else if (!config.isMissingNode()
        && !config.path("pooling_mode_mean_tokens").asBoolean(false)) {
      throw new ModelLoadException(
          repo.model()
              + " - "
              + poolingDir
              + "/config.json asks for a pooling modelcache does not do (it does mean, cls and"
              + " max); set task_options.pooling");
    }
    return new SentenceTransformers(pooling, normalize);
  }
}
