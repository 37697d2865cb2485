import { ExitCode, StartupError } from "../runtime/exit-codes.ts";

// Which failed log dirs a node can start without (Kafka's rules, KIP-858): a log dir whose storage failed at start-up
// (its meta.properties or its logs could not be read, or written) is offline from the start, and the broker serves the
// others. It cannot run without its metadata log dir (Kafka: "Encountered I/O error in metadata log directory"), nor
// as a broker with no log dir left (Kafka halts once every dir has failed); both stop the start with exit code 1.

/** Why a dir failed, for a human: the error's message. */
export function failureReason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Throws the StartupError that stops a node whose failed dirs (`failed`, by path, with the error) include its
 * metadata log dir or, on a broker, every log dir; returns otherwise.
 */
export function checkStartupLogDirs(
  dirs: { readonly logDirs: readonly string[]; readonly metadataLogDir: string; readonly broker: boolean },
  failed: ReadonlyMap<string, unknown>,
): void {
  const what = (dir: string) => `${dir} (${failureReason(failed.get(dir))})`;
  const fix = "repair or replace its storage, then start the node again";
  if (failed.has(dirs.metadataLogDir)) {
    throw new StartupError(
      `the metadata log dir ${what(dirs.metadataLogDir)} failed at start-up; the node cannot run without it: ${fix}`,
      ExitCode.Failure,
    );
  }
  if (dirs.broker && dirs.logDirs.length > 0 && dirs.logDirs.every((d) => failed.has(d))) {
    throw new StartupError(
      `every log dir failed at start-up: ${dirs.logDirs.map(what).join(", ")}; ${fix.replace("its", "their")}`,
      ExitCode.Failure,
    );
  }
}
