package dev.modelcache.inference.task;

import ai.djl.Model;
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.util.PairList;
import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.Engine;
import dev.modelcache.inference.ModelLoadException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The text tasks' shared front: the repo's {@code tokenizer.json} (HuggingFace tokenizers, native)
 * turns each text into token ids, truncated to {@code max_length}; a batch of them is padded to the
 * longest and handed to the model as {@code input_ids}, {@code attention_mask} and, when the model
 * takes it, {@code token_type_ids}.
 */
final class TextEncoder implements AutoCloseable {
  static final String INPUT_IDS = "input_ids";
  static final String ATTENTION_MASK = "attention_mask";
  static final String TOKEN_TYPE_IDS = "token_type_ids";

  /** Texts of different lengths for the batch check at load (padded together when batched). */
  static final List<String> PROBE_TEXTS =
      List.of(
          "ok",
          "modelcache checks that batching leaves every answer as it is",
          "the quick brown fox jumps over the lazy dog, then naps in the sun");

  private static final List<String> KNOWN_INPUTS =
      List.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS);

  /** One text as token ids. */
  record Tokens(long[] ids, long[] typeIds) {}

  private final HuggingFaceTokenizer tokenizer;
  private final int maxLength;
  private final long padId;

  private TextEncoder(HuggingFaceTokenizer tokenizer, int maxLength, long padId) {
    this.tokenizer = tokenizer;
    this.maxLength = maxLength;
    this.padId = padId;
  }

  /**
   * Loads the repo's tokenizer. {@code max_length} comes from the model config, else
   * sentence-transformers' {@code sentence_bert_config.json}, else the tokenizer's own truncation,
   * else {@code config.json}'s {@code max_position_embeddings}, else 512.
   */
  static TextEncoder load(ModelConfig model, RepoFiles repo) throws ModelLoadException {
    var file = repo.require("tokenizer.json", "task " + model.task());
    JsonNode tokenizerJson = repo.json("tokenizer.json");
    int maxLength = maxLength(model, repo, tokenizerJson);
    long padId = tokenizerJson.path("padding").path("pad_id").asLong(0);
    try {
      // Padding is ours (to the longest of a batch, across requests); truncation is the
      // tokenizer's.
      HuggingFaceTokenizer tokenizer =
          HuggingFaceTokenizer.newInstance(
              file,
              Map.of(
                  "padding",
                  "false",
                  "truncation",
                  "true",
                  "maxLength",
                  Integer.toString(maxLength),
                  "modelMaxLength",
                  Integer.toString(maxLength)));
      return new TextEncoder(tokenizer, maxLength, padId);
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException(
          model.name() + " - cannot load tokenizer.json: " + e.getMessage(), e);
    }
  }

  private static int maxLength(ModelConfig model, RepoFiles repo, JsonNode tokenizerJson)
      throws ModelLoadException {
    if (model.taskOptions().maxLength() != null) {
      return model.taskOptions().maxLength();
    }
    JsonNode sbert = repo.json("sentence_bert_config.json").path("max_seq_length");
    if (sbert.canConvertToInt() && sbert.asInt() > 0) {
      return sbert.asInt();
    }
    JsonNode truncation = tokenizerJson.path("truncation").path("max_length");
    if (truncation.canConvertToInt() && truncation.asInt() > 0) {
      return truncation.asInt();
    }
    JsonNode positions = repo.json("config.json").path("max_position_embeddings");
    if (positions.canConvertToInt() && positions.asInt() > 0) {
      return positions.asInt();
    }
    return 512;
  }

  int maxLength() {
    return maxLength;
  }

  /**
   * The texts as token ids, truncated to {@code max_length}.
   *
   * <p>The tokenizer truncates only after it has tokenized the whole text, in native memory of some
   * hundred bytes a token: a 15 MB text took 2.4 GB of it, enough to have a 2 GiB container killed.
   * So each text is first cut to its head of {@code max_length} x {@value #CHARS_PER_TOKEN}
   * characters (after a whitespace, so that no word is split); only when that head gives fewer than
   * {@code max_length} tokens (whitespace-heavy text) is a head twice as long tokenized, up to the
   * whole text. The tokens kept are the same as the whole text's.
   */
  List<Tokens> encode(List<String> texts) {
    int limit = Math.max(1024, maxLength * CHARS_PER_TOKEN);
    List<String> heads = new ArrayList<>(texts.size());
    for (String text : texts) {
      heads.add(head(text, limit));
    }
    Encoding[] encodings = tokenizer.batchEncode(heads);
    List<Tokens> items = new ArrayList<>(encodings.length);
    for (int i = 0; i < encodings.length; i++) {
      Encoding e = encodings[i];
      String text = texts.get(i);
      String head = heads.get(i);
      for (long chars = limit; e.getIds().length < maxLength && head.length() < text.length(); ) {
        chars = Math.min(chars * 2, Integer.MAX_VALUE);
        head = head(text, (int) chars);
        e = tokenizer.encode(head);
      }
      items.add(new Tokens(e.getIds(), e.getTypeIds()));
    }
    return items;
  }

  /** Characters a token takes at most, as far as the first cut of a long text goes. */
  static final int CHARS_PER_TOKEN = 32;

  /** {@code text} up to about {@code chars} characters, cut before a whitespace if there is one. */
  static String head(String text, int chars) {
    if (text.length() <= chars) {
      return text;
    }
    for (int i = chars; i > chars / 2; i--) {
      if (Character.isWhitespace(text.charAt(i))) {
        return text.substring(0, i);
      }
    }
    int cut = Character.isHighSurrogate(text.charAt(chars - 1)) ? chars - 1 : chars;
    return text.substring(0, cut);
  }

  /**
   * The inputs a model takes, in its order. OnnxRuntime models name theirs, and inputs are then
   * passed by name; TorchScript ones are given {@code (input_ids, attention_mask)} by position.
   */
  static ModelInputs inputsOf(Model model) {
    if (Engine.ONNX_RUNTIME.djlName().equals(model.getNDManager().getEngine().getEngineName())) {
      PairList<String, Shape> described = model.describeInput();
      List<String> names = described == null ? List.of() : described.keys();
      for (String name : names) {
        if (!KNOWN_INPUTS.contains(name)) {
          throw new IllegalStateException(
              "the model takes an input '"
                  + name
                  + "'; text tasks feed only "
                  + String.join(", ", KNOWN_INPUTS)
                  + " (model inputs: "
                  + names
                  + ")");
        }
      }
      return new ModelInputs(names, true);
    }
    return new ModelInputs(List.of(INPUT_IDS, ATTENTION_MASK), false);
  }

  /** The inputs to feed, in order; {@code named}: passed by name (OnnxRuntime). */
  record ModelInputs(List<String> names, boolean named) {}

  /**
   * The items padded to the longest (at least one token) as {@code [N, L]} int64 tensors.
   *
   * @return the tensors; {@code lengths} receives each item's token count
   */
  NDList batch(NDManager manager, List<Tokens> items, ModelInputs inputs, int[] lengths) {
    int width = 1;
    for (Tokens t : items) {
      width = Math.max(width, t.ids().length);
    }
    int rows = items.size();
    long[] ids = new long[rows * width];
    long[] mask = new long[rows * width];
    long[] types = new long[rows * width];
    Arrays.fill(ids, padId);
    for (int r = 0; r < rows; r++) {
      Tokens t = items.get(r);
      lengths[r] = t.ids().length;
      System.arraycopy(t.ids(), 0, ids, r * width, t.ids().length);
      System.arraycopy(t.typeIds(), 0, types, r * width, t.typeIds().length);
      Arrays.fill(mask, r * width, r * width + t.ids().length, 1L);
    }
    Shape shape = new Shape(rows, width);
    NDList list = new NDList(inputs.names().size());
    for (String name : inputs.names()) {
      long[] data =
          switch (name) {
            case INPUT_IDS -> ids;
            case ATTENTION_MASK -> mask;
            default -> types;
          };
      NDArray array = manager.create(data, shape);
      if (inputs.named()) {
        array.setName(name);
      }
      list.add(array);
    }
    return list;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
