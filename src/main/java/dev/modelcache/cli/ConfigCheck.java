package dev.modelcache.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigException;
import dev.modelcache.config.ConfigLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Finds every error of a config file, not only the first: {@link ConfigLoader} stops at the first
 * one, so each error's key is set aside (removed, or its whole model replaced by a placeholder) and
 * the file is read again, until it loads. Each error gets the line of its key in the file. Nothing
 * here opens a connection.
 */
final class ConfigCheck {
  /** One error: its line in the file (0 when it has none, such as a variable's) and its text. */
  record Problem(int line, String message) {}

  /** The outcome: the loaded config when there was no error, else every error, by line. */
  record Result(@Nullable Config config, List<Problem> problems) {}

  /**
   * Keys of a model that other keys depend on: an error there (or in {@code task_options}, which
   * depends on {@code task}) sets the whole model aside, so that it is not reported twice.
   */
  private static final Set<String> MODEL_ROOTS = Set.of("name", "source", "repo_type", "task");

  private static final Pattern FROM_VARIABLE = Pattern.compile("^environment variable (\\w+)\\b");
  private static final Pattern MODEL_KEY = Pattern.compile("^models\\[(\\d+)\\](?:\\.(.*))?$");

  /** A bound on the rounds, should setting an error aside ever not remove it. */
  private static final int MAX_PROBLEMS = 100;

  private final Map<String, String> env;

  ConfigCheck(Map<String, String> env) {
    this.env = env;
  }

  Result check(String yaml, String origin, Path baseDir) {
    ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
    Map<String, Integer> lines;
    JsonNode tree;
    try {
      tree = mapper.readTree(yaml);
      lines = lines(mapper, yaml);
    } catch (JsonProcessingException e) {
      int line = e.getLocation() == null ? 0 : e.getLocation().getLineNr();
      String what = e.getOriginalMessage();
      for (Throwable cause = e; cause != null; cause = cause.getCause()) {
        // SnakeYAML's own error knows the line of the problem, not only where its context began.
        if (cause instanceof MarkedYAMLException marked && marked.getProblemMark() != null) {
          line = marked.getProblemMark().getLine() + 1;
          what = marked.getProblem();
          break;
        }
      }
      return new Result(
          null, List.of(new Problem(line, at(origin, line) + "not valid YAML: " + what)));
    }
    Map<String, String> environment = new HashMap<>(env);
    List<Problem> problems = new ArrayList<>();
    Config config = null;
    while (problems.size() < MAX_PROBLEMS) {
      String text;
      try {
        text = tree == null ? "" : mapper.writeValueAsString(tree);
        config = new ConfigLoader(environment, baseDir).parse(text, origin, baseDir);
        break;
      } catch (ConfigException e) {
        problems.add(problem(e, origin, lines));
        if (!setAside(e, tree, environment)) {
          break;
        }
      } catch (JsonProcessingException e) {
        throw new IllegalStateException("cannot write back a YAML tree just read", e);
      }
    }
    problems.sort(Comparator.comparingInt(Problem::line));
    return new Result(problems.isEmpty() ? config : null, List.copyOf(problems));
  }

  private static Problem problem(ConfigException e, String origin, Map<String, Integer> lines) {
    String message = e.getMessage();
    if (e.key() == null || !message.startsWith(origin + ": ")) {
      return new Problem(0, message);
    }
    if (e.key().isEmpty()) {
      // The document itself: the loader's message has no key to start with.
      return new Problem(
          1, at(origin, 1) + "the top level" + message.substring(origin.length() + 2));
    }
    int line = line(lines, e.key());
    return new Problem(line, at(origin, line) + message.substring(origin.length() + 2));
  }

  private static String at(String origin, int line) {
    return line == 0 ? origin + ": " : origin + ":" + line + ": ";
  }

  /** The line of {@code key}, else of the nearest enclosing key that the file has, else 0. */
  private static int line(Map<String, Integer> lines, String key) {
    for (String k = key; !k.isEmpty(); ) {
      Integer line = lines.get(k);
      if (line != null) {
        return line;
      }
      int cut = Math.max(k.lastIndexOf('.'), k.lastIndexOf('['));
      k = cut < 0 ? "" : k.substring(0, cut);
    }
    return 0;
  }

