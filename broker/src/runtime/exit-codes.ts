/** Process exit codes, stable so that scripts, tests and the operator can tell failures apart. */
export const ExitCode = {
  Ok: 0,
  /** An unexpected error, or shutdown did not finish in time. */
  Failure: 1,
  /** The configuration or the command line is invalid. */
  Config: 2,
  /** A listener or the metrics port could not be bound (already in use, or not permitted). */
  Bind: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the process with a specific exit code and a message meant for a human. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** Turns a failed listen() into a StartupError that says which port, on which host, for what, and what to do. */
export function bindError(err: unknown, host: string, port: number, what: string, hint: string): StartupError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const where = `port ${port} on ${host || "all interfaces"}`;
  const message =
    code === "EADDRINUSE"
      ? `${where} is already in use (${what}); stop the other process or ${hint}`
      : code === "EACCES"
        ? `${where} may not be bound by this user (${what}); ${hint}`
        : code === "EADDRNOTAVAIL"
          ? `${host} is not an address of this machine (${what}); ${hint}`
          : `cannot listen on ${where} (${what}): ${String(err)}`;
  return new StartupError(message, ExitCode.Bind, { cause: err });
}
