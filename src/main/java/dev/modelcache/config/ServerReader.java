package dev.modelcache.config;

import dev.modelcache.config.Config.GrpcConfig;
import dev.modelcache.config.Config.Limits;
import dev.modelcache.config.Config.ServerConfig;
import java.util.Map;

/**
 * Reads {@code server:}, its {@code auth:} (the variable that holds the token, whose value is read
 * here), its {@code limits:} and its {@code grpc:}.
 */
final class ServerReader {
  private final Map<String, String> env;

  ServerReader(Map<String, String> env) {
    this.env = env;
  }

  ServerConfig read(ConfigNode node) {
    String host = node.string("host", "0.0.0.0");
    int port = node.integer("port", 8080, 0, 65535);
    int maxBody = node.integer("max_body_bytes", 16 * 1024 * 1024, 1024, Integer.MAX_VALUE);
    int shutdownGrace = node.integer("shutdown_grace_seconds", 30, 0, 3600);
    ConfigNode authNode = node.child("auth");
    String tokenEnv = authNode.string("token_env", "MODELCACHE_TOKEN");
    boolean authMetrics = authNode.bool("metrics", false);
    authNode.finish();
    Limits limits = limits(node.child("limits"));
    ConfigNode reloadNode = node.child("reload");
    Config.Reload reload =
        new Config.Reload(
            reloadNode.bool("watch", Config.Reload.DEFAULT.watch()),
            reloadNode.integer("debounce_ms", Config.Reload.DEFAULT.debounceMs(), 50, 60_000));
    reloadNode.finish();
    GrpcConfig grpc = grpc(node.child("grpc"));
    long maxModelMemory = node.bytes("max_model_memory", 0);
    int engineThreads = engineThreads(node);
    node.finish();
    return new ServerConfig(
        host,
        port,
        tokenEnv,
        Secret.ofNullable(env.get(tokenEnv)),
        maxBody,
        authMetrics,
        shutdownGrace,
        limits,
        reload,
        grpc,
        maxModelMemory,
        engineThreads);
  }

  /** {@code engine_threads}: 0 for {@code auto}, else 1..1024. */
  private static int engineThreads(ConfigNode node) {
    String text = node.string("engine_threads", "auto").strip();
    if (text.equalsIgnoreCase("auto")) {
      return 0;
    }
    if (!text.matches("[0-9]{1,9}")) {
      throw new ConfigException(
          node.source("engine_threads")
              + ": "
              + node.qualify("engine_threads")
              + " must be auto or a whole number of threads from 1 to 1024, not '"
              + text
              + "'",
          node.qualify("engine_threads"));
    }
    return node.integer("engine_threads", 0, 1, 1024);
  }

  private static GrpcConfig grpc(ConfigNode node) {
    GrpcConfig grpc =
        new GrpcConfig(
            node.bool("enabled", GrpcConfig.DEFAULT.enabled()),
            node.integer("port", GrpcConfig.DEFAULT.port(), 0, 65535));
    node.finish();
    return grpc;
  }

  private static Limits limits(ConfigNode node) {
    Limits limits =
        new Limits(
            node.integer("memory_percent", Limits.DEFAULT.memoryPercent(), 5, 90),
            node.integer("body_expansion", Limits.DEFAULT.bodyExpansion(), 1, 1000),
            node.integer("max_items", Limits.DEFAULT.maxItems(), 1, 1_000_000));
    node.finish();
    return limits;
  }
}
