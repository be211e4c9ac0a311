package dev.modelcache.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelState;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.inference.ModelStatus;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.util.List;
import java.util.Map;

/**
 * The probes: {@code GET /health/live}, {@code /health/ready} (200 once every required model is
 * READY, else 503 naming those waited for) and {@code /health} (each model's state).
 */
final class HealthRoutes {
  private final ModelStates states;
  private final ModelRegistry registry;
  private final ObjectMapper json;

  HealthRoutes(ModelStates states, ModelRegistry registry, ObjectMapper json) {
    this.states = states;
    this.registry = registry;
    this.json = json;
  }

  void register(RoutesConfig routes) {
    routes.get("/health/live", ctx -> ctx.json(Map.of("status", "live")));
    routes.get("/health/ready", this::ready);
    routes.get("/health", this::health);
  }

  private void ready(Context ctx) {
    if (states.ready()) {
      ctx.json(Map.of("status", "ready"));
    } else {
      List<String> waiting =
          states.all().stream()
              .filter(s -> states.isRequired(s.model()) && s.state() != ModelState.READY)
              .map(s -> s.model() + " (" + s.state() + ")")
              .toList();
      ctx.status(503).json(Map.of("status", "not ready", "waiting_for", waiting));
    }
  }

  private void health(Context ctx) {
    ObjectNode body = json.createObjectNode();
    boolean ready = states.ready();
    body.put("status", ready ? "ready" : "not ready");
    ArrayNode list = body.putArray("models");
    for (ModelStatus status : states.all()) {
      ObjectNode m = list.addObject();
      m.put("name", status.model());
      m.put("state", status.state().name());
      m.put("required", states.isRequired(status.model()));
      m.put("since", status.since().toString());
      if (status.state() == ModelState.FETCHING) {
        m.put("bytes", status.bytesDone());
        m.put("total_bytes", status.bytesTotal());
        m.put("bytes_per_second", Math.round(status.bytesPerSecond()));
        m.put("eta_seconds", status.etaSeconds());
      }
      if (status.reason() != null) {
        m.put("reason", status.reason());
      }
      ModelRoutes.putStale(states, m, status.model());
      ModelRoutes.putRevisions(registry, m, status.model());
    }
    ctx.status(ready ? 200 : 503).json(body);
  }
}
