import type { ConfigChange } from "../../metadata/config-changes.ts";
import { ErrorCode } from "../../protocol/index.ts";
import { repeatedKeys } from "../19-create-topics.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

// What AlterConfigs and IncrementalAlterConfigs share on the controller listener: a resource named twice is
// INVALID_REQUEST (the others go ahead), then one command for the rest, answered once its ConfigRecords commit.

export interface AlterResource {
  resourceType: number;
  resourceName: string;
  changes: ConfigChange[];
}

export interface AlterResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

export function alterResources(
  commands: ControllerCommands,
  resources: readonly AlterResource[],
  mode: "replace" | "incremental",
  validateOnly: boolean,
): Promise<AlterResult[]> {
  const key = (r: AlterResource) => `${r.resourceType}:${r.resourceName}`;
  const repeated = repeatedKeys(resources, key);
  const wanted = resources.filter((r) => !repeated.has(key(r)));
  const answer = (results: readonly { errorCode: number; errorMessage: string | null }[]): AlterResult[] => {
    let next = 0;
    return resources.map((r) => {
      const outcome = repeated.has(key(r))
        ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Duplicate resource in request." }
        : (results[next++] ?? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null });
      return { ...outcome, resourceType: r.resourceType, resourceName: r.resourceName };
    });
  };
  return runOrNotController(
    commands,
    (c) => c.alterConfigs(wanted, mode, validateOnly),
    answer,
    () => answer(wanted.map(() => NOT_CONTROLLER_RESULT)),
  );
}
