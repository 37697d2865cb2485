/** Cancels a scheduled task; calling it after the task ran, or twice, does nothing. */
export type Cancel = () => void;

/**
 * Time as the coordinator sees it. Every timeout (session, rebalance, initial delay, pending sync, offset expiry)
 * goes through this, so tests drive time explicitly instead of sleeping.
 */
export interface Scheduler {
  /** Milliseconds since the epoch; used for commit timestamps and state timestamps. */
  now(): number;
  /** Runs `task` once after `delayMs`. */
  schedule(delayMs: number, task: () => void): Cancel;
}

/** The wall clock and Node timers. Timers are unref'd so a forgotten group never keeps the process alive. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(delayMs, task) {
    const timer = setTimeout(task, Math.max(0, delayMs));
    timer.unref();
    return () => clearTimeout(timer);
  },
};
