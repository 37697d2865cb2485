import type { Logger } from "pino";
import type { NewTopic, TopicCreator } from "../handlers/services.ts";
import { CreateTopicsRequest, CreateTopicsResponse, ErrorCode } from "../protocol/index.ts";
import type { ControllerChannel } from "./controller-channel.ts";

// Topics a broker creates on its own behalf (Kafka's AutoTopicCreationManager): a topic a client's Metadata asked for
// under auto.create.topics.enable, and `__consumer_offsets`. A CreateTopics goes to the active controller (sent again
// to the next one while none answers as active), and the answer is given once this node's image has the result.

const VERSION = 7;

export interface TopicCreationOptions {
  readonly channel: ControllerChannel;
  /** How long to keep trying to reach an active controller. */
  readonly timeoutMs: number;
  /** Resolves once this node's image includes everything it knows to be committed (bounded). */
  readonly caughtUp: () => Promise<void>;
  readonly logger: Logger;
  readonly clock?: () => number;
}

export function controllerTopicCreator(options: TopicCreationOptions): TopicCreator {
  const clock = options.clock ?? (() => performance.now());
  return async (topic: NewTopic) => {
    const body = {
      ...CreateTopicsRequest.create(),
      topics: [
        {
          name: topic.name,
          numPartitions: topic.numPartitions,
          replicationFactor: topic.replicationFactor,
          assignments: [],
          configs: [...topic.configs].map(([name, value]) => ({ name, value })),
        },
      ],
      timeoutMs: options.timeoutMs,
      validateOnly: false,
    };
    const answer = await options.channel.sendUntilAnswered(CreateTopicsRequest, CreateTopicsResponse, VERSION, body, {
      deadlineMs: clock() + options.timeoutMs,
      clock,
      notController: (a) => a.topics.some((t) => t.errorCode === ErrorCode.NOT_CONTROLLER),
    });
    if (answer === null)
      return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: "No active controller answered in time." };
    const result = answer.topics.find((t) => t.name === topic.name);
    if (result === undefined)
      return {
        errorCode: ErrorCode.UNKNOWN_SERVER_ERROR,
        errorMessage: "The controller did not answer for the topic.",
      };
    if (result.errorCode === ErrorCode.NONE) {
      options.logger.info({ topic: topic.name }, "Created a topic through the controller");
      await options.caughtUp();
    }
    return { errorCode: result.errorCode, errorMessage: result.errorMessage ?? null };
  };
}
