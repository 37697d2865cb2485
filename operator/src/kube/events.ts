// core/v1 Events for notable actions (created objects, pod restarts, refused specs), so `kubectl describe` tells the
// story. Recording is best effort: a failed Event never fails a reconcile.
import type { Logger } from "pino";
import type { KubeClient } from "./client.ts";
import { rfc3339 } from "./conditions.ts";
import { KINDS, type KubeObject } from "./types.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  event(about: KubeObject, type: EventType, reason: string, message: string): Promise<void>;
}

export function eventRecorder(
  client: KubeClient,
  logger: Logger,
  instance: string,
  now = () => new Date(),
): EventRecorder {
  return {
    async event(about, type, reason, message) {
      const at = now();
      try {
        await client.create({
          apiVersion: KINDS.Event.apiVersion,
          kind: KINDS.Event.kind,
          // Unique per process and moment, like the names client-go's recorder makes.
          metadata: {
            name: `${about.metadata.name}.${process.hrtime.bigint().toString(16)}`,
            ...(about.metadata.namespace === undefined ? {} : { namespace: about.metadata.namespace }),
          },
          involvedObject: {
            apiVersion: about.apiVersion,
            kind: about.kind,
            name: about.metadata.name,
            namespace: about.metadata.namespace,
            uid: about.metadata.uid,
          },
          type,
          reason,
          message,
          count: 1,
          firstTimestamp: rfc3339(at),
          lastTimestamp: rfc3339(at),
          source: { component: "tributary-operator" },
          reportingComponent: "tributary.dev/operator",
          reportingInstance: instance,
        });
      } catch (err) {
        logger.warn(
          { err, kind: about.kind, namespace: about.metadata.namespace, name: about.metadata.name, reason },
          "Recording an Event failed",
        );
      }
    },
  };
}
