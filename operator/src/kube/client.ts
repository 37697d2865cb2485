// The operator's only door to the API server. Authentication and kubeconfig loading are in kubeconfig.ts;
// requests are plain HTTPS so that every write carries the one field manager and fieldValidation=Strict, and status
// writes go to the status subresource, without depending on how the generated client spells those options.
import { Agent, request, type RequestOptions } from "node:https";
import { loadConnection, type Connection } from "./kubeconfig.ts";
import type { KubeObject, ResourceType } from "./types.ts";
import { resourceTypeOf } from "./types.ts";

/** Every server-side apply and status patch is made by this manager, so field ownership stays in one place. */
export const FIELD_MANAGER = "tributary-operator";

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.statusCode === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.statusCode === 409;
}

export type Verb = "get" | "list" | "apply" | "patch" | "patch-status" | "create" | "replace" | "delete" | "watch";

/** Called after each request completes; the runtime turns it into metrics, tests into write counts. */
export type RequestObserver = (verb: Verb, kind: string, statusCode: number, seconds: number) => void;

export type JsonPatchOp =
  { op: "test" | "add" | "replace"; path: string; value: unknown } | { op: "remove"; path: string };

export interface ApplyResult<T> {
  object: T;
  created: boolean;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchOptions {
  namespace?: string | undefined;
  resourceVersion: string;
  labelSelector?: string | undefined;
  signal: AbortSignal;
  /** Server-side timeout; the caller re-watches from the last resourceVersion. */
  timeoutSeconds?: number;
}

interface Status {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
}

export class KubeClient {
  readonly #connection: Promise<Connection>;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 16 });
  readonly #observe: RequestObserver | undefined;

  /** `connection` may still be loading: a kubeconfig that cannot be used fails every request with its reason. */
  constructor(connection: Connection | Promise<Connection>, observe?: RequestObserver) {
    this.#connection = Promise.resolve(connection);
    // Awaited by each request; this keeps a failed load from also being reported as an unhandled rejection.
    this.#connection.catch(() => undefined);
    this.#observe = observe;
  }

  /** From the kubeconfig at `path`, else ~/.kube/config, else in-cluster (kubeconfig.ts). */
  static fromKubeconfig(path?: string, observe?: RequestObserver): KubeClient {
    return new KubeClient(loadConnection(path), observe);
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.#json<T>("get", type.kind, "GET", pathOf(type, namespace, name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    options: { namespace?: string | undefined; labelSelector?: string | undefined } = {},
  ): Promise<ListResult<T>> {
    const query = new URLSearchParams();
    if (options.labelSelector !== undefined) query.set("labelSelector", options.labelSelector);
    const list = await this.#json<{ items: T[]; metadata: { resourceVersion: string } }>(
      "list",
      type.kind,
      "GET",
      pathOf(type, options.namespace, undefined, query),
    );
    // Lists omit apiVersion/kind on items; fill them so callers can treat items like any fetched object.
    const items = list.items.map((item) => ({ ...item, apiVersion: type.apiVersion, kind: type.kind }));
    return { items, resourceVersion: list.metadata.resourceVersion };
  }

