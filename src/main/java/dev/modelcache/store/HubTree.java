package dev.modelcache.store;

import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A commit's tree listing in huggingface_hub's on-disk format ({@code <repo>/trees/{commit}.json},
 * its {@code _tree_cache.py}, format version 1): the client reads it to serve a commit-pinned
 * snapshot offline and to tell whether a snapshot lacks files. The text is byte for byte what
 * {@code json.dump(data, f, indent=1)} writes: files sorted by path, {@code lfs_sha256}/{@code
 * lfs_size} only for LFS files, {@code xet_hash} only where the Hub gave one, non-ASCII escaped.
 */
public final class HubTree {
  public static final int FORMAT_VERSION = 1;

  private HubTree() {}

  /**
   * One file of the listing.
   *
   * @param blobId the git blob SHA-1
   * @param lfsSha256 the LFS SHA-256, or null for a plain git file (then {@code lfsSize} is null)
   * @param xetHash the Xet hash, or null
   */
  public record Entry(
      String path,
      long size,
      String blobId,
      @Nullable String lfsSha256,
      @Nullable Long lfsSize,
      @Nullable String xetHash) {}

  /** The JSON text huggingface_hub writes for {@code entries}. */
  public static String json(List<Entry> entries) {
    List<Entry> sorted = entries.stream().sorted(Comparator.comparing(Entry::path)).toList();
    StringBuilder out = new StringBuilder();
    out.append("{\n \"format_version\": ").append(FORMAT_VERSION).append(",\n \"files\": ");
    if (sorted.isEmpty()) {
      out.append("{}");
    } else {
      out.append('{');
      String separator = "\n";
      for (Entry entry : sorted) {
        out.append(separator).append("  ");
        string(out, entry.path());
        out.append(": {\n   \"size\": ").append(entry.size()).append(",\n   \"blob_id\": ");
        string(out, entry.blobId());
        if (entry.lfsSha256() != null) {
          out.append(",\n   \"lfs_sha256\": ");
          string(out, entry.lfsSha256());
          out.append(",\n   \"lfs_size\": ")
              .append(entry.lfsSize() == null ? "null" : entry.lfsSize().toString());
        }
        if (entry.xetHash() != null) {
          out.append(",\n   \"xet_hash\": ");
          string(out, entry.xetHash());
        }
        out.append("\n  }");
        separator = ",\n";
      }
      out.append("\n }");
    }
    return out.append("\n}").toString();
  }

  /** A JSON string as Python's {@code json} module writes it with {@code ensure_ascii=True}. */
  private static void string(StringBuilder out, String value) {
    out.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || c > 0x7e) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
