package dev.shoal.cli;

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
    new CommandLine(this).usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new Shoal()).execute(args));
  }
}
