package dev.modelcache.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache completion}: prints a bash (and zsh, through bashcompinit) completion script of
 * every command and option.
 *
 * <pre>
 * source &lt;(modelcache completion)                                # this shell
 * modelcache completion &gt; /etc/bash_completion.d/modelcache     # every shell
 * </pre>
 */
@Command(
    name = "completion",
    description =
        "Print a bash completion script for modelcache's commands and options. Load it with"
            + " 'source <(modelcache completion)', or save it to /etc/bash_completion.d/modelcache"
            + " (zsh: run 'autoload -U +X bashcompinit && bashcompinit' first).")
final class CompletionCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    out.print(AutoComplete.bash("modelcache", spec.root().commandLine()));
    out.flush();
    return 0;
  }
}
