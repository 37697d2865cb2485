// The safety properties of the quorum, checked by the simulation after every event (the list of Kafka's
// RaftEventSimulationTest and the Raft paper): election safety, log matching, leader completeness, state-machine
// safety, no committed entry lost, and monotonic epochs, votes and high watermarks.
import type { ElectionState, LogEntry, NodeId } from "../../../src/raft/index.ts";

function fingerprint(e: LogEntry): string {
  const r = e.record;
  return `${e.epoch}:${r.kind === "data" ? new TextDecoder().decode(r.data) : `leader-change(${r.leaderId})`}`;
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
  private readonly majority: number;

  constructor(private readonly voters: readonly NodeId[]) {
    this.majority = Math.floor(voters.length / 2) + 1;
  }

  get committedLength(): number {
    return this.committedLog.length;
  }

  isCommitted(marker: string): boolean {
    return this.committedMarkers.has(marker);
  }

  private fail(text: string): void {
    this.violation ??= text;
  }

  restarted(node: NodeId): void {
    this.applied.set(node, 0);
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
  becameLeader(node: NodeId, epoch: number, log: readonly LogEntry[]): void {
    this.leadersElected++;
    const other = this.leaders.get(epoch);
    if (other !== undefined && other !== node) {
      this.fail(`election safety: nodes ${other} and ${node} both led epoch ${epoch}`);
    }
    this.leaders.set(epoch, node);
    for (let i = 0; i < this.committedLog.length; i++) {
      const e = log[i];
      if (e === undefined || fingerprint(e) !== this.committedLog[i]) {
        this.fail(
          `leader completeness: node ${node} leads epoch ${epoch} without committed entry ${i} (${this.committedLog[i]})`,
        );
        return;
      }
    }
  }

  /** Log matching: an (offset, epoch) has one content everywhere, and the same predecessor epoch. */
  appended(node: NodeId, entries: readonly LogEntry[], at: (offset: number) => readonly LogEntry[]): void {
    for (const e of entries) {
      const prevEpoch = e.offset === 0 ? 0 : (at(e.offset - 1)[0]?.epoch ?? -1);
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
  committed(node: NodeId, highWatermark: number, read: (from: number, to: number) => readonly LogEntry[]): void {
    const from = this.applied.get(node) ?? 0;
    if (highWatermark <= from) {
      this.fail(`monotonic high watermark: node ${node} moved it from ${from} to ${highWatermark}`);
      return;
    }
    const entries = read(from, highWatermark);
    if (entries.length !== highWatermark - from) {
      this.fail(`node ${node} committed up to ${highWatermark} but holds only ${from + entries.length}`);
      return;
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
        if (e.record.kind === "data") this.committedMarkers.add(new TextDecoder().decode(e.record.data));
      } else if (known !== fp) {
        this.fail(`state-machine safety: node ${node} applied ${fp} at ${offset}, another node applied ${known}`);
      }
    });
    this.applied.set(node, highWatermark);
  }

  /** No committed entry lost: a majority of voters hold the committed log durably (fsynced) at all times. */
  afterEvent(durableLogs: ReadonlyMap<NodeId, readonly LogEntry[]>): void {
    const n = this.committedLog.length;
    if (n === 0 || this.violation !== null) return;
    const last = this.committedLog[n - 1];
    let holders = 0;
    for (const id of this.voters) {
      const e = durableLogs.get(id)?.[n - 1];
      // Log matching (checked separately) makes the last entry stand for the whole prefix.
      if (e !== undefined && fingerprint(e) === last) holders++;
    }
    if (holders < this.majority) {
      this.fail(`committed entry lost: only ${holders} voters hold committed offset ${n - 1} (${last}) durably`);
    }
  }
}
