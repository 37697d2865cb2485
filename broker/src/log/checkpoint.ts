import { open, readFile, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";

const VERSION = "0";

/**
 * Replaces `path` so that a crash at any point leaves either the old or the new content, never a mix: write a
 * temporary file, fsync it, rename it over, fsync the directory so the rename itself survives power loss.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(content);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // A half-written temporary file (a full disk) would only hold on to the space that ran out.
    await removeIfExists(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes Kafka-style checkpoint text: a version line, a count line, then one line per entry. */
export async function writeCheckpoint(path: string, lines: readonly string[]): Promise<void> {
  await writeFileAtomic(path, [VERSION, String(lines.length), ...lines, ""].join("\n"));
}

/**
 * Reads a checkpoint written by writeCheckpoint. Returns undefined when the file is missing, and also when it is
 * malformed: every checkpoint we keep can be rebuilt or has a safe fallback, so a damaged one must not stop startup.
 */
export async function readCheckpoint(path: string): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const lines = text.split("\n");
  if (lines[0] !== VERSION) return undefined;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || lines.length < count + 2) return undefined;
  return lines.slice(2, 2 + count);
}

export async function removeIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === "ENOENT";
}
