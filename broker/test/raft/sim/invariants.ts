// The safety properties of the quorum, checked by the simulation after every event (the list of Kafka's
// RaftEventSimulationTest and the Raft paper): election safety, log matching, leader completeness, state-machine
// safety, no committed entry lost, and monotonic epochs, votes and high watermarks. With snapshots (KIP-630) a node's
// committed knowledge is its snapshot (the fingerprints of the entries below its end) followed by its log.
import type { ElectionState, LogEntry, NodeId } from "../../../src/raft/index.ts";

export function fingerprint(e: LogEntry): string {
  const r = e.record;
  switch (r.kind) {
    case "data":
      return `${e.epoch}:${new TextDecoder().decode(r.data)}`;
    case "leaderChange":
      return `${e.epoch}:leader-change(${r.leaderId})`;
    case "kraftVersion":
      return `${e.epoch}:kraft-version(${r.version})`;
    case "voters":
      return `${e.epoch}:voters(${r.voters.map((v) => v.id).join(",")})`;
  }
}

export class InvariantChecker {
  violation: string | null = null;
  leadersElected = 0;
  /** Fingerprints of the committed log, offset by offset, as any node ever applied it. */
  private readonly committedLog: string[] = [];
  private readonly committedMarkers = new Set<string>();
  private readonly leaders = new Map<number, NodeId>();
  /** For every (offset, epoch) ever appended anywhere: its content and the epoch of the entry before it. */
  private readonly seen = new Map<string, { fp: string; prevEpoch: number }>();
  private readonly applied = new Map<NodeId, number>();
  /** Each committed offset's "offset/epoch" key, to tell whether a given entry committed. */
  private readonly committedKeys = new Set<string>();
  /**
   * The voter set that committed each offset (the committing leader's set in effect, KIP-853), as runs: the entry
   * must stay on a majority of that set. Static voters make it one run.
   */
  private readonly committers: { from: number; voters: readonly NodeId[] }[] = [];

  constructor(private readonly initialVoters: readonly NodeId[]) {}

  get committedLength(): number {
    return this.committedLog.length;
  }

  isCommitted(marker: string): boolean {
    return this.committedMarkers.has(marker);
  }

  /** Whether the entry appended at "offset/epoch" committed. */
  isCommittedAt(key: string): boolean {
    return this.committedKeys.has(key);
  }

  private fail(text: string): void {
    this.violation ??= text;
  }

  /** A node restarted from its durable snapshot (`state`, possibly empty); it applies again from its end. */
  restarted(node: NodeId, state: readonly string[]): void {
    this.snapshotMatches(node, state, "restarted from");
    this.applied.set(node, state.length);
  }

  /** A node installed a snapshot fetched from the leader: it must be the committed log's prefix. */
  installed(node: NodeId, endOffset: number, state: readonly string[]): void {
    if (state.length !== endOffset)
      this.fail(`node ${node} installed a snapshot of ${state.length} entries ending at ${endOffset}`);
    if (endOffset < (this.applied.get(node) ?? 0)) {
      this.fail(`monotonic high watermark: node ${node} installed a snapshot at ${endOffset} below what it applied`);
    }
    this.snapshotMatches(node, state, "installed");
    this.applied.set(node, endOffset);
  }

  /** State-machine safety for snapshots: one holds exactly the committed entries below its end. */
  private snapshotMatches(node: NodeId, state: readonly string[], what: string): void {
    state.forEach((fp, offset) => {
      const known = this.committedLog[offset];
      if (known === undefined) {
        this.fail(`node ${node} ${what} a snapshot holding offset ${offset} (${fp}), never committed`);
      } else if (known !== fp) {
        this.fail(
          `state-machine safety: node ${node} ${what} a snapshot with ${fp} at ${offset}, committed was ${known}`,
        );
      }
    });
  }

  /** Durable election state may only move forward: no lower epoch, no second vote or second leader in an epoch. */
  persisted(node: NodeId, before: ElectionState | null, after: ElectionState): void {
    if (before === null) return;
    if (after.epoch < before.epoch) this.fail(`monotonic epochs: node ${node} went ${before.epoch} → ${after.epoch}`);
    if (after.epoch !== before.epoch) return;
    if (before.votedId !== null && after.votedId !== before.votedId) {
      this.fail(`one vote per epoch: node ${node} changed its vote in epoch ${after.epoch}`);
    }
    if (before.leaderId !== null && after.leaderId !== null && after.leaderId !== before.leaderId) {
      this.fail(`one leader per epoch: node ${node} saw leaders ${before.leaderId} and ${after.leaderId}`);
    }
  }

