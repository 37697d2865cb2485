import { ErrorCode } from "../protocol/errors.ts";

export { ErrorCode };

/**
 * A GroupStore may reject an append with this error to choose the code the client sees (for example NOT_COORDINATOR
 * when the offsets partition moved away); any other rejection is answered with COORDINATOR_NOT_AVAILABLE, which every
 * client treats as retriable.
 */
export class GroupStoreError extends Error {
  constructor(
    message: string,
    readonly errorCode: number,
  ) {
    super(message);
    this.name = "GroupStoreError";
  }
}

export function storeErrorCode(err: unknown): number {
  return err instanceof GroupStoreError ? err.errorCode : ErrorCode.COORDINATOR_NOT_AVAILABLE;
}
