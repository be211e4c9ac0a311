package dev.modelcache.grpc;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.modelcache.grpc.proto.ModelInferRequest;
import dev.modelcache.grpc.proto.ModelInferRequest.InferInputTensor;
import dev.modelcache.grpc.proto.ModelInferRequest.InferRequestedOutputTensor;
import dev.modelcache.grpc.proto.ModelInferResponse;
import dev.modelcache.grpc.proto.ModelInferResponse.InferOutputTensor;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.inference.V2Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code ModelInferRequest} to the {@link V2Tensor}s that {@code ModelRegistry.inferV2} runs (the
 * same as the REST route's), and its answer back to a {@code ModelInferResponse}: in {@code
 * raw_output_contents} when the request came in {@code raw_input_contents} (as Triton answers),
 * else in typed {@code contents}.
 */
final class InferMessages {
  private InferMessages() {}

  /** The request's inputs, every one checked against its shape and datatype. */
  static List<V2Tensor> inputs(ModelInferRequest request) {
    if (request.getInputsCount() == 0) {
      throw new InvalidInputException(
          "ModelInferRequest has no 'inputs': give each input's name, datatype, shape and"
              + " contents (or raw_input_contents)");
    }
    boolean raw = request.getRawInputContentsCount() > 0;
    if (raw && request.getRawInputContentsCount() != request.getInputsCount()) {
      throw new InvalidInputException(
          "raw_input_contents has "
              + request.getRawInputContentsCount()
              + " entries but the request has "
              + request.getInputsCount()
              + " inputs; give one per input, in the order of 'inputs'");
    }
    List<V2Tensor> tensors = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < request.getInputsCount(); i++) {
      InferInputTensor input = request.getInputs(i);
      if (input.getName().isEmpty()) {
        throw new InvalidInputException("inputs[" + i + "] has no name");
      }
      String label = "input '" + input.getName() + "'";
      if (!names.add(input.getName())) {
        throw new InvalidInputException(label + " is given twice");
      }
      if (input.getDatatype().isEmpty()) {
        throw new InvalidInputException(label + " has no datatype (FP32, INT64, BYTES, ...)");
      }
      Datatype type = Datatype.of(input.getDatatype(), label);
      long count = count(input.getShapeList(), label);
      ArrayNode data;
      if (raw) {
        if (input.hasContents()) {
          throw new InvalidInputException(
              label
                  + " has 'contents' while the request has raw_input_contents; send every input"
                  + " one way");
        }
        data = RawTensors.decode(type, request.getRawInputContents(i), count, label);
      } else {
        data = TypedTensors.decode(type, input.getContents(), count, label);
      }
      long[] shape = input.getShapeList().stream().mapToLong(Long::longValue).toArray();
      tensors.add(new V2Tensor(input.getName(), shape, type.name(), data));
    }
    return tensors;
  }

  /** The number of elements a shape holds, or an error for a negative or overflowing one. */
  private static long count(List<Long> shape, String label) {
    long count = 1;
    for (int i = 0; i < shape.size(); i++) {
      long d = shape.get(i);
      if (d < 0) {
        throw new InvalidInputException(
            label + " shape[" + i + "] is " + d + "; dimensions are whole numbers >= 0");
      }
      try {
        count = Math.multiplyExact(count, d);
      } catch (ArithmeticException e) {
        throw new InvalidInputException(label + " has a shape with too many elements");
      }
    }
    return count;
  }

  /**
   * The response to {@code request}: the outputs it asks for (all when it names none), raw when it
   * sent raw inputs.
   */
  static ModelInferResponse response(String model, ModelInferRequest request, V2Answer answer) {
    ModelInferResponse.Builder response =
        ModelInferResponse.newBuilder()
            .setModelName(model)
            .setModelVersion(answer.revision())
            .setId(request.getId());
    boolean raw = request.getRawInputContentsCount() > 0;
    for (V2Tensor tensor : wanted(model, request, answer.outputs())) {
      Datatype type = Datatype.of(tensor.datatype(), "output '" + tensor.name() + "'");
      InferOutputTensor.Builder out =
          InferOutputTensor.newBuilder()
              .setName(tensor.name())
              .setDatatype(tensor.datatype())
              .addAllShape(Arrays.stream(tensor.shape()).boxed().toList());
      if (raw) {
        response.addRawOutputContents(RawTensors.encode(type, tensor.data()));
      } else {
        out.setContents(TypedTensors.encode(type, tensor.data()));
      }
      response.addOutputs(out);
    }
    return response.build();
  }

  private static List<V2Tensor> wanted(
      String model, ModelInferRequest request, List<V2Tensor> outputs) {
    if (request.getOutputsCount() == 0) {
      return outputs;
    }
    Set<String> known = new LinkedHashSet<>();
    outputs.forEach(t -> known.add(t.name()));
    Set<String> names = new HashSet<>();
    for (InferRequestedOutputTensor wanted : request.getOutputsList()) {
      if (!known.contains(wanted.getName())) {
        throw new InvalidInputException(
            "output '"
                + wanted.getName()
                + "' is not an output of model "
                + model
                + " (outputs: "
                + String.join(", ", known)
                + ")");
      }
      names.add(wanted.getName());
    }
    return outputs.stream().filter(t -> names.contains(t.name())).toList();
  }
}
