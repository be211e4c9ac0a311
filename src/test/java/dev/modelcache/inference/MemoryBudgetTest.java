package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MemoryBudgetTest {
  @Test
  void admitsWhatFitsAndGivesItBackOnce() {
    MemoryBudget budget = new MemoryBudget(100);
    MemoryBudget.Permit a = budget.tryAcquire(60);
    assertThat(a).isNotNull();
    assertThat(budget.tryAcquire(41)).isNull();
    MemoryBudget.Permit b = budget.tryAcquire(40);
    assertThat(b).isNotNull();
    assertThat(budget.used()).isEqualTo(100);
    a.close();
    a.close(); // a second close gives nothing back twice
    assertThat(budget.used()).isEqualTo(40);
    b.close();
    assertThat(budget.used()).isZero();
  }

  @Test
  void resizesWithinWhatIsFree() {
    MemoryBudget budget = new MemoryBudget(100);
    MemoryBudget.Permit chunked = budget.tryAcquire(30);
    MemoryBudget.Permit other = budget.tryAcquire(50);
    assertThat(chunked.resize(51)).isFalse();
    assertThat(budget.used()).isEqualTo(80);
    assertThat(chunked.resize(50)).isTrue();
    assertThat(budget.used()).isEqualTo(100);
    assertThat(chunked.resize(5)).isTrue();
    assertThat(budget.used()).isEqualTo(55);
    chunked.close();
    other.close();
    assertThat(budget.used()).isZero();
  }

  @Test
  void refusesANonPositiveCapacity() {
    assertThatThrownBy(() -> new MemoryBudget(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capacity (0) must be positive");
  }
}
