package dev.modelcache.grpc;

import dev.modelcache.config.Config.ServerConfig;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Set;

/**
 * The bearer token of {@code server.auth} for the gRPC methods that HTTP guards too ({@code
 * ModelInfer}): the call must carry the metadata {@code authorization: Bearer <token>}, else it
 * ends UNAUTHENTICATED before its message is read. With no token configured everything is open.
 */
final class BearerInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ServerConfig server;
  private final Set<String> guarded;

  /**
   * @param guarded the full method names ({@code inference.GRPCInferenceService/ModelInfer}) that
   *     need the token
   */
  BearerInterceptor(ServerConfig server, Set<String> guarded) {
    this.server = server;
    this.guarded = Set.copyOf(guarded);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (server.token() == null
        || !guarded.contains(call.getMethodDescriptor().getFullMethodName())) {
      return next.startCall(call, headers);
    }
    String header = headers.get(AUTHORIZATION);
    String presented =
        header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
            ? header.substring(7).strip()
            : null;
    if (server.token().matches(presented)) {
      return next.startCall(call, headers);
    }
    call.close(
        Status.UNAUTHENTICATED.withDescription(
            presented == null
                ? "this method needs the metadata 'authorization: Bearer <token>' (the token set"
                    + " in "
                    + server.tokenEnv()
                    + ")"
                : "the bearer token is wrong"),
        new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
