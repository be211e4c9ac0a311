// The Open Inference Protocol v2 JSON rows of bench/PathBench.java: the tree path of V2Routes (V2Json,
// V2Binary, V2BinaryOutputs are package-private in http), the task's side through PathBench's helpers.
package dev.modelcache.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.inference.PathBench;
import java.io.OutputStream;

public class V2PathBench {
  /** What V2Routes.infer, the registry and the task do with a plain JSON body on the tree path. */
  public static void tree(ObjectMapper json, OutputStream out, PathBench.V2Case c) throws Exception {
    JsonNode body = V2Binary.inlineInputs(json.readTree(c.body(), 0, c.body().length), new byte[0], 0, false);
    JsonNode named = body.path("model_name");
    if (!named.isMissingNode() && !named.asText().equals("iris")) {
      throw new IllegalStateException();
    }
    V2Json.Request request = V2Json.parseRequest(body);
    V2BinaryOutputs.Wanted binary = V2BinaryOutputs.of(body);
    PathBench.v2TreeItem(c, request.inputs());
    ObjectNode response = V2Json.response(json, "iris", request, new V2Answer("0123456789abcdef", PathBench.v2TreeOutputs(c)));
    if (!V2BinaryOutputs.answer(json, response, binary).isEmpty()) {
      throw new IllegalStateException();
    }
    json.writeValue(out, response);
  }
}
