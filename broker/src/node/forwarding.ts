import { isIP } from "node:net";
import type { Logger } from "pino";
import type { ControllerForwarder, ForwardedRequest, ForwardOutcome } from "../handlers/services.ts";
import {
  decodeResponse,
  encodeRequest,
  EnvelopeRequest,
  EnvelopeResponse,
  ErrorCode,
  Writer,
} from "../protocol/index.ts";
import type { ControllerChannel } from "./controller-channel.ts";

// KIP-590 forwarding: a broker sends an admin write it got from a client (CreateTopics, DeleteTopics,
// CreatePartitions, AlterConfigs, IncrementalAlterConfigs, ElectLeaders, Alter/ListPartitionReassignments,
// UpdateFeatures) or a DescribeQuorum to the active controller wrapped in an Envelope, with the
// client's own request header and version, its principal and its address, and answers the client with the response
// the controller wrapped back. While no controller is known, or the one asked is no longer active (NOT_CONTROLLER) or
// unreachable, the request is sent again to whichever controller the quorum names next, until the request's
// deadline; then the client gets REQUEST_TIMED_OUT, as Kafka's ForwardingManager answers.

const ENVELOPE_VERSION = 0;

/**
 * Kafka's serialized principal (DefaultPrincipalData v0, the form DefaultKafkaPrincipalBuilder writes): version,
 * type, name, token-authenticated flag. Every Tributary connection is PLAINTEXT and unauthenticated, so the principal
 * is always User:ANONYMOUS.
 */
function anonymousPrincipal(): Buffer {
  const [type, name] = ["User", "ANONYMOUS"];
  const w = Writer.alloc(2 + 1 + type.length + 1 + name.length + 1 + 1);
  w.int16(0);
  w.compactString(type);
  w.compactString(name);
  w.bool(false);
  w.unsignedVarint(0);
  return w.buf;
}

const ANONYMOUS = anonymousPrincipal();

/** The client's address as 4 or 16 bytes, as Envelope carries it (an unparseable host sends none). */
function addressBytes(host: string): Buffer {
  const plain = host.startsWith("::ffff:") && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
  if (isIP(plain) === 4) return Buffer.from(plain.split(".").map(Number));
  if (isIP(plain) !== 6) return Buffer.alloc(0);
  const [head = "", tail = ""] = plain.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = groups(tail);
  const all = plain.includes("::")
    ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right]
    : left;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

export interface ForwardingOptions {
  readonly channel: ControllerChannel;
  readonly logger: Logger;
  /**
   * Resolves once this node's image includes everything it knows to be committed (bounded), so the client that got
   * the controller's answer sees its effect on this broker too.
   */
  readonly caughtUp?: () => Promise<void>;
  readonly clock?: () => number;
}

export class EnvelopeForwarder implements ControllerForwarder {
  private readonly clock: () => number;

  constructor(private readonly options: ForwardingOptions) {
    this.clock = options.clock ?? (() => performance.now());
  }

  async forward<Req, Res>(forwarded: ForwardedRequest<Req, Res>): Promise<ForwardOutcome<Res>> {
    const { request, response, version, body, context, timeoutMs } = forwarded;
    const requestData = encodeRequest(
      { apiKey: request.apiKey, apiVersion: version, correlationId: context.correlationId, clientId: context.clientId },
      request,
      body,
    );
    const envelope = {
      ...EnvelopeRequest.create(),
      requestData,
      requestPrincipal: ANONYMOUS,
      clientHostAddress: addressBytes(context.clientHost),
    };
    const answer = await this.options.channel.sendUntilAnswered(
      EnvelopeRequest,
      EnvelopeResponse,
      ENVELOPE_VERSION,
      envelope,
      {
        deadlineMs: this.clock() + timeoutMs,
        clock: this.clock,
        notController: (a) => a.errorCode === ErrorCode.NOT_CONTROLLER,
        signal: context.signal,
      },
    );
    if (answer === null) {
      this.options.logger.info(
        { apiKey: request.apiKey, timeoutMs },
        "A forwarded request found no active controller in time",
      );
      return { errorCode: ErrorCode.REQUEST_TIMED_OUT };
    }
    if (answer.errorCode !== ErrorCode.NONE || answer.responseData === null) {
      return { errorCode: answer.errorCode === ErrorCode.NONE ? ErrorCode.UNKNOWN_SERVER_ERROR : answer.errorCode };
    }
    const inner = decodeResponse(answer.responseData, request.apiKey, version, response).body;
    await this.options.caughtUp?.();
    return { response: inner };
  }
}
