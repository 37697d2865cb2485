// Child process of crash.test.ts: appends crashBatch(start), crashBatch(start + 1), ... to the log in argv[2] until it
// is killed, printing "ACK <i> <baseOffset> <lastOffset>" once each append has resolved, and "DEL <offset>" once a
// deleteRecordsBefore has. Whatever it printed, the log must still hold after kill -9.
import { PartitionLog } from "../../src/log/index.ts";
import { CRASH_LOG_CONFIG, crashBatch, silentLogger } from "./batches.ts";

const [dir, startArg, epochArg, flushArg] = process.argv.slice(2);
if (dir === undefined || startArg === undefined || epochArg === undefined)
  throw new Error("usage: dir start epoch [flushMessages]");
const log = await PartitionLog.open({
  dir,
  config: { ...CRASH_LOG_CONFIG, ...(flushArg !== undefined ? { flushIntervalMessages: Number(flushArg) } : {}) },
  logger: silentLogger,
});
const epoch = Number(epochArg);
for (let i = Number(startArg); ; i++) {
  const { baseOffset, lastOffset } = await log.append(crashBatch(i), { leaderEpoch: epoch });
  // A single replica: what the log made durable is committed.
  log.updateHighWatermark(log.durableEnd);
  process.stdout.write(`ACK ${i} ${baseOffset} ${lastOffset}\n`);
  if (i % 25 === 24 && baseOffset > 200n) {
    const start = await log.deleteRecordsBefore(baseOffset - 200n);
    process.stdout.write(`DEL ${start}\n`);
  }
}
