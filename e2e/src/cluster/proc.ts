// Child-process supervision for the test cluster: every component writes stdout+stderr to its own log file, a
// process that dies early is reported with the tail of its log, and nothing outlives the test runner.
import { spawn, execFile } from "node:child_process";
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** null while running, else the exit code (or the signal name). */
  exitStatus(): string | number | null;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutMs`. Safe to call twice. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const live = new Set<ManagedProcess & { kill(): void }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort if the runner exits without stopping the cluster (a crash or a forgotten stop()).
  process.once("exit", () => {
    for (const p of live) p.kill();
  });
}

export function startProcess(options: StartProcessOptions): ManagedProcess {
  installExitHook();
  const fd = openSync(options.logFile, "a");
  const child = spawn(options.command, options.args, {
    stdio: ["ignore", fd, fd],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  closeSync(fd);
  let status: string | number | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      status = code ?? signal ?? "unknown";
      live.delete(managed);
      resolve();
    });
    child.once("error", (error) => {
      status = `spawn error: ${error.message}`;
      live.delete(managed);
      resolve();
    });
  });
  const managed = {
    name: options.name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    exited,
    exitStatus: () => status,
    kill: () => {
      if (status === null) child.kill("SIGKILL");
    },
    async stop(timeoutMs = 10_000): Promise<void> {
      if (status !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(managed);
  return managed;
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Calls `probe` until it returns a value, the deadline passes, or a watched process dies. */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  watch: readonly ManagedProcess[] = [],
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    for (const p of watch) {
      const status = p.exitStatus();
      if (status !== null) {
        throw new Error(
          `${p.name} exited (${status}) while waiting for ${what}; log ${p.logFile}:\n${logTail(p.logFile)}`,
        );
      }
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its stderr on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      {
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        killSignal: "SIGKILL",
        env: options.env ?? process.env,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr}`, { cause: error }));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** An ephemeral TCP port that was free a moment ago on `host`. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/** PIDs whose command line mentions `needle` (our containerd's socket path), excluding this process. */
export function pidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      // exited
    }
  }
  return pids;
}

/** Whether a process with this PID exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
