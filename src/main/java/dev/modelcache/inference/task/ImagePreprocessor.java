package dev.modelcache.inference.task;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.TaskOptions;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.QueueFullException;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.jspecify.annotations.Nullable;

/**
 * Image bytes (PNG, JPEG, BMP, GIF: what the JDK decodes) to the model's {@code [3, height, width]}
 * float input: RGB, resized (the shorter side to {@code resize} then a centre crop, or straight to
 * the size), scaled by {@code rescale} (1/255) and normalised per channel with {@code mean} and
 * {@code std}.
 *
 * <p>Settings come from the model config, else the repo's {@code preprocessor_config.json} as
 * HuggingFace image processors write it ({@code size}, {@code crop_size}, {@code image_mean},
 * {@code image_std}, {@code rescale_factor}), else 224 x 224 and ImageNet's mean and std.
 */
record ImagePreprocessor(
    int height, int width, @Nullable Integer resize, float[] mean, float[] std, float rescale) {
  static final int MAX_SIDE = 16_384;
  static final long MAX_PIXELS = 40_000_000L;
  private static final List<Double> IMAGENET_MEAN = List.of(0.485, 0.456, 0.406);
  private static final List<Double> IMAGENET_STD = List.of(0.229, 0.224, 0.225);

  static ImagePreprocessor of(ModelConfig model, RepoFiles repo) throws ModelLoadException {
    TaskOptions options = model.taskOptions();
    JsonNode pre = repo.json("preprocessor_config.json");
    int[] size = null;
    Integer resize = options.resize();
    if (options.imageSize() != null) {
      size = new int[] {options.imageSize().get(0), options.imageSize().get(1)};
    } else if (!pre.isMissingNode()) {
      JsonNode s = pre.path("size");
      boolean crop = pre.path("do_center_crop").asBoolean(false);
      if (s.canConvertToInt()) {
        size = new int[] {s.asInt(), s.asInt()};
      } else if (s.has("height") && s.has("width")) {
        size = new int[] {s.path("height").asInt(), s.path("width").asInt()};
      } else if (s.has("shortest_edge")) {
        int edge = s.path("shortest_edge").asInt();
        size = new int[] {edge, edge};
        if (resize == null) {
          resize = edge;
        }
      }
      JsonNode cropSize = pre.path("crop_size");
      if (crop && !cropSize.isMissingNode()) {
        if (resize == null && size != null) {
          resize = Math.min(size[0], size[1]);
        }
        size =
            cropSize.canConvertToInt()
                ? new int[] {cropSize.asInt(), cropSize.asInt()}
                : new int[] {cropSize.path("height").asInt(), cropSize.path("width").asInt()};
      }
      if (size != null && (size[0] < 1 || size[1] < 1 || size[0] > 4096 || size[1] > 4096)) {
        throw new ModelLoadException(
            model.name()
                + " - preprocessor_config.json gives an image size of "
                + size[0]
                + " x "
                + size[1]
                + "; set task_options.image_size");
      }
    }
    if (size == null) {
      size = new int[] {224, 224};
    }
    boolean normalize = pre.path("do_normalize").asBoolean(true);
    List<Double> mean =
        options.mean() != null
            ? options.mean()
            : channels(pre.path("image_mean"), normalize ? IMAGENET_MEAN : List.of(0.0, 0.0, 0.0));
    List<Double> std =
        options.std() != null
            ? options.std()
            : channels(pre.path("image_std"), normalize ? IMAGENET_STD : List.of(1.0, 1.0, 1.0));
    float rescale =
        pre.path("do_rescale").asBoolean(true)
            ? (float) pre.path("rescale_factor").asDouble(1 / 255.0)
            : 1f;
    return new ImagePreprocessor(size[0], size[1], resize, floats(mean), floats(std), rescale);
  }

  private static List<Double> channels(JsonNode node, List<Double> fallback) {
    if (node.isNumber()) {
      return List.of(node.asDouble(), node.asDouble(), node.asDouble());
    }
    if (node.isArray() && node.size() == 3) {
      return List.of(node.get(0).asDouble(), node.get(1).asDouble(), node.get(2).asDouble());
    }
    return fallback;
  }

  private static float[] floats(List<Double> values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i).floatValue();
    }
    return out;
  }

  /**
   * The heap that images being decoded may hold together, in MiB: a quarter of the heap. A small
   * file may decode to a large picture (a 40-megapixel PNG of one colour is a few KB, 160 MB once
   * decoded), which the request's body size does not tell, so decodes take their own budget: beside
   * the budget of requests in flight ({@code server.limits}), concurrent large images wait their
   * turn instead of running the heap out.
   */
  private static final long MIB = 1024 * 1024;

  private static final int DECODE_BUDGET_MIB =
      (int) Math.max(1, Runtime.getRuntime().maxMemory() / 4 / MIB);

  private static final Semaphore DECODING = new Semaphore(DECODE_BUDGET_MIB, true);

  /** How long a decode waits for its share of the budget before the request gets 503. */
  static final Duration DECODE_WAIT = Duration.ofSeconds(10);

  /** Decodes {@code bytes} (named {@code where} in messages) to the model's input. */
  float[] pixels(byte[] bytes, String where) {
    return decode(bytes, where, this::pixels);
  }

  /**
   * The heap a decode of w x h pixels takes, in MiB: the picture (4 bytes a pixel), then halves.
   */
  static int decodeCost(long w, long h) {
    return (int) Math.max(1, (w * h * 5 + MIB - 1) / MIB);
  }

  /** The model's {@code [3, height, width]} input of an image, row-major. */
  float[] pixels(BufferedImage image) {
    BufferedImage sized = fit(image);
    int plane = height * width;
    float[] out = new float[3 * plane];
    int[] argb = sized.getRGB(0, 0, width, height, null, 0, width);
    for (int i = 0; i < plane; i++) {
      int p = argb[i];
      out[i] = (((p >> 16) & 0xff) * rescale - mean[0]) / std[0];
      out[plane + i] = (((p >> 8) & 0xff) * rescale - mean[1]) / std[1];
      out[2 * plane + i] = ((p & 0xff) * rescale - mean[2]) / std[2];
    }
    return out;
  }

  static BufferedImage decode(byte[] bytes, String where) {
    return decode(bytes, where, image -> image);
  }

  /**
   * Decodes {@code bytes} and hands the picture to {@code use}, holding its share of the decode
   * budget until {@code use} returns.
   */
  static <T> T decode(byte[] bytes, String where, Function<BufferedImage, T> use) {
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) {
        throw new InvalidInputException(
            where
                + " is not an image modelcache can read ("
                + bytes.length
                + " bytes); send PNG, JPEG, BMP or GIF");
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        // Check the size the header claims before decoding, so a small file cannot claim a
        // picture that fills the heap.
        long w = reader.getWidth(0);
        long h = reader.getHeight(0);
        int cost = checkedCost(where, w, h);
        if (!DECODING.tryAcquire(cost, DECODE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new QueueFullException(
              where
                  + " ("
                  + w
                  + " x "
                  + h
                  + " pixels) waited "
                  + DECODE_WAIT.toSeconds()
                  + " s for the "
                  + DECODE_BUDGET_MIB
                  + " MiB that images being decoded may hold (a quarter of the heap); retry"
                  + " shortly, or send smaller images");
        }
        try {
          return use.apply(reader.read(0));
        } finally {
          DECODING.release(cost);
        }
      } finally {
        reader.dispose();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new QueueFullException(where + " - interrupted while it waited to be decoded");
    } catch (IOException | RuntimeException e) {
      if (e instanceof InvalidInputException || e instanceof QueueFullException) {
        throw (RuntimeException) e;
      }
      throw new InvalidInputException(
          where + " could not be decoded as " + formatOf(bytes) + ": " + e.getMessage(), e);
    }
  }

  /**
   * The MiB decoding a {@code w} x {@code h} picture takes, checked against the limits before
   * decoding, so a small file cannot claim a picture that fills the heap.
   */
  private static int checkedCost(String where, long w, long h) {
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS) {
      throw new InvalidInputException(
          where
              + " is "
              + w
              + " x "
              + h
              + " pixels; at most "
              + MAX_SIDE
              + " per side and "
              + MAX_PIXELS / 1_000_000
              + " million in all are taken: scale it down first");
    }
    int cost = decodeCost(w, h);
    if (cost > DECODE_BUDGET_MIB) {
      throw new InvalidInputException(
          where
              + " is "
              + w
              + " x "
              + h
              + " pixels, about "
              + cost
              + " MiB to decode, more than the "
              + DECODE_BUDGET_MIB
              + " MiB (a quarter of the heap) images may take: scale it down first, or give"
              + " the JVM more heap");
    }
    return cost;
  }

  private static String formatOf(byte[] bytes) {
    return bytes.length > 3 && (bytes[0] & 0xff) == 0x89 && bytes[1] == 'P' ? "PNG" : "an image";
  }

  /** The image at exactly height x width, RGB. */
  private BufferedImage fit(BufferedImage image) {
    BufferedImage rgb = image;
    if (resize != null) {
      int w = image.getWidth();
      int h = image.getHeight();
      double scale = (double) resize / Math.min(w, h);
      int sw = Math.max(width, (int) Math.round(w * scale));
      int sh = Math.max(height, (int) Math.round(h * scale));
      BufferedImage scaled = scale(image, sw, sh);
      rgb = scaled.getSubimage((sw - width) / 2, (sh - height) / 2, width, height);
      return rgb;
    }
    if (image.getWidth() == width && image.getHeight() == height) {
      return image;
    }
    return scale(image, width, height);
  }

  /**
   * Bilinear scaling; a large reduction goes by halves, so that every source pixel counts (plain
   * bilinear would skip most of them).
   */
  private static BufferedImage scale(BufferedImage image, int targetWidth, int targetHeight) {
    BufferedImage current = image;
    int w = image.getWidth();
    int h = image.getHeight();
    do {
      w = w / 2 >= targetWidth ? w / 2 : targetWidth;
      h = h / 2 >= targetHeight ? h / 2 : targetHeight;
      BufferedImage next = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = next.createGraphics();
      try {
        g.setRenderingHint(
            RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(current, 0, 0, w, h, null);
      } finally {
        g.dispose();
      }
      current = next;
    } while (w != targetWidth || h != targetHeight);
    return current;
  }
}
