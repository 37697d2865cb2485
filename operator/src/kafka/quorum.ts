// Which node leads a cluster's KRaft quorum (the active controller), asked of the controllers themselves: a broker
// only forwards DescribeQuorum to an active controller it already knows, the controller listener answers it. The
// client is the cluster's pooled controllers' client (AdminPool.controllers).
import type { ClusterAdmin } from "./admin-pool.ts";

/** Node id of the active controller, or undefined while the quorum has no leader. Throws when no controller answers. */
export type ActiveControllerLookup = (admin: Pick<ClusterAdmin, "describeQuorum">) => Promise<number | undefined>;

export const activeControllerLookup: ActiveControllerLookup = async (admin) => {
  const { leaderId } = await admin.describeQuorum();
  return leaderId >= 0 ? leaderId : undefined;
};
