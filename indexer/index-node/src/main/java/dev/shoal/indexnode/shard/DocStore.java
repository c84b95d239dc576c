package dev.shoal.indexnode.shard;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.internal.v1.EnrichedDocument;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB half of a shard. Two column families, so no document id can collide with the
 * store's own records: {@code default} holds each document's enriched record by id; {@code meta}
 * holds the Kafka offset after the last batch, the embedding dimension, each document's version
 * (its source partition and offset, deletes included, so an older version never replaces a newer
 * one) and the dead-letter records of what could not be applied. A batch ({@link Batch}) is
 * written atomically through the write-ahead log; {@link #syncWal()} makes it durable.
 * Thread-safe (RocksDB is); {@link #close()} only after every reader is done.
 */
public final class DocStore implements AutoCloseable {

  private static final byte[] OFFSET = "offset".getBytes(StandardCharsets.UTF_8);
  private static final byte[] DIMENSION = "dimension".getBytes(StandardCharsets.UTF_8);
  private static final byte[] MODEL = "model".getBytes(StandardCharsets.UTF_8);
  private static final String VERSION_PREFIX = "v/";
  private static final String DEAD_LETTER_PREFIX = "dlq/";
  /** Where shoal 0.1 kept the offset: in the document family, under a key a document id could take. */
  private static final byte[] LEGACY_OFFSET = "\u0000meta.offset".getBytes(StandardCharsets.UTF_8);

  static {
    RocksDB.loadLibrary();
  }

  /** A document's version: the source partition and offset it came from on {@code shoal.docs}. */
  public record Version(int partition, long offset) {
    /**
     * Whether {@code this} may replace {@code stored}: not older in the same partition (the same
     * record again is a replay, applied again); across partitions the later write wins (the
     * enricher refuses records outside their id's partition, so only data from before it did).
     */
    public boolean supersedes(Version stored) {
      return stored == null || partition != stored.partition || offset >= stored.offset;
    }
  }

  private final int shard;
  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final RocksDB db;
  private final ColumnFamilyHandle docs;
  private final ColumnFamilyHandle meta;
  private final WriteOptions writeOptions = new WriteOptions();

  public DocStore(int shard, Path dir) throws IOException {
    this.shard = shard;
    Files.createDirectories(dir);
    this.dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
    this.cfOptions = new ColumnFamilyOptions();
    try {
      this.db = RocksDB.open(dbOptions, dir.toString(), List.of(
          new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions),
          new ColumnFamilyDescriptor("meta".getBytes(StandardCharsets.UTF_8), cfOptions)), handles);
    } catch (RocksDBException e) {
      writeOptions.close();
      cfOptions.close();
      dbOptions.close();
      throw new IOException("cannot open RocksDB for shard " + shard + ": " + e.getMessage(), e);
    }
    this.docs = handles.get(0);
    this.meta = handles.get(1);
    migrate();
  }

  private void migrate() throws IOException {
    try {
      byte[] legacy = db.get(docs, LEGACY_OFFSET);
      if (legacy != null) {
        try (WriteBatch b = new WriteBatch()) {
          b.put(meta, OFFSET, legacy);
          b.delete(docs, LEGACY_OFFSET);
          db.write(writeOptions, b);
        }
      }
    } catch (RocksDBException e) {
      throw new IOException("cannot migrate the document store of shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /** One atomic write: upserts, deletes, versions, dead letters and the offset after them. Single-threaded. */
  public final class Batch implements AutoCloseable {
    private final WriteBatch batch = new WriteBatch();

    public void upsert(EnrichedDocument e, Version v) throws IOException {
      byte[] id = e.getDocument().getId().getBytes(StandardCharsets.UTF_8);
      try {
        batch.put(docs, id, e.toByteArray());
        batch.put(meta, versionKey(id), encode(v));
      } catch (RocksDBException ex) {
        throw new IOException(ex);
      }
    }

    public void delete(String id, Version v) throws IOException {
      byte[] key = id.getBytes(StandardCharsets.UTF_8);
      try {
        batch.delete(docs, key);
        batch.put(meta, versionKey(key), encode(v));
      } catch (RocksDBException ex) {
        throw new IOException(ex);
      }
    }

    /** A record that could not be applied, kept with the reason (the record itself stays in Kafka at its offset). */
    public void deadLetter(ShardStore.DeadLetter d) throws IOException {
      try {
        batch.put(meta, (DEAD_LETTER_PREFIX + String.format("%020d", d.offset())).getBytes(StandardCharsets.UTF_8),
            d.reason().getBytes(StandardCharsets.UTF_8));
      } catch (RocksDBException ex) {
        throw new IOException(ex);
      }
    }

    public void dimension(int d) throws IOException {
      try {
        batch.put(meta, DIMENSION, ByteBuffer.allocate(4).putInt(d).array());
      } catch (RocksDBException ex) {
        throw new IOException(ex);
      }
    }

    /** The model that embedded the shard's passages, recorded with the first embedding. */
    public void model(String name) throws IOException {
      try {
        batch.put(meta, MODEL, name.getBytes(StandardCharsets.UTF_8));
      } catch (RocksDBException ex) {
        throw new IOException(ex);
      }
    }

    /** Writes everything with the offset after the last record, atomically. */
    public void commit(long nextOffset) throws IOException {
      try {
        batch.put(meta, OFFSET, ByteBuffer.allocate(8).putLong(nextOffset).array());
        db.write(writeOptions, batch);
      } catch (RocksDBException e) {
        throw new IOException("RocksDB write failed on shard " + shard + ": " + e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      batch.close();
    }
  }

  public Batch batch() {
    return new Batch();
  }

  /** The stored enriched record of a document, or null. */
  public EnrichedDocument load(String id) throws IOException {
    try {
      byte[] bytes = db.get(docs, id.getBytes(StandardCharsets.UTF_8));
      return bytes == null ? null : EnrichedDocument.parseFrom(bytes);
    } catch (RocksDBException | InvalidProtocolBufferException e) {
      throw new IOException("cannot read document '" + id + "' of shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /** The version of the document's last upsert or delete, or null when there was none. */
  public Version version(String id) throws IOException {
    try {
      byte[] v = db.get(meta, versionKey(id.getBytes(StandardCharsets.UTF_8)));
      return v == null ? null : decode(v);
    } catch (RocksDBException e) {
      throw new IOException(e);
    }
  }

  /** The offset recorded with the last batch (0 before the first). */
  public long offset() throws IOException {
    return readLong(OFFSET, 0);
  }

  /** The embedding dimension of the stored documents, or 0 before the first embedding. */
  public int dimension() throws IOException {
    return (int) readLong(DIMENSION, 0);
  }

  /** The model that embedded the stored passages, or "" before the first embedding. */
  public String model() throws IOException {
    try {
      byte[] b = db.get(meta, MODEL);
      return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    } catch (RocksDBException e) {
      throw new IOException(e);
    }
  }

  private long readLong(byte[] key, long none) throws IOException {
    try {
      byte[] b = db.get(meta, key);
      return b == null ? none : b.length == 4 ? ByteBuffer.wrap(b).getInt() : ByteBuffer.wrap(b).getLong();
    } catch (RocksDBException e) {
      throw new IOException(e);
    }
  }

  /** Every dead letter, in offset order. */
  public List<ShardStore.DeadLetter> deadLetters() {
    List<ShardStore.DeadLetter> out = new ArrayList<>();
    byte[] prefix = DEAD_LETTER_PREFIX.getBytes(StandardCharsets.UTF_8);
    try (RocksIterator it = db.newIterator(meta)) {
      for (it.seek(prefix); it.isValid(); it.next()) {
        String k = new String(it.key(), StandardCharsets.UTF_8);
        if (!k.startsWith(DEAD_LETTER_PREFIX)) {
          break;
        }
        out.add(new ShardStore.DeadLetter(Long.parseLong(k.substring(DEAD_LETTER_PREFIX.length())),
            new String(it.value(), StandardCharsets.UTF_8)));
      }
    }
    return out;
  }

  /** Makes every write so far durable: the Lucene commit that records an offset must not outlive it. */
  public void syncWal() throws IOException {
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      throw new IOException("cannot sync RocksDB's WAL on shard " + shard + ": " + e.getMessage(), e);
    }
  }

  private static byte[] versionKey(byte[] id) {
    byte[] prefix = VERSION_PREFIX.getBytes(StandardCharsets.UTF_8);
    byte[] k = new byte[prefix.length + id.length];
    System.arraycopy(prefix, 0, k, 0, prefix.length);
    System.arraycopy(id, 0, k, prefix.length, id.length);
    return k;
  }

  private static byte[] encode(Version v) {
    return ByteBuffer.allocate(12).putInt(v.partition()).putLong(v.offset()).array();
  }

  private static Version decode(byte[] b) {
    ByteBuffer buf = ByteBuffer.wrap(b);
    return new Version(buf.getInt(), buf.getLong());
  }

  @Override
  public void close() {
    handles.forEach(ColumnFamilyHandle::close);
    db.close();
    writeOptions.close();
    cfOptions.close();
    dbOptions.close();
  }
}
