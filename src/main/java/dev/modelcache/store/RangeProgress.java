package dev.modelcache.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code .state} file beside a {@link RangedPart}: {@code size <bytes>}, then one line per
 * range, {@code start end written crc32c durable} (bytes written from its start, the CRC32C of
 * them, and the offset up to which they were fsynced when the line was written). Rewritten whole
 * under a temporary name and renamed; what it says is a claim, checked by the part before it is
 * believed.
 */
final class RangeProgress {
  /** One range's saved progress. */
  record Line(long start, long end, long written, long crc, long durable) {}

  private final Path part;
  private final Path state;

  RangeProgress(Path part) {
    this.part = part;
    this.state = of(part);
  }

  /** Where the saved progress of the part at {@code part} lives. */
  static Path of(Path part) {
    return part.resolveSibling(part.getFileName() + ".state");
  }

  /**
   * The progress saved for a part of {@code size} bytes in these ranges ({@code start end} pairs),
   * one line per range; null when the file is missing, empty, unreadable or for another layout.
   */
  List<Line> read(long size, List<long[]> ranges) {
    List<String> lines;
    try {
      lines = Files.exists(state) ? Files.readAllLines(state) : List.of();
    } catch (IOException e) {
      return null; // unreadable: start over
    }
    if (lines.size() != ranges.size() + 1 || !lines.get(0).equals("size " + size)) {
      return null;
    }
    List<Line> saved = new ArrayList<>();
    for (int i = 0; i < ranges.size(); i++) {
      Line line = parse(lines.get(i + 1), ranges.get(i)[0], ranges.get(i)[1]);
      if (line == null) {
        return null;
      }
      saved.add(line);
    }
    return saved;
  }

  /**
   * {@code start end written crc32c durable}, or null when it does not fit {@code [start, end)}.
   */
  private static Line parse(String text, long start, long end) {
    String[] parts = text.split(" ", 0); // 0: trailing empty fields dropped
    if (parts.length != 5) {
      return null;
    }
    try {
      long written = Long.parseLong(parts[2]);
      long crc = Long.parseLong(parts[3]);
      long durable = Long.parseLong(parts[4]);
      boolean fits =
          Long.parseLong(parts[0]) == start
              && Long.parseLong(parts[1]) == end
              && written >= 0
              && written <= end - start
              && durable >= 0
              && durable <= written;
      return fits ? new Line(start, end, written, crc, durable) : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /**
   * Replaces the state file with {@code lines} (temp file, atomic rename); with {@code sync} it is
   * fsynced too.
   */
  void save(long size, List<Line> lines, boolean sync) throws IOException {
    StringBuilder text = new StringBuilder("size " + size + "\n");
    for (Line line : lines) {
      text.append(line.start())
          .append(' ')
          .append(line.end())
          .append(' ')
          .append(line.written())
          .append(' ')
          .append(line.crc())
          .append(' ')
          .append(line.durable())
          .append('\n');
    }
    Path tempState = state.resolveSibling(state.getFileName() + ".tmp");
    try {
      try (FileChannel out =
          FileChannel.open(
              tempState,
              StandardOpenOption.CREATE,
              StandardOpenOption.TRUNCATE_EXISTING,
              StandardOpenOption.WRITE)) {
        ByteBuffer bytes = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.US_ASCII));
        while (bytes.hasRemaining()) {
          out.write(bytes);
        }
        if (sync) {
          out.force(true);
        }
      }
      Files.move(
          tempState, state, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      Files.deleteIfExists(tempState); // the last complete state file stays
      throw new StoreException("cannot save the progress of " + part + ": " + e.getMessage(), e);
    }
  }

  void delete() throws IOException {
    Files.deleteIfExists(state);
  }
}
