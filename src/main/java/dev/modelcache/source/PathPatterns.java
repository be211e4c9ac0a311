package dev.modelcache.source;

import java.util.List;
import java.util.regex.Pattern;

/**
 * include/exclude filters with huggingface_hub's allow/ignore semantics: shell-style patterns
 * matched against the whole relative path with {@code fnmatch} rules, where {@code *} also crosses
 * '/', and a pattern ending in '/' matches everything below that folder. No include means
 * everything; exclude wins over include.
 */
final class PathPatterns {
  private final List<Pattern> include;
  private final List<Pattern> exclude;

  public PathPatterns(List<String> include, List<String> exclude) {
    this.include = include.stream().map(PathPatterns::compile).toList();
    this.exclude = exclude.stream().map(PathPatterns::compile).toList();
  }

  public boolean matches(String path) {
    boolean included =
        include.isEmpty() || include.stream().anyMatch(p -> p.matcher(path).matches());
    return included && exclude.stream().noneMatch(p -> p.matcher(path).matches());
  }

  static Pattern compile(String glob) {
    if (glob.endsWith("/")) {
      glob = glob + "*";
    }
    StringBuilder regex = new StringBuilder();
    for (int i = 0; i < glob.length(); i++) {
      char c = glob.charAt(i);
      switch (c) {
        case '*' -> regex.append(".*");
        case '?' -> regex.append('.');
        case '[' -> {
          int end = glob.indexOf(']', i + 2);
          if (end < 0) {
            regex.append("\\[");
          } else {
            String body = glob.substring(i + 1, end);
            regex.append('[');
            if (body.startsWith("!")) {
              regex.append('^');
              body = body.substring(1);
            }
            regex.append(body.replace("\\", "\\\\").replace("[", "\\["));
            regex.append(']');
            i = end;
          }
        }
        default -> regex.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(regex.toString(), Pattern.DOTALL);
  }
}