  /** The line of every key and list item of the file, named as the loader names keys. */
  private static Map<String, Integer> lines(ObjectMapper mapper, String yaml) {
    Map<String, Integer> lines = new HashMap<>();
    try (JsonParser parser = mapper.getFactory().createParser(yaml)) {
      for (JsonToken token = parser.nextToken(); token != null; token = parser.nextToken()) {
        JsonStreamContext context = parser.getParsingContext();
        if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
          context = context.getParent();
        }
        if (context != null && (token == JsonToken.FIELD_NAME || context.inArray())) {
          lines.putIfAbsent(path(context), parser.currentTokenLocation().getLineNr());
        }
      }
    } catch (IOException e) {
      // The same text has just been read into a tree: only a bug gets here.
      throw new UncheckedIOException(e);
    }
    return lines;
  }

  private static String path(JsonStreamContext context) {
    List<String> segments = new ArrayList<>();
    for (JsonStreamContext c = context; c != null; c = c.getParent()) {
      if (c.inArray()) {
        segments.add(0, "[" + c.getCurrentIndex() + "]");
      } else if (c.inObject() && c.getCurrentName() != null) {
        segments.add(0, c.getCurrentName());
      }
    }
    StringBuilder path = new StringBuilder();
    for (String segment : segments) {
      if (path.length() > 0 && !segment.startsWith("[")) {
        path.append('.');
      }
      path.append(segment);
    }
    return path.toString();
  }

  /**
   * Sets aside what {@code e} is about, so that reading again finds the next error; false when
   * nothing can be set aside (reading again would only find the same error).
   */
  private static boolean setAside(ConfigException e, JsonNode tree, Map<String, String> env) {
    Matcher variable = FROM_VARIABLE.matcher(e.getMessage());
    if (variable.find()) {
      return env.remove(variable.group(1)) != null;
    }
    String key = e.key();
    if (key == null || tree == null) {
      return false;
    }
    boolean unknown = e.getMessage().contains(": unknown key '" + key + "'");
    Matcher model = MODEL_KEY.matcher(key);
    if (model.matches() && tree.get("models") instanceof ArrayNode models) {
      int index = Integer.parseInt(model.group(1));
      String rest = model.group(2);
      boolean independent =
          rest != null
              && (unknown || !MODEL_ROOTS.contains(rest.split("[.\\[]", 2)[0]))
              && !rest.startsWith("task_options");
      if (independent && remove(models.get(index), rest)) {
        return true;
      }
      if (index < models.size()) {
        // A placeholder keeps the indices, hence the keys and lines, of the models after it.
        models.set(
            index,
            models
                .objectNode()
                .put("name", "config-check-placeholder-" + index)
                .put("source", "file:."));
        return true;
      }
      return false;
    }
    return remove(tree, key);
  }

  /**
   * Removes {@code key} ({@code batch.max_size}, {@code sha256.model.pt}: map keys may hold dots,
   * so the longest key of the mapping that starts the path wins) from {@code node}.
   */
  private static boolean remove(JsonNode node, String key) {
    if (node instanceof ArrayNode array && key.startsWith("[")) {
      int close = key.indexOf(']');
      int index = Integer.parseInt(key.substring(1, close));
      String rest = key.substring(close + 1);
      if (rest.isEmpty()) {
        return index < array.size() && array.remove(index) != null;
      }
      return remove(array.get(index), rest.startsWith(".") ? rest.substring(1) : rest);
    }
    if (!(node instanceof ObjectNode object)) {
      return false;
    }
    String best = null;
    for (Iterator<String> names = object.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      boolean starts = key.equals(name) || key.startsWith(name + ".") || key.startsWith(name + "[");
      if (starts && (best == null || name.length() > best.length())) {
        best = name;
      }
    }
    if (best == null) {
      return false;
    }
    if (key.equals(best)) {
      object.remove(best);
      return true;
    }
    String rest = key.substring(best.length());
    return remove(object.get(best), rest.startsWith(".") ? rest.substring(1) : rest);
  }
}
