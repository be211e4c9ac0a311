package dev.modelcache.config;

import java.util.ArrayList;
import java.util.List;

/** {@link Config#describe}: the effective configuration as log lines, secrets masked. */
final class ConfigDescription {
  private ConfigDescription() {}

  /** The effective configuration as log lines, secrets masked. */
  static List<String> lines(Config config) {
    List<String> lines = new ArrayList<>();
    lines.add("config from " + config.origin() + " (relative paths from " + config.baseDir() + ")");
    lines.add(
        "cache.dir="
            + config.cache().dir()
            + " hub_dir="
            + config.cache().hubDir()
            + " cache.offline="
            + config.cache().offline()
            + " cache.verify="
            + config.cache().verify()
            + " cache.max_bytes="
            + (config.cache().maxBytes() == 0 ? "none" : config.cache().maxBytes()));
    lines.addAll(sources(config.sources()));
    lines.add(server(config.server()));
    lines.add(
        "verification.public_keys="
            + config.verification().publicKeys().stream()
                .map(Config.PublicKeyConfig::origin)
                .toList()
            + " verification.require_signature="
            + config.verification().requireSignature());
    for (ModelConfig m : config.models()) {
      lines.add(model(m));
    }
    return lines;
  }

  /** {@code sources:}: one log line per source kind, secrets masked. */
  private static List<String> sources(Config.SourcesConfig sources) {
    List<String> lines = new ArrayList<>();
    lines.add(
        "sources.hf.endpoint="
            + sources.hf().endpoint()
            + " sources.hf.token="
            + (sources.hf().token() == null ? "(none)" : sources.hf().token()));
    lines.add(
        "sources.s3.endpoint="
            + sources.s3().endpoint()
            + " sources.s3.region="
            + sources.s3().region()
            + " sources.s3.path_style="
            + sources.s3().pathStyle()
            + " sources.s3.anonymous="
            + sources.s3().anonymous()
            + " sources.s3.require_pins="
            + sources.s3().requirePins());
    lines.add(
        "sources.oci.plain_http="
            + sources.oci().plainHttp()
            + " sources.oci.docker_config="
            + (sources.oci().dockerConfig() == null ? "(none)" : sources.oci().dockerConfig()));
    lines.add(
        "sources.gcs.endpoint="
            + sources.gcs().endpoint()
            + " sources.gcs.hmac_access_id="
            + (sources.gcs().accessId() == null ? "(none)" : "(set)")
            + " sources.gcs.hmac_secret="
            + (sources.gcs().secret() == null ? "(none)" : sources.gcs().secret())
            + " sources.gcs.anonymous="
            + sources.gcs().anonymous()
            + " sources.gcs.require_pins="
            + sources.gcs().requirePins()
            + " sources.gcs.json_endpoint="
            + sources.gcs().jsonEndpoint()
            + (sources.gcs().emulator() ? " (STORAGE_EMULATOR_HOST: no credentials)" : "")
            + " sources.gcs.api="
            + (sources.gcs().xmlApi() ? "xml" : "json"));
    lines.add(
        "sources.azure.endpoint="
            + sources.azure().endpoint()
            + " sources.azure.credential="
            + sources.azure().credential().origin()
            + " sources.azure.require_pins="
            + sources.azure().requirePins());
    return lines;
  }

  /** One model: one log line. */
  private static String model(ModelConfig m) {
    return "model "
        + m.name()
        + ": source="
        + m.source()
        + " engine="
        + m.engine()
        + " task="
        + m.task()
        + " device="
        + m.device()
        + " workers="
        + m.workers()
        + " threads="
        + m.threads()
        + " batch.max_size="
        + m.batchMaxSize()
        + " batch.max_delay_ms="
        + m.batchMaxDelayMs()
        + " queue="
        + m.queue()
        + " timeout_ms="
        + m.timeoutMs()
        + " load="
        + (m.lazy() ? "lazy" : "preload")
        + " required="
        + m.required()
        + " pins="
        + m.sha256().size()
        + (m.requirePins() ? " require_pins=true" : "")
        + (m.s3() == null || m.source().scheme() != SourceRef.Scheme.S3
            ? ""
            : " s3.endpoint="
                + m.s3().endpoint()
                + " s3.region="
                + m.s3().region()
                + " s3.path_style="
                + m.s3().pathStyle()
                + " s3.anonymous="
                + m.s3().anonymous())
        + (m.versionIds().isEmpty() ? "" : " version_ids=" + m.versionIds().size())
        + (m.include().isEmpty() ? "" : " include=" + m.include())
        + (m.exclude().isEmpty() ? "" : " exclude=" + m.exclude());
  }

  /** {@code server:}, its limits, auth and gRPC: one log line. */
  private static String server(Config.ServerConfig server) {
    return "server.host="
        + server.host()
        + " server.port="
        + server.port()
        + " server.max_body_bytes="
        + server.maxBodyBytes()
        + " server.shutdown_grace_seconds="
        + server.shutdownGraceSeconds()
        + " server.limits.memory_percent="
        + server.limits().memoryPercent()
        + " server.limits.body_expansion="
        + server.limits().bodyExpansion()
        + " server.limits.max_items="
        + server.limits().maxItems()
        + " server.auth.token_env="
        + server.tokenEnv()
        + " ("
        + (server.token() == null ? "not set: inference is open" : "set: " + server.token())
        + ") server.auth.metrics="
        + server.authMetrics()
        + " server.reload.watch="
        + server.reload().watch()
        + " server.reload.debounce_ms="
        + server.reload().debounceMs()
        + " server.grpc.enabled="
        + server.grpc().enabled()
        + " server.grpc.port="
        + server.grpc().port()
        + " server.max_model_memory="
        + (server.maxModelMemory() == 0 ? "none" : server.maxModelMemory());
  }
}
