// AssignReplicasToDirs (key 73), version 0, controller listener (KIP-858).
// A broker with several log dirs says which dir holds each of its replicas; the active controller records it in the
// partitions' Directories, so that a dir the broker later reports offline takes exactly those replicas offline.
import { ApiKey, AssignReplicasToDirsRequest, AssignReplicasToDirsResponse, ErrorCode } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function assignReplicasToDirsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AssignReplicasToDirs,
    minVersion: 0,
    maxVersion: 0,
    request: AssignReplicasToDirsRequest,
    response: AssignReplicasToDirsResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.assignReplicasToDirs(request),
        (response) => response,
        () => ({ ...AssignReplicasToDirsResponse.create(), errorCode: ErrorCode.NOT_CONTROLLER }),
      ),
  });
}