  /** Election safety and leader completeness. */
  becameLeader(node: NodeId, epoch: number, at: (offset: number) => string | undefined): void {
    this.leadersElected++;
    const other = this.leaders.get(epoch);
    if (other !== undefined && other !== node) {
      this.fail(`election safety: nodes ${other} and ${node} both led epoch ${epoch}`);
    }
    this.leaders.set(epoch, node);
    for (let i = 0; i < this.committedLog.length; i++) {
      if (at(i) !== this.committedLog[i]) {
        this.fail(
          `leader completeness: node ${node} leads epoch ${epoch} without committed entry ${i} (${this.committedLog[i]})`,
        );
        return;
      }
    }
  }

  /** Log matching: an (offset, epoch) has one content everywhere, and the same predecessor epoch. */
  appended(node: NodeId, entries: readonly LogEntry[], epochAt: (offset: number) => number | undefined): void {
    for (const e of entries) {
      const prevEpoch = e.offset === 0 ? 0 : (epochAt(e.offset - 1) ?? -1);
      const fp = fingerprint(e);
      const key = `${e.offset}/${e.epoch}`;
      const known = this.seen.get(key);
      if (known === undefined) this.seen.set(key, { fp, prevEpoch });
      else if (known.fp !== fp || known.prevEpoch !== prevEpoch) {
        this.fail(
          `log matching: node ${node} holds ${fp} after epoch ${prevEpoch} at offset ${e.offset}; ` +
            `another log holds ${known.fp} after epoch ${known.prevEpoch}`,
        );
      }
    }
  }

  /** State-machine safety: every node applies the same entry at every committed offset. */
  committed(
    node: NodeId,
    highWatermark: number,
    read: (from: number, to: number) => readonly LogEntry[],
    /** The reporting node's voter set in effect; the first to report an offset is its leader. */
    voters: readonly NodeId[] = this.initialVoters,
  ): readonly LogEntry[] {
    const from = this.applied.get(node) ?? 0;
    // Equal is a node confirming the snapshot it restarted from; nothing new to apply.
    if (highWatermark === from && from > 0) return [];
    if (highWatermark <= from) {
      this.fail(`monotonic high watermark: node ${node} moved it from ${from} to ${highWatermark}`);
      return [];
    }
    const entries = read(from, highWatermark);
    if (entries.length !== highWatermark - from || entries[0]?.offset !== from) {
      this.fail(`node ${node} committed up to ${highWatermark} but holds only ${from + entries.length}`);
      return [];
    }
    if (!(entries.at(-1)?.lastInBatch ?? false)) {
      this.fail(`atomic batches: node ${node} committed up to ${highWatermark}, inside a batch`);
    }
    entries.forEach((e, i) => {
      const offset = from + i;
      const fp = fingerprint(e);
      const known = this.committedLog[offset];
      if (known === undefined) {
        this.committedLog[offset] = fp;
        this.committedKeys.add(`${offset}/${e.epoch}`);
        const last = this.committers.at(-1);
        if (last?.voters.join() !== voters.join()) this.committers.push({ from: offset, voters });
        if (e.record.kind === "data") this.committedMarkers.add(new TextDecoder().decode(e.record.data));
      } else if (known !== fp) {
        this.fail(`state-machine safety: node ${node} applied ${fp} at ${offset}, another node applied ${known}`);
      }
    });
    this.applied.set(node, highWatermark);
    return entries;
  }

  /**
   * No committed entry lost: a majority of the voters that committed an entry hold it durably (fsynced) at all times.
   * Checked for the last entry committed under each voter set; log matching (checked separately) makes it stand for
   * the prefix before it.
   */
  afterEvent(durableAt: ReadonlyMap<NodeId, (offset: number) => string | undefined>): void {
    const n = this.committedLog.length;
    if (n === 0 || this.violation !== null) return;
    this.committers.forEach((run, i) => {
      const end = (this.committers[i + 1]?.from ?? n) - 1;
      const fp = this.committedLog[end];
      let holders = 0;
      for (const id of run.voters) if (durableAt.get(id)?.(end) === fp) holders++;
      if (holders < Math.floor(run.voters.length / 2) + 1) {
        this.fail(
          `committed entry lost: only ${holders} of voters [${run.voters.join(",")}] hold committed offset ${end} ` +
            `(${fp}) durably`,
        );
      }
    });
  }
}
