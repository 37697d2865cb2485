/** Storage settings of one partition log. Kafka's broker keys (log.*) give the defaults; topic configs override them. */
export interface LogConfig {
  /** log.segment.bytes / segment.bytes: roll when the active segment would grow past this. */
  segmentBytes: number;
  /** log.roll.ms / segment.ms: roll when the active segment's first batch is this old. */
  segmentMs: number;
  /** log.index.interval.bytes / index.interval.bytes: bytes of log between two index entries. */
  indexIntervalBytes: number;
  /** log.retention.ms / retention.ms; negative means keep forever. */
  retentionMs: number;
  /** log.retention.bytes / retention.bytes; negative means no size limit. */
  retentionBytes: number;
  /** log.flush.interval.messages / flush.messages: fsync before acknowledging once this many records are unsynced. */
  flushIntervalMessages: number;
  /** log.flush.interval.ms / flush.ms: fsync in the background this long after the first unsynced append. */
  flushIntervalMs: number;
}

/** Kafka's defaults. The flush defaults mean "never fsync on the write path" (see docs/adr/0004). */
export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  flushIntervalMessages: Number.MAX_SAFE_INTEGER,
  flushIntervalMs: Number.MAX_SAFE_INTEGER,
});

/** Fills the gaps of a partial config from `base` and rejects values storage cannot work with. */
export function resolveLogConfig(
  overrides: Partial<LogConfig> = {},
  base: Readonly<LogConfig> = DEFAULT_LOG_CONFIG,
): LogConfig {
  const config: LogConfig = { ...base, ...overrides };
  const positive: (keyof LogConfig)[] = [
    "segmentBytes",
    "segmentMs",
    "indexIntervalBytes",
    "flushIntervalMessages",
    "flushIntervalMs",
  ];
  for (const key of positive) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value < 1)
      throw new RangeError(`log config ${key} must be a positive integer, got ${value}`);
  }
  for (const key of ["retentionMs", "retentionBytes"] as const) {
    if (!Number.isSafeInteger(config[key]))
      throw new RangeError(`log config ${key} must be an integer, got ${config[key]}`);
  }
  // Positions in the offset index are int32, so a segment may not start a batch beyond 2 GiB.
  if (config.segmentBytes > 0x7fffffff) throw new RangeError(`log config segmentBytes must be at most 2^31-1`);
  return config;
}
