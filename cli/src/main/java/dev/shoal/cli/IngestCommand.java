package dev.shoal.cli;

import dev.shoal.eval.BeirDataset;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.testkit.ProgressBar;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code shoal ingest PATH}: a BEIR folder or a {@code .jsonl} file of Shoal documents to
 * {@code shoal.docs}. JSON lines are sent as they are (the enricher validates them and
 * dead-letters what is malformed), keyed by their id.
 */
@Command(name = "ingest", mixinStandardHelpOptions = true, description = "Produce documents to shoal.docs.")
final class IngestCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "a BEIR folder or a .jsonl file with one document per line")
  Path path;

  @Option(names = "--kafka", required = true, description = "Kafka bootstrap servers (shoal demo prints them)")
  String bootstrap;

  @Override
  public Integer call() throws Exception {
    try (DocumentProducer producer = new DocumentProducer(bootstrap)) {
      if (Files.isDirectory(path)) {
        BeirDataset data = new BeirDataset(path);
        ProgressBar bar = new ProgressBar(System.out, "ingesting", data.docCount());
        long[] n = {0};
        data.forEachDoc(d -> {
          producer.send(d.document());
          bar.update(++n[0]);
        });
      } else {
        long total;
        try (var lines = Files.lines(path)) {
          total = lines.filter(l -> !l.isBlank()).count();
        }
        ProgressBar bar = new ProgressBar(System.out, "ingesting", total);
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        long n = 0;
        try (BufferedReader r = Files.newBufferedReader(path)) {
          String line;
          while ((line = r.readLine()) != null) {
            if (line.isBlank()) {
              continue;
            }
            String key = null;
            try {
              var id = mapper.readTree(line).get("id");
              key = id == null || id.isNull() ? null : id.asText();
            } catch (Exception notJson) {
              // sent unkeyed; the enricher dead-letters it with the reason
            }
            producer.sendRaw(key, line.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            bar.update(++n);
          }
        }
      }
      producer.flush();
      System.out.printf("%d documents acknowledged by Kafka%n", producer.acknowledged());
      return 0;
    }
  }
}
