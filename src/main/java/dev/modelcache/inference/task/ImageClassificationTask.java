package dev.modelcache.inference.task;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.RawBodyTask;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.V2Tensor;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * {@code image-classification}: images in (base64 in JSON, or the raw bytes as the body), the top k
 * labels with their scores out. An item is the decoded image already resized and normalised ({@code
 * [3, height, width]} floats), so decoding runs on the request's thread and a batch only stacks.
 *
 * <p>modelcache never fetches a URL: a string that looks like one is refused with a 400.
 */
final class ImageClassificationTask
    implements Task<float[], List<Prediction>>, RawBodyTask<float[]> {
  static final String NAME = "image-classification";
  private static final String EXAMPLE = "[\"iVBORw0KGgo...\"] (base64 image bytes)";
  private static final Pattern URL =
      Pattern.compile("^(?:[A-Za-z][A-Za-z0-9+.-]*://|www\\.).*", Pattern.DOTALL);
  private static final Pattern DATA_URL =
      Pattern.compile("^data:[^,;]*(?:;[^,;]*)*;base64,", Pattern.CASE_INSENSITIVE);

  private final ImagePreprocessor preprocessor;
  private final Classifier classifier;

  ImageClassificationTask(ImagePreprocessor preprocessor, Classifier classifier) {
    this.preprocessor = preprocessor;
    this.classifier = classifier;
  }

  static ImageClassificationTask load(ModelConfig model, RepoFiles repo) throws ModelLoadException {
    return new ImageClassificationTask(
        ImagePreprocessor.of(model, repo), Classifier.of(model, repo));
  }

  ImagePreprocessor preprocessor() {
    return preprocessor;
  }

  Classifier classifier() {
    return classifier;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Translator<List<float[]>, List<List<Prediction>>> translator() {
    return new ImageTranslator();
  }

  @Override
  public List<float[]> parse(JsonNode inputs) {
    List<String> images = Inputs.strings(inputs, "base64 image", EXAMPLE);
    List<float[]> items = new ArrayList<>(images.size());
    for (int i = 0; i < images.size(); i++) {
      String where = inputs.isTextual() ? "inputs" : "inputs[" + i + "]";
      items.add(preprocessor.pixels(base64(images.get(i), where), where));
    }
    return items;
  }

  @Override
  public boolean acceptsRaw(String contentType) {
    if (contentType == null) {
      return false;
    }
    String type = contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
    return type.startsWith("image/") || type.equals("application/octet-stream");
  }

  @Override
  public List<float[]> parseRaw(byte[] body) {
    if (body == null || body.length == 0) {
      throw new InvalidInputException(
          "the request body is empty; send the image's bytes (PNG, JPEG, BMP or GIF)");
    }
    return List.of(preprocessor.pixels(body, "the request body"));
  }

  @Override
  public JsonNode render(List<List<Prediction>> outputs) {
    return Classifier.render(outputs);
  }

  @Override
  public List<float[]> parseV2(List<V2Tensor> inputs) {
    List<String> images = Inputs.v2Strings(inputs, "image", "base64 image");
    String name = inputs.get(0).name();
    List<float[]> items = new ArrayList<>(images.size());
    for (int i = 0; i < images.size(); i++) {
      String where = "input '" + name + "' data[" + i + "]";
      items.add(preprocessor.pixels(base64(images.get(i), where), where));
    }
    return items;
  }

  @Override
  public List<V2Tensor> renderV2(List<List<Prediction>> outputs) {
    return Classifier.renderV2(outputs);
  }

  @Override
  public List<V2Tensor.Spec> inputSpecs() {
    return List.of(new V2Tensor.Spec("image", "BYTES", new long[] {-1}));
  }

  @Override
  public List<V2Tensor.Spec> outputSpecs() {
    return classifier.outputSpecs();
  }

  @Override
  public float[] warmupItem() {
    return new float[3 * preprocessor.height() * preprocessor.width()];
  }

  @Override
  public List<float[]> probeItems() {
    List<float[]> images = new java.util.ArrayList<>();
    for (int k = 0; k < 3; k++) {
      float[] pixels = new float[3 * preprocessor.height() * preprocessor.width()];
      for (int i = 0; i < pixels.length; i++) {
        pixels[i] = (float) Math.sin(0.37 * (k + 1) * (i % 977)); // distinct, normalised range
      }
      images.add(pixels);
    }
    return images;
  }

  /** The bytes of a base64 string (standard or URL-safe alphabet, or a {@code data:} URL). */
  static byte[] base64(String text, String where) {
    String s = text.strip();
    var data = DATA_URL.matcher(s);
    if (data.find()) {
      s = s.substring(data.end());
    } else if (URL.matcher(s).matches()) {
      throw new InvalidInputException(
          where
              + " is a URL ("
              + (s.length() > 40 ? s.substring(0, 40) + "..." : s)
              + "); modelcache never fetches URLs: send the image's bytes base64-encoded, or as"
              + " the request body with Content-Type: image/png (or image/jpeg)");
    }
    if (s.isEmpty()) {
      throw new InvalidInputException(where + " is empty; send an image's bytes base64-encoded");
    }
    try {
      return s.indexOf('-') >= 0 || s.indexOf('_') >= 0
          ? Base64.getUrlDecoder().decode(s)
          : Base64.getMimeDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      throw new InvalidInputException(
          where
              + " is not valid base64 ("
              + e.getMessage()
              + "); send the image's bytes base64-encoded",
          e);
    }
  }

  /** Stacks the items into one {@code [N, 3, height, width]} tensor. */
  private final class ImageTranslator
      implements NoBatchifyTranslator<List<float[]>, List<List<Prediction>>> {

    @Override
    public NDList processInput(TranslatorContext ctx, List<float[]> items) {
      int size = 3 * preprocessor.height() * preprocessor.width();
      float[] stacked = new float[items.size() * size];
      for (int i = 0; i < items.size(); i++) {
        System.arraycopy(items.get(i), 0, stacked, i * size, size);
      }
      NDArray pixels =
          ctx.getNDManager()
              .create(
                  stacked, new Shape(items.size(), 3, preprocessor.height(), preprocessor.width()));
      return new NDList(pixels);
    }

    @Override
    public List<List<Prediction>> processOutput(TranslatorContext ctx, NDList list) {
      NDArray logits = list.get("logits");
      return classifier.rows(logits == null ? list.get(0) : logits);
    }
  }
}
