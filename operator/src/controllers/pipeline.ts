// What every reconciler of the operator shares: running a linear list of named steps over one pass, and the status
// conventions around it (an input a step needs from an earlier one, how a pass builds its conditions, one Warning
// Event per new problem).
import type { Logger } from "pino";
import {
  findCondition,
  setCondition,
  type Condition,
  type ConditionInput,
  type EventRecorder,
  type KubeObject,
} from "../kube/index.ts";

export type Step<P> = (pass: P) => Promise<"next" | "stop">;

/**
 * Runs the steps in order until one stops the pass, fails or the signal aborts. A failure ends the pass and is
 * returned (logged with the step's name), so the caller can still write status before rethrowing it.
 */
export async function runSteps<P>(
  steps: readonly (readonly [string, Step<P>])[],
  pass: P,
  ctx: { logger: Logger; signal: AbortSignal },
): Promise<{ aborted: boolean; failure?: Error }> {
  for (const [name, step] of steps) {
    if (ctx.signal.aborted) return { aborted: true };
    try {
      if ((await step(pass)) === "stop") break;
    } catch (err) {
      const failure = err instanceof Error ? err : new Error("a reconcile step threw a non-Error", { cause: err });
      ctx.logger.warn({ err, step: name }, "Reconcile step failed");
      return { aborted: false, failure };
    }
  }
  return { aborted: false };
}

/** An input an earlier step provides; its absence is a bug in the step order, not a runtime condition. */
export function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("reconcile step ran before the step that provides its input");
  return value;
}

interface WithConditions {
  conditions?: readonly { type: string; status: string; reason: string; message: string }[] | undefined;
}

/** One Warning Event per new problem (Warning turned True, or its reason changed), not one per pass. */
export async function warnOnNewProblem(
  events: EventRecorder,
  about: KubeObject,
  previous: WithConditions,
  next: WithConditions,
): Promise<void> {
  const before = findCondition(previous.conditions, "Warning");
  const now = findCondition(next.conditions, "Warning");
  if (now?.status === "True" && (before?.status !== "True" || before.reason !== now.reason)) {
    await events.event(about, "Warning", now.reason, now.message);
  }
}

/**
 * The conditions one pass builds from the previous ones: set-condition semantics, every condition stamped with the
 * pass's generation, and read out in a fixed order so the same conditions always serialise the same way (an unchanged
 * status is then no write).
 */
export class Conditions {
  #list: Condition[];
  readonly #generation: number;
  readonly #now: Date;

  constructor(previous: readonly Condition[] | undefined, generation: number, now: Date) {
    this.#list = [...(previous ?? [])];
    this.#generation = generation;
    this.#now = now;
  }

  set(c: Omit<ConditionInput, "observedGeneration">): void {
    this.#list = setCondition(this.#list, { ...c, observedGeneration: this.#generation }, this.#now);
  }

  get(type: string): Condition | undefined {
    return findCondition(this.#list, type);
  }

  /** Warning True with the first problem's reason and every problem's message, or False when there are none. */
  warnings(problems: readonly { reason: string; message: string }[]): void {
    const [first] = problems;
    if (first === undefined) this.set({ type: "Warning", status: "False", reason: "NoWarnings", message: "" });
    else
      this.set({
        type: "Warning",
        status: "True",
        reason: first.reason,
        message: problems.map((p) => p.message).join(" "),
      });
  }

  /** The conditions with the types of `order` first, in that order, then the rest by type. */
  ordered(order: readonly string[]): Condition[] {
    const rank = (t: string): number => (order.includes(t) ? order.indexOf(t) : order.length);
    return [...this.#list].sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type));
  }
}
