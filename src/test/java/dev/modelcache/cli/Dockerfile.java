package dev.modelcache.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Dockerfile read as the builder reads it: comments dropped, continuation lines joined, one
 * {@link Instruction} per instruction, grouped into stages. Enough to check what the image is made
 * of without a Docker engine.
 */
record Dockerfile(List<Instruction> globalArgs, List<Stage> stages) {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern FLAG = Pattern.compile("--([a-z-]+)=(\\S+)");
  private static final Pattern ENV_PAIR =
      Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\\S*)");

  record Instruction(int line, String keyword, String args) {
    /** The {@code --name=value} flags at the start of the arguments. */
    Map<String, String> flags() {
      Map<String, String> flags = new LinkedHashMap<>();
      for (String word : args.split("\\s+")) {
        Matcher m = FLAG.matcher(word);
        if (!m.matches()) {
          break;
        }
        flags.put(m.group(1), m.group(2));
      }
      return flags;
    }

    /** The arguments after the flags, split on white space (shell form) or as a JSON array. */
    List<String> words() {
      String rest = command();
      if (rest.startsWith("[")) {
        try {
          return List.of(JSON.readValue(rest, String[].class));
        } catch (IOException e) {
          throw new AssertionError("line " + line + ": not a JSON array: " + rest, e);
        }
      }
      return List.of(rest.split("\\s+"));
    }

    /** The arguments without the leading {@code --name=value} flags. */
    String command() {
      String rest = args;
      while (rest.contains(" ") && FLAG.matcher(rest.split("\\s+", 2)[0]).matches()) {
        rest = rest.split("\\s+", 2)[1];
      }
      return rest;
    }

    /** {@code ENV K=V K2=V2} as a map, quotes removed. */
    Map<String, String> envPairs() {
      Map<String, String> pairs = new LinkedHashMap<>();
      Matcher m = ENV_PAIR.matcher(args);
      while (m.find()) {
        pairs.put(m.group(1), m.group(2).replaceAll("^[\"']|[\"']$", ""));
      }
      return pairs;
    }
  }

  record Stage(String from, String name, List<Instruction> instructions) {
    List<Instruction> all(String keyword) {
      return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
    }

    Optional<Instruction> last(String keyword) {
      List<Instruction> all = all(keyword);
      return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    Map<String, String> env() {
      Map<String, String> env = new LinkedHashMap<>();
      all("ENV").forEach(i -> env.putAll(i.envPairs()));
      return env;
    }
  }

  static Dockerfile read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Instruction> global = new ArrayList<>();
    List<Stage> stages = new ArrayList<>();
    StringBuilder pending = null;
    int start = 0;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.startsWith("#") || (line.isEmpty() && pending == null)) {
        continue; // comments may sit between continuation lines, as BuildKit allows
      }
      if (pending == null) {
        pending = new StringBuilder();
        start = i + 1;
      }
      boolean continues = line.endsWith("\\");
      pending.append(continues ? line.substring(0, line.length() - 1) : line).append(' ');
      if (continues) {
        continue;
      }
      String text = pending.toString().strip();
      pending = null;
      String[] parts = text.split("\\s+", 2);
      Instruction instruction =
          new Instruction(
              start, parts[0].toUpperCase(Locale.ROOT), parts.length > 1 ? parts[1] : "");
      if (instruction.keyword().equals("FROM")) {
        List<String> words = instruction.words();
        String name =
            words.size() >= 3 && words.get(1).equalsIgnoreCase("AS") ? words.get(2) : null;
        stages.add(new Stage(words.get(0), name, new ArrayList<>()));
      } else if (stages.isEmpty()) {
        global.add(instruction);
      } else {
        stages.get(stages.size() - 1).instructions().add(instruction);
      }
    }
    if (pending != null) {
      throw new AssertionError(file + ": ends inside a continued line (a trailing '\\')");
    }
    return new Dockerfile(global, stages);
  }

  Stage stage(String name) {
    return stages.stream()
        .filter(s -> name.equals(s.name()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no stage named " + name));
  }

  Stage last() {
    return stages.get(stages.size() - 1);
  }
}
