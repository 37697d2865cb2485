import type { LogEntry, NodeId, Voter, VoterSetState } from "./types.ts";

// The voter set and kraft.version over the log (KIP-853; Kafka's KRaftControlRecordStateMachine and
// VoterSetHistory): each VotersRecord or KRaftVersionRecord is in effect from the offset it was appended at, committed
// or not, and goes away with a truncation below it. A snapshot states the values in effect at its end; the bootstrap
// snapshot the storage tool writes (id 0-0) puts them at offset -1, before any entry. With no VotersRecord at all the
// static voters of `controller.quorum.voters` apply, at kraft.version 0.

interface At<T> {
  readonly offset: number;
  readonly value: T;
}

/** A static voter: known by id alone. */
export function staticVoter(id: NodeId): Voter {
  return { id, directoryId: null, endpoints: [], kraftVersion: { min: 0, max: 0 } };
}

export class VoterHistory {
  private voters: At<readonly Voter[]>[] = [];
  private kraft: At<number>[] = [];

  constructor(private readonly staticVoters: readonly Voter[]) {}

  /** The voters in effect at the log end. */
  get current(): readonly Voter[] {
    return this.voters.at(-1)?.value ?? this.staticVoters;
  }

  /** Offset of the VotersRecord in effect: -1 when it is the bootstrap snapshot's, null with the static voters. */
  get currentOffset(): number | null {
    return this.voters.at(-1)?.offset ?? null;
  }

  get kraftVersion(): number {
    return this.kraft.at(-1)?.value ?? 0;
  }

  /** The state in effect at `offset` (for a snapshot ending just after it). */
  at(offset: number): VoterSetState {
    const voters = this.voters.filter((e) => e.offset <= offset).at(-1)?.value ?? null;
    const kraftVersion = this.kraft.filter((e) => e.offset <= offset).at(-1)?.value ?? 0;
    return { kraftVersion, voters };
  }

  /** Whether `id` is a voter in the set in effect at `offset` or in any set appended after it. */
  votesSince(offset: number, id: NodeId): boolean {
    const inEffect = this.voters.filter((e) => e.offset <= offset).at(-1)?.value ?? this.staticVoters;
    if (inEffect.some((v) => v.id === id)) return true;
    return this.voters.some((e) => e.offset > offset && e.value.some((v) => v.id === id));
  }

  /** Replaces the history by a snapshot's state, in effect from its last entry (`endOffset - 1`) on. */
  reset(state: VoterSetState | null, endOffset: number): void {
    this.voters =
      state?.voters === null || state?.voters === undefined ? [] : [{ offset: endOffset - 1, value: state.voters }];
    this.kraft = state === null ? [] : [{ offset: endOffset - 1, value: state.kraftVersion }];
  }

  /** Takes in appended entries; true when the voter set in effect changed. */
  append(entries: readonly LogEntry[]): boolean {
    let changed = false;
    for (const e of entries) {
      if (e.record.kind === "voters") {
        this.voters.push({ offset: e.offset, value: e.record.voters });
        changed = true;
      } else if (e.record.kind === "kraftVersion") {
        this.kraft.push({ offset: e.offset, value: e.record.version });
        changed = true;
      }
    }
    return changed;
  }

  /** Forgets what was appended at or after `endOffset`; true when the voter set in effect changed. */
  truncate(endOffset: number): boolean {
    const before = this.voters.length + this.kraft.length;
    this.voters = this.voters.filter((e) => e.offset < endOffset);
    this.kraft = this.kraft.filter((e) => e.offset < endOffset);
    return this.voters.length + this.kraft.length !== before;
  }

  /** Drops entries a snapshot ending at `startOffset` replaced, keeping the ones in effect there. */
  trim(startOffset: number): void {
    const keep = <T>(list: At<T>[]): At<T>[] => {
      const below = list.filter((e) => e.offset < startOffset);
      const last = below.at(-1);
      return [...(last === undefined ? [] : [last]), ...list.filter((e) => e.offset >= startOffset)];
    };
    this.voters = keep(this.voters);
    this.kraft = keep(this.kraft);
  }
}

export function sameVoters(a: readonly Voter[], b: readonly Voter[]): boolean {
  return a.length === b.length && a.every((v, i) => JSON.stringify(v) === JSON.stringify(b[i]));
}
