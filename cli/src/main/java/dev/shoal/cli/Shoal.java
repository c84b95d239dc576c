package dev.shoal.cli;

import dev.shoal.cli.internal.TracingSetup;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code shoal} command. Wires subcommands; each lives in its own class. */
@Command(name = "shoal", mixinStandardHelpOptions = true, version = "shoal 0.1.0",
    description = "Distributed search with neural ranking.",
    subcommands = {DemoCommand.class, SearchCommand.class, IngestCommand.class, EvalCommand.class,
        BenchCommand.class, NodeCommand.class, ManagerCommand.class, TopicsCommand.class,
        ClusterCommand.class, KafkaCommand.class, RankerCommand.class, EnricherCommand.class, QueryCommand.class,
        KeysCommand.class})
public final class Shoal implements Runnable {

  @Override
  public void run() {
    commandLine().usage(System.out);
  }

  /** The command tree, with every option's default shown in its help. */
  public static CommandLine commandLine() {
    CommandLine cmd = new CommandLine(new Shoal());
    showDefaults(cmd);
    return cmd;
  }

  /**
   * Appends "(default: x)", or "(default: none)", to the help of every optional option whose
   * description does not already state its default (picocli's own showDefaultValues would state
   * it twice for those that do).
   */
  private static void showDefaults(CommandLine cmd) {
    CommandSpec spec = cmd.getCommandSpec();
    for (OptionSpec o : List.copyOf(spec.options())) {
      String text = String.join(" ", o.description());
      if (o.usageHelp() || o.versionHelp() || o.required() || text.toLowerCase(Locale.ROOT).contains("default")) {
        continue;
      }
      String[] description = o.description().length == 0 ? new String[] {""} : o.description().clone();
      int last = description.length - 1;
      description[last] = (description[last] + (o.defaultValue() == null ? " (default: none)"
          : " (default: ${DEFAULT-VALUE})")).strip();
      spec.remove(o);
      spec.addOption(o.toBuilder().description(description).build());
    }
    cmd.getSubcommands().values().forEach(Shoal::showDefaults);
  }

  /**
   * Lucene announces which vector implementation it chose at INFO, through java.util.logging, on
   * stderr; a command prints only its own output. Held here: java.util.logging keeps loggers weakly.
   */
  private static final java.util.logging.Logger LUCENE_VECTORS =
      java.util.logging.Logger.getLogger("org.apache.lucene.internal.vectorization");

  public static void main(String[] args) {
    LUCENE_VECTORS.setLevel(java.util.logging.Level.WARNING);
    TracingSetup.installFromEnvironment(args.length > 0 ? args[0] : "cli");
    System.exit(commandLine().execute(args));
  }
}
