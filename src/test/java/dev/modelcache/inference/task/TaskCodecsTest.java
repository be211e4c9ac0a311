package dev.modelcache.inference.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.RawBodyTask;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.V2Tensor;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The 400 messages of the task codecs: what is wrong, where, and what to send instead. */
class TaskCodecsTest {
  private static Task<?, ?> text;
  private static Task<?, ?> image;

  @BeforeAll
  static void load() throws Exception {
    Path sentiment = TaskModels.MODELS.resolve("sentiment");
    text =
        BuiltInTasks.create(
            TaskModels.config("s", sentiment, "task: text-classification"), sentiment);
    Path colors = TaskModels.MODELS.resolve("colors");
    image =
        BuiltInTasks.create(TaskModels.config("c", colors, "task: image-classification"), colors);
  }

  @AfterAll
  static void close() {
    ((TextClassificationTask) text).close();
  }

  private static JsonNode json(String text) throws Exception {
    return TaskModels.JSON.readTree(text);
  }

  private static V2Tensor bytes(String name, long[] shape, String datatype, Object data) {
    return new V2Tensor(name, shape, datatype, TaskModels.JSON.valueToTree(data));
  }

  @Test
  void textInputsMustBeStrings() throws Exception {
    assertThatThrownBy(() -> text.parse(null))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage(
            "request has no 'inputs': send {\"inputs\": [\"what a wonderful day\", \"the service"
                + " was slow\"]}");
    assertThatThrownBy(() -> text.parse(json("42")))
        .hasMessage(
            "inputs is a number; expected a text or a list of them, such as [\"what a wonderful"
                + " day\", \"the service was slow\"]");
    assertThatThrownBy(() -> text.parse(json("[]")))
        .hasMessage(
            "inputs is an empty list; send at least one text, such as [\"what a wonderful day\","
                + " \"the service was slow\"]");
    assertThatThrownBy(() -> text.parse(json("[\"ok\", [1, 2]]")))
        .hasMessage("inputs[1] is a list; expected a text (a JSON string)");
    assertThat(text.parse(json("\"one text\""))).hasSize(1);
  }

  @Test
  void openInferenceProtocolTextIsOneBytesTensor() {
    assertThatThrownBy(() -> text.parseV2(List.of()))
        .hasMessage(
            "expected one input tensor ('text', datatype BYTES, shape [N]) holding texts, got 0");
    assertThatThrownBy(
            () -> text.parseV2(List.of(bytes("text", new long[] {1}, "FP32", List.of(1.0)))))
        .hasMessage("input 'text' has datatype FP32; send texts as BYTES");
    assertThatThrownBy(
            () -> text.parseV2(List.of(bytes("text", new long[] {2, 2}, "BYTES", List.of("a")))))
        .hasMessage(
            "input 'text' has shape [2, 2]; expected [N] (or [N, 1]): one text per row, at least"
                + " one");
    assertThatThrownBy(
            () -> text.parseV2(List.of(bytes("text", new long[] {2}, "BYTES", List.of("a")))))
        .hasMessage("input 'text' has 1 data elements but shape [2] needs 2");
    assertThatThrownBy(
            () -> text.parseV2(List.of(bytes("t", new long[] {2}, "BYTES", List.of("a", 3)))))
        .hasMessage("input 't' data[1] is a number; BYTES data are JSON strings");
    assertThat(text.parseV2(List.of(bytes("t", new long[] {2, 1}, "BYTES", List.of("a", "b")))))
        .hasSize(2);
  }

  @Test
  void imagesAreNeverFetchedFromAUrl() throws Exception {
    assertThatThrownBy(() -> image.parse(json("[\"https://example.com/cat.png\"]")))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage(
            "inputs[0] is a URL (https://example.com/cat.png); modelcache never fetches URLs:"
                + " send the image's bytes base64-encoded, or as the request body with"
                + " Content-Type: image/png (or image/jpeg)");
    assertThatThrownBy(() -> image.parse(json("\"file:///etc/passwd\"")))
        .hasMessageStartingWith("inputs is a URL (file:///etc/passwd); modelcache never fetches");
    assertThatThrownBy(
            () ->
                image.parseV2(
                    List.of(bytes("image", new long[] {1}, "BYTES", List.of("s3://b/k.jpg")))))
        .hasMessageStartingWith("input 'image' data[0] is a URL (s3://b/k.jpg)");
  }

  @Test
  void badImageBytesAreNamed() throws Exception {
    assertThatThrownBy(() -> image.parse(json("[\"not base64!\"]")))
        .hasMessageStartingWith("inputs[0] is not valid base64 (")
        .hasMessageEndingWith("); send the image's bytes base64-encoded");
    String text = Base64.getEncoder().encodeToString("hello, not an image".getBytes());
    assertThatThrownBy(() -> image.parse(json("[\"" + text + "\"]")))
        .hasMessage(
            "inputs[0] is not an image modelcache can read (19 bytes); send PNG, JPEG, BMP or GIF");
    assertThatThrownBy(() -> ((RawBodyTask<?>) image).parseRaw(new byte[0]))
        .hasMessage("the request body is empty; send the image's bytes (PNG, JPEG, BMP or GIF)");
    assertThatThrownBy(() -> image.parse(json("[\"\"]")))
        .hasMessage("inputs[0] is empty; send an image's bytes base64-encoded");
  }

  @Test
  void anImageClaimingTooManyPixelsIsRefusedBeforeDecoding() throws Exception {
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(new BufferedImage(20_000, 1, BufferedImage.TYPE_BYTE_GRAY), "png", png);
    assertThatThrownBy(() -> ((RawBodyTask<?>) image).parseRaw(png.toByteArray()))
        .hasMessage(
            "the request body is 20000 x 1 pixels; at most 16384 per side and 40 million in all"
                + " are taken: scale it down first");
  }

  @Test
  void greyAndOddSizedImagesBecomeTheModelsRgbInput() throws Exception {
    ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
    ImageIO.write(new BufferedImage(50, 70, BufferedImage.TYPE_BYTE_GRAY), "jpg", jpeg);
    @SuppressWarnings("unchecked")
    List<float[]> items = ((RawBodyTask<float[]>) image).parseRaw(jpeg.toByteArray());
    assertThat(items.get(0)).hasSize(3 * 32 * 32);
    // black, rescaled to 0 and normalised with mean 0.5, std 0.25
    assertThat(items.get(0)[0]).isEqualTo(-2f);
  }
}
