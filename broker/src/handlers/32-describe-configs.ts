// DescribeConfigs (key 32), versions 1-4.
// Answered from the metadata image's configs (topic overrides, this broker's and the cluster-wide dynamic broker
// configs) over this node's static config. TOPIC (2): every topic config with its effective value and source (topic
// override, dynamic broker config, dynamic broker default, static broker config, default); a topic the image does not
// have → UNKNOWN_TOPIC_OR_PARTITION. BROKER (4): resource name = this node's id gives every broker config; ""
// (the cluster default) gives only the dynamic defaults; another id is INVALID_REQUEST.
// BROKER_LOGGER (8): this broker has no adjustable loggers, so its own id answers an empty list. configurationKeys
// filters (null = all); synonyms only when asked (v1+), documentation only when asked (v3+), configType from v3.
// A resource named more than once is answered once, with the union of the keys asked for, so that one request
// cannot ask for the same (with documentation, about 10 KB) answer thousands of times. Clients match results by
// resource, so the answer they need is there.
import type { EffectiveConfig } from "../metadata/topic-rules.ts";
import { topicByName } from "../metadata/image/index.ts";
import { topicNameProblem } from "../metadata/topic-rules.ts";
import {
  ApiKey,
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  ErrorCode,
  type DescribeConfigsRequestDescribeConfigsResource,
  type DescribeConfigsResponseDescribeConfigsResourceResult,
  type DescribeConfigsResponseDescribeConfigsResult,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

const DEFAULT_SOURCE_CODE = 5;

/** Why a BROKER or BROKER_LOGGER resource name does not address this node, or undefined. */
export function brokerNameProblem(services: BrokerServices, name: string, allowDefault: boolean): string | undefined {
  if (name === String(services.config.nodeId) || (allowDefault && name === "")) return undefined;
  return `Unexpected broker id, expected ${services.config.nodeId}${allowDefault ? " or empty string" : ""}, but received ${JSON.stringify(name)}`;
}

interface Options {
  keys: readonly string[] | null;
  synonyms: boolean;
  documentation: boolean;
}

function entry(config: EffectiveConfig, options: Options): DescribeConfigsResponseDescribeConfigsResourceResult {
  return {
    name: config.name,
    value: config.isSensitive ? null : config.value,
    readOnly: config.readOnly,
    isDefault: config.sourceCode === DEFAULT_SOURCE_CODE,
    configSource: config.sourceCode,
    isSensitive: config.isSensitive,
    synonyms: options.synonyms
      ? config.synonyms.map((s) => ({ name: s.name, value: config.isSensitive ? null : s.value, source: s.sourceCode }))
      : [],
    configType: config.configType,
    documentation: options.documentation ? config.documentation : null,
  };
}

function describeOne(
  services: BrokerServices,
  resource: DescribeConfigsRequestDescribeConfigsResource,
  options: Options,
): DescribeConfigsResponseDescribeConfigsResult {
  const { resourceType, resourceName } = resource;
  const answer = (configs: EffectiveConfig[]): DescribeConfigsResponseDescribeConfigsResult => ({
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    resourceType,
    resourceName,
    configs: configs
      .filter((c) => options.keys === null || options.keys.includes(c.name))
      .map((c) => entry(c, options)),
  });
  const fail = (errorCode: number, errorMessage: string): DescribeConfigsResponseDescribeConfigsResult => ({
    errorCode,
    errorMessage,
    resourceType,
    resourceName,
    configs: [],
  });
  const image = services.metadata.image;
  switch (resourceType) {
    case ResourceType.TOPIC: {
      const problem = topicNameProblem(resourceName);
      if (problem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
      if (!topicByName(image, resourceName)) {
        return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${resourceName}' does not exist.`);
      }
      return answer(services.configs.topicConfigs(image, resourceName));
    }
    case ResourceType.BROKER: {
      const problem = brokerNameProblem(services, resourceName, true);
      if (problem) return fail(ErrorCode.INVALID_REQUEST, problem);
      const all = services.configs.brokerConfigs(image);
      // The cluster-default resource holds only what was set dynamically for every broker, at that level.
      if (resourceName === "") {
        const dynamic = services.configs.clusterBrokerOverrides(image);
        return answer(
          all.flatMap((c) => {
            const value = dynamic.get(c.name);
            const level = c.synonyms.find((s) => s.source === "DYNAMIC_DEFAULT_BROKER_CONFIG");
            if (value === undefined || level === undefined) return [];
            return [{ ...c, value, source: level.source, sourceCode: level.sourceCode, synonyms: [level] }];
          }),
        );
      }
      return answer(all);
    }
    case ResourceType.BROKER_LOGGER: {
      const problem = brokerNameProblem(services, resourceName, false);
      if (problem) return fail(ErrorCode.INVALID_REQUEST, problem);
      return answer([]);
    }
    default:
      return fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resourceType}`);
  }
}

/** One resource per type and name, in the order of first mention; keys are merged (null, meaning all, wins). */
function distinctResources(
  resources: readonly DescribeConfigsRequestDescribeConfigsResource[],
): DescribeConfigsRequestDescribeConfigsResource[] {
  const byKey = new Map<
    string,
    { resource: DescribeConfigsRequestDescribeConfigsResource; keys: Set<string> | null }
  >();
  for (const resource of resources) {
    const key = `${resource.resourceType}\u0000${resource.resourceName}`;
    const seen = byKey.get(key);
    const keys = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
    if (!seen) byKey.set(key, { resource, keys });
    else if (seen.keys !== null) {
      if (keys === null) seen.keys = null;
      else for (const k of keys) seen.keys.add(k);
    }
  }
  return [...byKey.values()].map(({ resource, keys }) => ({
    ...resource,
    configurationKeys: keys === null ? null : [...keys],
  }));
}

export function describeConfigsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DescribeConfigs,
    minVersion: 1,
    maxVersion: 4,
    request: DescribeConfigsRequest,
    response: DescribeConfigsResponse,
    handle(request, context) {
      const results = distinctResources(request.resources).map((resource) =>
        describeOne(services, resource, {
          keys: resource.configurationKeys,
          synonyms: request.includeSynonyms ?? false,
          documentation: context.apiVersion >= 3 && (request.includeDocumentation ?? false),
        }),
      );
      return Promise.resolve({ ...DescribeConfigsResponse.create(), throttleTimeMs: 0, results });
    },
  });
}
