package dev.modelcache.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.http.OpenAiErrors.BadParam;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A {@code POST /v1/embeddings} body, checked field by field as OpenAI's API checks it: {@code
 * model} (a string), {@code input} (a non-empty text or a non-empty list of them; token-id arrays
 * are refused, the model's own tokenizer reads the text), {@code encoding_format} ({@code float},
 * the default, or {@code base64}), {@code dimensions} (a positive integer) and {@code user}
 * (ignored). Any other field is refused, as OpenAI refuses it. Every refusal is a {@link BadParam}
 * naming the field.
 *
 * <pre>{@code
 * EmbeddingRequest request = EmbeddingRequest.parse(bodies.json(ctx));
 * }</pre>
 *
 * @param dimensions the width asked for, or null for the model's own
 */
record EmbeddingRequest(
    String model, List<String> texts, boolean base64, @Nullable Integer dimensions) {
  private static final Set<String> FIELDS =
      Set.of("model", "input", "encoding_format", "dimensions", "user");
  private static final String EXAMPLE = "{\"model\": \"minilm\", \"input\": [\"a text\"]}";

  static EmbeddingRequest parse(JsonNode body) {
    for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!FIELDS.contains(name)) {
        throw new BadParam(
            "unrecognized request argument '"
                + shortened(name)
                + "'; /v1/embeddings takes model, input, encoding_format, dimensions and user",
            shortened(name),
            "unknown_parameter");
      }
    }
    JsonNode user = body.path("user");
    if (!user.isMissingNode() && !user.isNull() && !user.isTextual()) {
      throw new BadParam(
          "user is " + kind(user) + "; expected a string (it is ignored)", "user", "invalid_type");
    }
    return new EmbeddingRequest(
        model(body.path("model")),
        texts(body.path("input")),
        base64(body.path("encoding_format")),
        dimensions(body.path("dimensions")));
  }

  private static String model(JsonNode model) {
    if (model.isMissingNode() || model.isNull()) {
      throw new BadParam(
          "the request needs a model (a text-embedding model's name, as GET /v1/models lists"
              + " them), such as "
              + EXAMPLE,
          "model",
          "missing_required_parameter");
    }
    if (!model.isTextual()) {
      throw new BadParam(
          "model is " + kind(model) + "; expected a string naming a model",
          "model",
          "invalid_type");
    }
    return model.asText();
  }

  private static List<String> texts(JsonNode input) {
    if (input.isMissingNode() || input.isNull()) {
      throw new BadParam(
          "the request needs an input (a text or a list of texts), such as " + EXAMPLE,
          "input",
          "missing_required_parameter");
    }
    if (input.isTextual()) {
      return List.of(text(input, "input"));
    }
    if (!input.isArray()) {
      throw new BadParam(
          "input is " + kind(input) + "; expected a text or a list of texts, such as " + EXAMPLE,
          "input",
          "invalid_type");
    }
    if (input.isEmpty()) {
      throw new BadParam(
          "input is an empty list; send at least one text", "input", "invalid_value");
    }
    List<String> texts = new ArrayList<>(input.size());
    for (int i = 0; i < input.size(); i++) {
      JsonNode item = input.get(i);
      if (item.isIntegralNumber() || item.isArray()) {
        throw new BadParam(
            "input is given as token ids; modelcache takes the texts themselves and tokenizes"
                + " them with the model's own tokenizer (with LangChain's OpenAIEmbeddings, set"
                + " check_embedding_ctx_length=False)",
            "input",
            "unsupported_value");
      }
      texts.add(text(item, "input[" + i + "]"));
    }
    return texts;
  }

  private static String text(JsonNode item, String where) {
    if (!item.isTextual()) {
      throw new BadParam(
          where + " is " + kind(item) + "; expected a text (a JSON string)",
          "input",
          "invalid_type");
    }
    if (item.asText().isEmpty()) {
      throw new BadParam(
          where + " is an empty string; every input needs some text", "input", "invalid_value");
    }
    return item.asText();
  }

  private static boolean base64(JsonNode format) {
    if (format.isMissingNode() || format.isNull()) {
      return false;
    }
    if (format.isTextual()
        && (format.asText().equals("float") || format.asText().equals("base64"))) {
      return format.asText().equals("base64");
    }
    throw new BadParam(
        "encoding_format is "
            + (format.isTextual() ? "'" + shortened(format.asText()) + "'" : kind(format))
            + "; expected 'float' or 'base64'",
        "encoding_format",
        "unsupported_value");
  }

  private static @Nullable Integer dimensions(JsonNode dimensions) {
    if (dimensions.isMissingNode() || dimensions.isNull()) {
      return null;
    }
    if (!dimensions.isIntegralNumber() || !dimensions.canConvertToInt() || dimensions.asInt() < 1) {
      throw new BadParam(
          "dimensions is "
              + (dimensions.isNumber() ? dimensions.asText() : kind(dimensions))
              + "; expected a positive integer, at most the model's width",
          "dimensions",
          dimensions.isNumber() ? "invalid_value" : "invalid_type");
    }
    return dimensions.asInt();
  }

  private static String kind(JsonNode node) {
    return switch (node.getNodeType()) {
      case NUMBER -> "a number";
      case BOOLEAN -> "a boolean";
      case OBJECT -> "an object";
      case ARRAY -> "a list";
      case STRING -> "a string";
      default -> "null";
    };
  }

  private static String shortened(String text) {
    return text.length() <= 64 ? text : text.substring(0, 64) + "...";
  }
}
