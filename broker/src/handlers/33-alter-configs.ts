// AlterConfigs (key 33), versions 0-2.
// Replace semantics: the configs given become the resource's whole override set, and every key left out returns to
// its default (a null value is the same as leaving the key out). TOPIC (2) changes the topic's overrides; BROKER (4),
// named by this node's id or "" (cluster default), changes the dynamic broker defaults of the topic configs' broker
// keys, which every topic without its own override follows. Storage settings change at once on every affected
// partition. validate_only runs every check and changes nothing. Invalid values answer INVALID_CONFIG with the reason;
// BROKER_LOGGER and other types are INVALID_REQUEST. A resource named twice fails with INVALID_REQUEST.
import type { ConfigChange } from "../metadata/config-changes.ts";
import type { AdminResult, AlterOptions } from "../metadata/topic-admin.ts";
import {
  AlterConfigsRequest,
  AlterConfigsResponse,
  ApiKey,
  ErrorCode,
  type AlterConfigsResponseAlterConfigsResourceResponse,
} from "../protocol/index.ts";
import { repeatedKeys } from "./19-create-topics.ts";
import { brokerNameProblem, ResourceType } from "./32-describe-configs.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export interface AlterResource {
  resourceType: number;
  resourceName: string;
  changes: ConfigChange[];
}

async function alterOne(
  services: BrokerServices,
  resource: AlterResource,
  options: AlterOptions,
): Promise<AdminResult> {
  const { resourceType, resourceName, changes } = resource;
  switch (resourceType) {
    case ResourceType.TOPIC:
      return services.admin.alterTopicConfigs(resourceName, changes, options);
    case ResourceType.BROKER: {
      const problem = brokerNameProblem(services, resourceName, true);
      if (problem) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem };
      return services.admin.alterBrokerConfigs(changes, options);
    }
    case ResourceType.BROKER_LOGGER:
      return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "This broker has no adjustable loggers." };
    default:
      return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${resourceType}` };
  }
}

/** Shared by AlterConfigs and IncrementalAlterConfigs: one result per resource, in request order. */
export async function alterResources(
  services: BrokerServices,
  resources: readonly AlterResource[],
  options: AlterOptions,
): Promise<AlterConfigsResponseAlterConfigsResourceResponse[]> {
  const key = (r: AlterResource) => `${r.resourceType}:${r.resourceName}`;
  const repeated = repeatedKeys(resources, key);
  const responses: AlterConfigsResponseAlterConfigsResourceResponse[] = [];
  for (const resource of resources) {
    const { resourceType, resourceName } = resource;
    let result: AdminResult;
    if (repeated.has(key(resource))) {
      result = { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Duplicate resource in request." };
    } else {
      try {
        result = await alterOne(services, resource, options);
      } catch (err) {
        services.logger.error({ err, resourceType, resourceName }, "Altering configs failed");
        result = { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: `could not alter configs: ${String(err)}` };
      }
    }
    responses.push({ ...result, resourceType, resourceName });
  }
  return responses;
}

export function alterConfigsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AlterConfigs,
    minVersion: 0,
    maxVersion: 2,
    request: AlterConfigsRequest,
    response: AlterConfigsResponse,
    async handle(request) {
      const resources = request.resources.map((r) => ({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        changes: r.configs.map((c) => ({ name: c.name, operation: 0, value: c.value })),
      }));
      const responses = await alterResources(services, resources, {
        mode: "replace",
        validateOnly: request.validateOnly,
      });
      return { ...AlterConfigsResponse.create(), throttleTimeMs: 0, responses };
    },
  });
}
