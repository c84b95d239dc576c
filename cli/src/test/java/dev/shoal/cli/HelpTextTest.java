package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** {@code --help} of every command lists every option with what it defaults to. */
class HelpTextTest {

  @Test
  void everyOptionOfEveryCommandSaysItsDefault() {
    List<String> silent = new ArrayList<>();
    int checked = 0;
    for (CommandLine cmd : commands(Shoal.commandLine(), new ArrayList<>())) {
      String usage = cmd.getUsageMessage(CommandLine.Help.Ansi.OFF);
      for (OptionSpec o : cmd.getCommandSpec().options()) {
        if (o.usageHelp() || o.versionHelp() || o.hidden()) {
          continue;
        }
        checked++;
        String block = optionBlock(usage, o);
        if (!block.toLowerCase(Locale.ROOT).contains("default") && !o.required()) {
          silent.add(cmd.getCommandSpec().qualifiedName() + " " + o.longestName() + ":\n" + block);
        }
      }
    }
    assertTrue(checked > 100, "only " + checked + " options found");
    assertEquals(List.of(), silent, "options whose help does not say their default");
  }

  @Test
  void noDefaultIsShownAsNull() {
    for (CommandLine cmd : commands(Shoal.commandLine(), new ArrayList<>())) {
      String usage = cmd.getUsageMessage(CommandLine.Help.Ansi.OFF);
      assertTrue(!usage.contains("Default: null") && !usage.contains("default: null"),
          cmd.getCommandSpec().qualifiedName() + ":\n" + usage);
    }
  }

  private static List<CommandLine> commands(CommandLine c, List<CommandLine> out) {
    out.add(c);
    c.getSubcommands().values().forEach(s -> commands(s, out));
    return out;
  }

  /** The lines of the usage message from the option's names up to the next option. */
  private static String optionBlock(String usage, OptionSpec o) {
    String[] lines = usage.split("\n");
    StringBuilder b = new StringBuilder();
    boolean in = false;
    for (String line : lines) {
      String t = line.stripLeading();
      // an option's first line is indented a little; its description's next lines a lot (and may start with "-")
      boolean optionLine = t.startsWith("-") && line.length() - t.length() < 10;
      if (optionLine) {
        in = false;
        for (String n : o.names()) {
          if (t.startsWith(n + ",") || t.startsWith(n + "=") || t.startsWith(n + " ") || t.equals(n)
              || t.contains(", " + n + "=") || t.contains(", " + n + " ") || t.endsWith(", " + n)) {
            in = true;
          }
        }
        if (o.negatable() && t.contains("--[no-]" + o.longestName().replaceFirst("^--(no-)?", ""))) {
          in = true;
        }
      } else if (t.isEmpty() || !line.startsWith(" ")) {
        in = false;
      }
      if (in) {
        b.append(line).append('\n');
      }
    }
    return b.toString();
  }
}
