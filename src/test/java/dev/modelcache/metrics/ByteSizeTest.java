package dev.modelcache.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ByteSizeTest {
  @Test
  void humanPicksTheLargestUnitReached() {
    assertThat(ByteSize.human(0)).isEqualTo("0 B");
    assertThat(ByteSize.human(1023)).isEqualTo("1023 B");
    assertThat(ByteSize.human(1024)).isEqualTo("1.0 KiB");
    assertThat(ByteSize.human(300_000)).isEqualTo("293.0 KiB");
    assertThat(ByteSize.human((1L << 20) - 1)).isEqualTo("1024.0 KiB");
    assertThat(ByteSize.human(1L << 20)).isEqualTo("1.0 MiB");
    assertThat(ByteSize.human(629_145_600)).isEqualTo("600.0 MiB");
    assertThat(ByteSize.human(1L << 30)).isEqualTo("1.00 GiB");
    assertThat(ByteSize.human(5L << 40)).isEqualTo("5120.00 GiB");
  }

  @Test
  void mibStaysInMibWhateverTheSize() {
    assertThat(ByteSize.mib(0)).isEqualTo("0.0 MiB");
    assertThat(ByteSize.mib(300_000)).isEqualTo("0.3 MiB");
    assertThat(ByteSize.mib(629_145_600)).isEqualTo("600.0 MiB");
    assertThat(ByteSize.mib(3L << 30)).isEqualTo("3072.0 MiB");
  }
}
