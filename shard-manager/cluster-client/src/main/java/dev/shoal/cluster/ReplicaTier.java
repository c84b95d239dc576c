package dev.shoal.cluster;

/**
 * What the heartbeats say of one replica, best first: the order query services route in. A shard
 * is routed only to its best tier, so a replica still building gets no queries while another one
 * is LIVE, and a silent node none while another reports.
 */
public enum ReplicaTier {
  /** LIVE in a fresh heartbeat. */
  SERVING,
  /** In a fresh heartbeat, but not LIVE yet (recovering or catching up). */
  BUILDING,
  /** No fresh heartbeat names this replica. */
  SILENT
}