  /**
   * Server-side apply of a complete desired object. force=true: the operator is the only intended owner of the fields it
   * sets, so a conflicting manual edit is taken back rather than blocking reconciliation forever.
   */
  async apply<T extends KubeObject>(obj: KubeObject): Promise<ApplyResult<T>> {
    const type = resourceTypeOf(obj);
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: "Strict", force: "true" });
    const [code, object] = await this.#request<T>(
      "apply",
      type.kind,
      "PATCH",
      pathOf(type, obj.metadata.namespace, obj.metadata.name, query),
      JSON.stringify(obj),
      "application/apply-patch+yaml",
    );
    // 201 when the apply created the object, 200 otherwise: the only reliable way to tell (for "Created" Events).
    return { object, created: code === 201 };
  }

  /** Merge-patches the status subresource; the spec cannot be touched through this path. */
  async patchStatus<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    status: unknown,
  ): Promise<T> {
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: "Strict" });
    return this.#json<T>(
      "patch-status",
      type.kind,
      "PATCH",
      pathOf(type, namespace, name, query, "status"),
      JSON.stringify({ status }),
      "application/merge-patch+json",
    );
  }

  /**
   * RFC 6902 JSON patch of the main resource (metadata such as finalizers). Callers put a `test` operation first, so a
   * patch computed from a stale read fails (422) instead of overwriting someone else's change.
   */
  async patchJson<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    ops: readonly JsonPatchOp[],
  ): Promise<T> {
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: "Strict" });
    return this.#json<T>(
      "patch",
      type.kind,
      "PATCH",
      pathOf(type, namespace, name, query),
      JSON.stringify(ops),
      "application/json-patch+json",
    );
  }

  async create<T extends KubeObject>(obj: KubeObject): Promise<T> {
    return this.#write<T>("create", obj);
  }

  /** PUT with the object's resourceVersion: fails with 409 if someone else wrote it first (used by leader election). */
  async replace<T extends KubeObject>(obj: KubeObject): Promise<T> {
    return this.#write<T>("replace", obj);
  }

  #write<T>(verb: "create" | "replace", obj: KubeObject): Promise<T> {
    const type = resourceTypeOf(obj);
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: "Strict" });
    const name = verb === "create" ? undefined : obj.metadata.name;
    const method = verb === "create" ? "POST" : "PUT";
    return this.#json<T>(
      verb,
      type.kind,
      method,
      pathOf(type, obj.metadata.namespace, name, query),
      JSON.stringify(obj),
    );
  }

  /**
   * Deletes; false when it was already gone. `uid` makes the delete apply only to that incarnation of the object (false
   * when another one holds the name: the one meant is gone).
   */
  async delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    options: { uid?: string; propagationPolicy?: "Foreground" | "Background" | "Orphan" } = {},
  ): Promise<boolean> {
    const body = {
      kind: "DeleteOptions",
      apiVersion: "v1",
      ...(options.propagationPolicy === undefined ? {} : { propagationPolicy: options.propagationPolicy }),
      ...(options.uid === undefined ? {} : { preconditions: { uid: options.uid } }),
    };
    try {
      await this.#json("delete", type.kind, "DELETE", pathOf(type, namespace, name), JSON.stringify(body));
      return true;
    } catch (err) {
      if (isNotFound(err) || (options.uid !== undefined && isConflict(err))) return false;
      throw err;
    }
  }

  /**
   * Streams watch events from `resourceVersion` until the server closes the stream, the signal aborts, or an error.
   * Resolves normally on a clean close (re-watch from the last seen version); rejects with ApiError 410 when that version
   * is too old (re-list), and with WatchStreamError when a line is not a watch event or `onEvent` throws (re-list: the
   * event that line held is lost).
   */
  async watch<T extends KubeObject>(
    type: ResourceType,
    options: WatchOptions,
    onEvent: (type: WatchEventType, obj: T) => void,
  ): Promise<void> {
    const query = new URLSearchParams({
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: options.resourceVersion,
      timeoutSeconds: String(options.timeoutSeconds ?? 300),
    });
    if (options.labelSelector !== undefined) query.set("labelSelector", options.labelSelector);
    const opts = await this.#options("GET", pathOf(type, options.namespace, undefined, query));
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      if (options.signal.aborted) {
        resolve();
        return;
      }
      const req = request({ ...opts, signal: options.signal }, (res) => {
        const code = res.statusCode ?? 0;
        if (code !== 200) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => reject(apiErrorFrom(code, Buffer.concat(chunks).toString("utf8"))));
          return;
        }
        let buffered = "";
        let failed = false;
        const fail = (err: Error): void => {
          failed = true;
          reject(err);
          res.destroy();
        };
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while (!failed && (nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line === "") continue;
            // This runs in a stream callback: anything thrown here would be an uncaught exception that ends the
            // process, so a bad line or a throwing handler ends this watch instead (the caller re-lists).
            const event = parseWatchLine<T>(line);
            if (event instanceof WatchStreamError) {
              fail(event);
              return;
            }
            if (event.type === "ERROR") {
              const status = event.object as Status;
              fail(apiErrorFrom(status.code ?? 500, JSON.stringify(status)));
              return;
            }
            try {
              onEvent(event.type, event.object);
            } catch (err) {
              fail(new WatchStreamError(`the watch event handler threw: ${String(err)}`, { cause: err }));
              return;
            }
          }
        });
        res.on("end", () => resolve());
        res.on("error", (err) => (options.signal.aborted ? resolve() : reject(err)));
      });
      req.on("error", (err) => (options.signal.aborted ? resolve() : reject(err)));
      req.end();
    }).finally(() => this.#observe?.("watch", type.kind, 200, (performance.now() - started) / 1000));
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.#agent.destroy();
  }

  async #options(method: string, path: string, contentType?: string): Promise<RequestOptions> {
    const connection = await this.#connection;
    const server = connection.server;
    const opts: RequestOptions = {
      method,
      protocol: server.protocol,
      hostname: server.hostname.replace(/^\[|\]$/g, ""),
      port: server.port === "" ? 443 : Number(server.port),
      path: `${server.pathname.replace(/\/$/, "")}${path}`,
      agent: this.#agent,
      headers: { Accept: "application/json", ...(contentType === undefined ? {} : { "Content-Type": contentType }) },
    };
    await connection.apply(opts);
    return opts;
  }

  async #json<T>(verb: Verb, kind: string, method: string, path: string, body?: string, type?: string): Promise<T> {
    return (await this.#request<T>(verb, kind, method, path, body, type))[1];
  }

  async #request<T>(
    verb: Verb,
    kind: string,
    method: string,
    path: string,
    body?: string,
    contentType = "application/json",
  ): Promise<[number, T]> {
    const opts = await this.#options(method, path, body === undefined ? undefined : contentType);
    // Node adds no Content-Length to a DELETE body by itself, and the API server ignores a body without one: the
    // DeleteOptions (uid precondition, propagationPolicy) would be silently dropped.
    if (body !== undefined) opts.headers = { ...opts.headers, "Content-Length": Buffer.byteLength(body) };
    const started = performance.now();
    const [code, text] = await new Promise<[number, string]>((resolve, reject) => {
      const req = request({ ...opts, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve([res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")]));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      req.end(body);
    });
    this.#observe?.(verb, kind, code, (performance.now() - started) / 1000);
    // The path without its query (field manager, validation options) keeps messages in status short.
    if (code < 200 || code >= 300) throw apiErrorFrom(code, text, `${method} ${path.split("?")[0] ?? path}`);
    return [code, JSON.parse(text) as T];
  }
}

function pathOf(
  type: ResourceType,
  namespace: string | undefined,
  name: string | undefined,
  query?: URLSearchParams,
  subresource?: string,
): string {
  const [group, version] = type.apiVersion.includes("/") ? type.apiVersion.split("/") : ["", type.apiVersion];
  let path = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
  if (type.namespaced && namespace !== undefined) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${type.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  const qs = query?.toString() ?? "";
  return qs === "" ? path : `${path}?${qs}`;
}

/** A watch stream that cannot be followed any further (a line that is not a watch event); the caller re-lists. */
export class WatchStreamError extends Error {
  override name = "WatchStreamError";
}

const WATCH_EVENT_TYPES: ReadonlySet<string> = new Set(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

/** One line of a watch stream as an event, or the reason it is not one (with the start of the line for the log). */
export function parseWatchLine<T extends KubeObject>(
  line: string,
): { type: WatchEventType; object: T } | WatchStreamError {
  const excerpt = line.length > 200 ? `${line.slice(0, 200)}...` : line;
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch (err) {
    return new WatchStreamError(`malformed watch event (not JSON): ${excerpt}`, { cause: err });
  }
  const { type, object } = (event ?? {}) as { type?: unknown; object?: unknown };
  if (typeof type !== "string" || !WATCH_EVENT_TYPES.has(type) || typeof object !== "object" || object === null) {
    return new WatchStreamError(`malformed watch event (no known type and object): ${excerpt}`);
  }
  const metadata = (object as { metadata?: unknown }).metadata;
  if (type !== "ERROR" && (typeof metadata !== "object" || metadata === null)) {
    return new WatchStreamError(`malformed watch event (object without metadata): ${excerpt}`);
  }
  return { type: type as WatchEventType, object: object as T };
}

function apiErrorFrom(code: number, text: string, what = "request"): ApiError {
  let status: Status = {};
  try {
    status = JSON.parse(text) as Status;
  } catch {
    // Not a Status object (a proxy error page, say): keep the raw text as the message.
  }
  return new ApiError(code, status.reason ?? "Unknown", `${what}: ${code} ${status.message ?? text.slice(0, 300)}`);
}
