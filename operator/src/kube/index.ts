// The kube layer's public surface: controllers, the manager and main import from here, never from the client library.
export {
  ApiError,
  FIELD_MANAGER,
  isConflict,
  isNotFound,
  KubeClient,
  WatchStreamError,
  type ApplyResult,
  type RequestObserver,
  type Verb,
} from "./client.ts";
export { findCondition, rfc3339, setCondition, type ConditionInput } from "./conditions.ts";
export { jsonEqual, onlyStatusChanged } from "./equality.ts";
export { abortableDelay, Informer, type InformerHandler } from "./informer.ts";
export { hasFinalizer, addFinalizer, removeFinalizer } from "./finalizers.ts";
export { LeaderElector, type LeaderElectionOptions } from "./leader-election.ts";
export { controllerOf, controllerRef, ownerKey } from "./owner-refs.ts";
export * from "./types.ts";
export { WorkQueue, type WorkQueueOptions } from "./workqueue.ts";
export { eventRecorder, type EventRecorder, type EventType } from "./events.ts";
