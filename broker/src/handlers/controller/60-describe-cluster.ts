// DescribeCluster (key 60), version 1, controller listener (KIP-919).
// Admin clients bootstrapped with --bootstrap-controller learn the controllers and the active one from it: every
// registered controller (ControllerRegistration, observers included, as Kafka lists them) and the voters not
// registered yet. Only the controller endpoint type (2) is served here; a request for brokers gets
// MISMATCHED_ENDPOINT_TYPE. No authorizer, so authorized operations are not reported.
import { ApiKey, DescribeClusterRequest, DescribeClusterResponse, ErrorCode } from "../../protocol/index.ts";
import { defineHandler, OPERATIONS_NOT_REQUESTED, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

const ENDPOINT_TYPE_CONTROLLER = 2;

export function controllerDescribeClusterHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DescribeCluster,
    minVersion: 1,
    maxVersion: 1,
    request: DescribeClusterRequest,
    response: DescribeClusterResponse,
    handle(request) {
      const base = {
        ...DescribeClusterResponse.create(),
        endpointType: ENDPOINT_TYPE_CONTROLLER,
        clusterId: quorum.clusterId,
        clusterAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
      };
      if ((request.endpointType ?? 1) !== ENDPOINT_TYPE_CONTROLLER) {
        return Promise.resolve({
          ...base,
          errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE,
          errorMessage: "This is a controller listener: ask it for controllers (endpoint type 2)",
        });
      }
      return Promise.resolve({
        ...base,
        controllerId: quorum.activeController() ?? -1,
        brokers: quorum.controllers().map((c) => ({ brokerId: c.id, host: c.host, port: c.port, rack: null })),
      });
    },
  });
}
