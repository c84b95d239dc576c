package dev.shoal.indexnode.shard;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.shoal.api.v1.QuerySyntax;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.apache.lucene.index.MultiReader;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;

/**
 * Coverage-guided fuzzing (Jazzer) of the shard's query parsing: any text, in either syntax,
 * becomes a query that rewrites and runs, or a {@link ParseException} (the shard's
 * INVALID_ARGUMENT); never another exception. The regression corpus lies under
 * {@code src/test/resources/dev/shoal/indexnode/shard/ShardQueriesFuzzTestInputs/}.
 */
class ShardQueriesFuzzTest {

  private static final ShardQueries QUERIES = new ShardQueries(ShardSchema.analyzer());
  private static final IndexSearcher EMPTY = emptySearcher();

  private static IndexSearcher emptySearcher() {
    try {
      return new IndexSearcher(new MultiReader());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @FuzzTest(maxDuration = "2m")
  @DictionaryEntries({"AND", "OR", "NOT", " ", "+", "-", "\"", "(", ")", "[", " TO ", "]", "{", "}", "*", "?", "~",
      "~2", "^", "^0.5", "/", ":", "title:", "text:", "contents:", "year:", "tag:", "_id:", "\\", "&&", "||", "!"})
  void anyLuceneTextIsAQueryThatRunsOrAParseError(byte[] input) throws IOException {
    run(new String(input, StandardCharsets.UTF_8), QuerySyntax.LUCENE);
  }

  @FuzzTest(maxDuration = "2m")
  void anyPlainTextIsAQueryThatRuns(byte[] input) throws IOException {
    run(new String(input, StandardCharsets.UTF_8), QuerySyntax.PLAIN);
  }

  private static void run(String text, QuerySyntax syntax) throws IOException {
    Query q;
    try {
      q = QUERIES.lexical(text, syntax);
      if (syntax == QuerySyntax.LUCENE) {
        QUERIES.constraints(text);
      }
    } catch (ParseException e) {
      return;
    }
    EMPTY.search(q, 10);
  }
}
