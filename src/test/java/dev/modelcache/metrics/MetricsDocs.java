package dev.modelcache.metrics;

/** Pieces of docs/metrics.md that tests check. */
public final class MetricsDocs {
  private MetricsDocs() {}

  /** The YAML block under "## Alerts" of docs/metrics.md. */
  public static String alertRules(String doc) {
    String section = doc.substring(doc.indexOf("## Alerts"));
    int start = section.indexOf("```yaml\n") + "```yaml\n".length();
    return section.substring(start, section.indexOf("```", start));
  }
}
