// AlterPartition (key 56), versions 2-3 (topic ids; v3 carries each ISR member's broker epoch), controller listener.
// A partition leader proposes an ISR change; the active controller validates it as Kafka's ReplicationControlManager
// does and answers each partition with its committed state once the PartitionChangeRecord has committed (see
// controller/replication-commands.ts). Versions 0-1 (topic names) are gone from Kafka 4.0 (KIP-896).
import { AlterPartitionRequest, AlterPartitionResponse, ApiKey, ErrorCode } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function alterPartitionHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AlterPartition,
    minVersion: 2,
    maxVersion: 3,
    request: AlterPartitionRequest,
    response: AlterPartitionResponse,
    handle: (request, context) =>
      runOrNotController(
        commands,
        (c) => c.alterPartition(request, context.apiVersion),
        (response) => response,
        () => ({ ...AlterPartitionResponse.create(), errorCode: ErrorCode.NOT_CONTROLLER }),
      ),
  });
}
