// DescribeCluster (key 60), versions 0-1.
// The brokers are the image's live ones with their endpoint of the listener the request came in on, and the
// controller id a live broker, exactly as Metadata answers them. v1 asks for an endpoint type: brokers (1) are served; controllers
// (2) are MISMATCHED_ENDPOINT_TYPE, because clients must ask a controller listener for those. Without an authorizer
// every cluster operation is allowed, so that is what authorized operations report when asked.
import { ApiKey, DescribeClusterRequest, DescribeClusterResponse, ErrorCode } from "../protocol/index.ts";
import { reportedControllerId } from "../metadata/image/index.ts";
import { brokersOn } from "./03-metadata.ts";
import { defineHandler, OPERATIONS_NOT_REQUESTED, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

const ENDPOINT_TYPE_BROKER = 1;

/** ACL operations that apply to the cluster resource: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
 * ALTER_CONFIGS, IDEMPOTENT_WRITE. */
const CLUSTER_OPERATIONS = [5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0);

export function describeClusterHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DescribeCluster,
    minVersion: 0,
    maxVersion: 1,
    request: DescribeClusterRequest,
    response: DescribeClusterResponse,
    handle(request, context) {
      const base = {
        ...DescribeClusterResponse.create(),
        throttleTimeMs: 0,
        endpointType: ENDPOINT_TYPE_BROKER,
        clusterId: services.clusterId,
        controllerId: reportedControllerId(services.metadata.image, services.metadata.nodeId),
        clusterAuthorizedOperations: request.includeClusterAuthorizedOperations
          ? CLUSTER_OPERATIONS
          : OPERATIONS_NOT_REQUESTED,
      };
      if (context.apiVersion >= 1 && (request.endpointType ?? ENDPOINT_TYPE_BROKER) !== ENDPOINT_TYPE_BROKER) {
        return Promise.resolve({
          ...base,
          errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE,
          errorMessage:
            "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER",
          brokers: [],
        });
      }
      return Promise.resolve({
        ...base,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        brokers: brokersOn(services.metadata.image, context.listenerName).map((b) => ({
          brokerId: b.nodeId,
          host: b.host,
          port: b.port,
          rack: b.rack ?? null,
        })),
      });
    },
  });
}
