package dev.shoal.cluster;

/** The Kafka topics that make up Shoal's data plane and cluster state. */
public final class Topics {
  /** Source documents, JSON, key = document id. Written by pipelines. */
  public static final String DOCS = "shoal.docs";
  /** Enriched documents (protobuf EnrichedDocument), compacted; partition = shard. */
  public static final String ENRICHED = "shoal.docs.enriched";
  /** Records the enricher could not accept: original bytes plus reason headers. */
  public static final String DLQ = "shoal.docs.dlq";
  /** NodeHeartbeat, key = node id. */
  public static final String HEARTBEATS = "shoal.cluster.heartbeats";
  /** ShardAssignment, compacted, key = "routing". */
  public static final String ASSIGNMENTS = "shoal.cluster.assignments";
  /**
   * Never written: shard managers subscribe to its one partition in one consumer group, and the
   * member the group gives the partition to leads.
   */
  public static final String MANAGER_ELECTION = "shoal.cluster.manager-election";

  /** DLQ headers. */
  public static final String H_REASON = "shoal.dlq.reason";
  public static final String H_SOURCE_TOPIC = "shoal.dlq.source.topic";
  public static final String H_SOURCE_PARTITION = "shoal.dlq.source.partition";
  public static final String H_SOURCE_OFFSET = "shoal.dlq.source.offset";

  private Topics() {
  }
}
