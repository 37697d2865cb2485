import { NotControllerError, type ControllerResult, type QuorumController } from "../../controller/index.ts";
import { ErrorCode } from "../../protocol/index.ts";
import type { ControllerCommands } from "./services.ts";

/**
 * Runs a controller command and resolves with its answer, or with `notController()` when this node is not (or stops
 * being) the active controller, so the handler answers NOT_CONTROLLER and the client looks for the new one.
 */
export async function runOrNotController<T, R>(
  commands: ControllerCommands,
  decide: (controller: QuorumController) => ControllerResult<T>,
  answer: (result: T) => R,
  notController: () => R,
): Promise<R> {
  try {
    return answer(await commands.run(decide));
  } catch (err) {
    if (err instanceof NotControllerError) return notController();
    throw err;
  }
}

/** The per-item answer of a command that reached a node that is not the active controller. */
export const NOT_CONTROLLER_RESULT = {
  errorCode: ErrorCode.NOT_CONTROLLER,
  errorMessage: "This node is not the active controller.",
} as const;
