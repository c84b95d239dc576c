package dev.shoal.indexnode.shard;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.api.v1.Operation;
import dev.shoal.internal.v1.EnrichedDocument;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB half of a shard: each document's enriched record by id, written through RocksDB's
 * write-ahead log in one batch per {@link #write} together with the Kafka offset after it.
 * Thread-safe (RocksDB is); {@link #close()} only after every reader is done.
 */
public final class DocStore implements AutoCloseable {

  private static final byte[] OFFSET_KEY = "\u0000meta.offset".getBytes(StandardCharsets.UTF_8);

  static {
    RocksDB.loadLibrary();
  }

  private final int shard;
  private final RocksDB db;
  private final WriteOptions writeOptions = new WriteOptions();

  public DocStore(int shard, Path dir) throws IOException {
    this.shard = shard;
    Files.createDirectories(dir);
    try (Options options = new Options().setCreateIfMissing(true)) {
      this.db = RocksDB.open(options, dir.toString());
    } catch (RocksDBException e) {
      writeOptions.close();
      throw new IOException("cannot open RocksDB for shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /** Upserts and deletes in record order, then the offset after the last record, in one atomic batch. */
  public void write(Iterable<Map.Entry<Long, EnrichedDocument>> records, long nextOffset) throws IOException {
    try (WriteBatch batch = new WriteBatch()) {
      for (Map.Entry<Long, EnrichedDocument> r : records) {
        EnrichedDocument e = r.getValue();
        byte[] key = e.getDocument().getId().getBytes(StandardCharsets.UTF_8);
        if (e.getOp() == Operation.DELETE) {
          batch.delete(key);
        } else {
          batch.put(key, e.toByteArray());
        }
      }
      batch.put(OFFSET_KEY, ByteBuffer.allocate(8).putLong(nextOffset).array());
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw new IOException("RocksDB write failed on shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /** The stored enriched record of a document, or null. */
  public EnrichedDocument load(String id) throws IOException {
    try {
      byte[] bytes = db.get(id.getBytes(StandardCharsets.UTF_8));
      return bytes == null ? null : EnrichedDocument.parseFrom(bytes);
    } catch (RocksDBException | InvalidProtocolBufferException e) {
      throw new IOException("cannot read document '" + id + "' of shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /** The offset recorded with the last batch (0 before the first). */
  public long offset() throws IOException {
    try {
      byte[] b = db.get(OFFSET_KEY);
      return b == null ? 0 : ByteBuffer.wrap(b).getLong();
    } catch (RocksDBException e) {
      throw new IOException(e);
    }
  }

  @Override
  public void close() {
    db.close();
    writeOptions.close();
  }
}
