package dev.modelcache.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The rows of the one benchmark table: each figure beside its reference measured in the same run,
 * the target and whether it is met. Benchmarks add rows; {@link #markdown()} prints them.
 */
public final class BenchTable {
  /**
   * One row.
   *
   * @param area what is measured (fetch, verify, inference, ...)
   * @param measure the figure's name
   * @param modelcache modelcache's figure
   * @param reference the reference figure from the same run, or empty
   * @param target the target, or empty when the row only informs
   * @param met null when there is no target
   */
  public record Row(
      String area,
      String measure,
      String modelcache,
      String reference,
      String target,
      Boolean met) {}

  /** One benchmark: measures, and adds its rows and notes to the table. */
  public interface Bench {
    void measure(BenchTable table) throws Exception;
  }

  /** Runs one benchmark alone and prints its table (the main of each benchmark). */
  public static void printAlone(Bench bench) throws Exception {
    BenchTable table = new BenchTable();
    bench.measure(table);
    System.out.println();
    System.out.print(table.markdown());
  }

  private final List<Row> rows = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private final List<String> sections = new ArrayList<>();

  public synchronized void add(
      String area,
      String measure,
      String modelcache,
      String reference,
      String target,
      Boolean met) {
    rows.add(new Row(area, measure, modelcache, reference, target, met));
  }

  /** A row without a target. */
  public void info(String area, String measure, String modelcache, String reference) {
    add(area, measure, modelcache, reference, "", null);
  }

  /** A line printed under the table (the set-up of one benchmark). */
  public synchronized void note(String format, Object... args) {
    notes.add(String.format(Locale.ROOT, format, args));
  }

  /**
   * A table of its own, printed after the main one and its notes: {@code title} as a heading line,
   * then {@code header} and {@code lines} as markdown rows (the peers of {@link PeersBench}, whose
   * rows are servers, not measures).
   */
  public void section(String title, List<String> header, List<List<String>> lines) {
    section(title, header, lines, List.of());
  }

  /** {@link #section}, with {@code notes} printed right under its table, one item each. */
  public synchronized void section(
      String title, List<String> header, List<List<String>> lines, List<String> notes) {
    StringBuilder out = new StringBuilder();
    out.append("\n").append(title).append("\n\n");
    out.append("| ").append(String.join(" | ", header)).append(" |\n");
    out.append("|").append("---|".repeat(header.size())).append('\n');
    for (List<String> line : lines) {
      out.append("| ").append(String.join(" | ", line)).append(" |\n");
    }
    if (!notes.isEmpty()) {
      out.append('\n');
      notes.forEach(n -> out.append("- ").append(n).append('\n'));
    }
    sections.add(out.toString());
  }

  public synchronized List<Row> rows() {
    return List.copyOf(rows);
  }

  public synchronized String markdown() {
    StringBuilder out = new StringBuilder();
    out.append("| area | measure | modelcache | reference (same run) | target | met |\n");
    out.append("|---|---|---|---|---|---|\n");
    for (Row row : rows) {
      out.append("| ")
          .append(row.area())
          .append(" | ")
          .append(row.measure())
          .append(" | ")
          .append(row.modelcache())
          .append(" | ")
          .append(row.reference())
          .append(" | ")
          .append(row.target())
          .append(" | ")
          .append(row.met() == null ? "" : row.met() ? "yes" : "**no**")
          .append(" |\n");
    }
    if (!notes.isEmpty()) {
      out.append('\n');
      notes.forEach(n -> out.append("- ").append(n).append('\n'));
    }
    sections.forEach(out::append);
    return out.toString();
  }

  /** {@code %.Nf} in the root locale. */
  public static String fmt(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
