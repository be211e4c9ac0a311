package dev.modelcache.http;

import dev.modelcache.config.Config.ServerConfig;
import io.javalin.http.Handler;

/**
 * The bearer token of {@code server.auth}: a route wrapped here answers 401 unless the request
 * carries {@code Authorization: Bearer <token>}; with no token configured it is open.
 *
 * <pre>{@code
 * config.routes.post("/inference", auth.authorized(handler));
 * }</pre>
 */
final class BearerAuth {
  private final ServerConfig server;

  BearerAuth(ServerConfig server) {
    this.server = server;
  }

  Handler authorized(Handler handler) {
    return ctx -> {
      if (server.token() != null) {
        String header = ctx.header("Authorization");
        String presented =
            header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
                ? header.substring(7).strip()
                : null;
        if (!server.token().matches(presented)) {
          throw new HttpError(
              401,
              presented == null
                  ? "this route needs 'Authorization: Bearer <token>' (the token set in "
                      + server.tokenEnv()
                      + ")"
                  : "the bearer token is wrong");
        }
      }
      handler.handle(ctx);
    };
  }
}
