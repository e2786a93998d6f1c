// Invalid VeltrixConfigs, one or more for every rule of the CRD (docs/crd.md's rules table)
// and for values of the wrong type, each with the message a person should get. The API
// server test (crd.test.ts) and `veltrix validate`'s test run them all.

export interface InvalidCase {
  what: string;
  spec: Record<string, unknown>;
  /** metadata.name (default "bad"). */
  name?: string;
  /** The field the message is about, as the API server names it. */
  field: string;
  /** What the API server says about it (a substring of its message). */
  message: string;
}

const duration = (field: string) => `${field} must be a duration such as 500ms, 30s or 1h30m`;

export const invalidCases: InvalidCase[] = [
  {
    what: "a name that cannot name NATS subjects",
    name: "has.dots",
    spec: {},
    field: "metadata.name",
    message: "metadata.name must be a DNS label",
  },
  {
    what: "unknown mode",
    spec: { queue: { mode: "fast" } },
    field: "spec.queue.mode",
    message: 'Unsupported value: "fast"',
  },
  {
    what: "zero concurrency",
    spec: { queue: { maxConcurrency: 0 } },
    field: "spec.queue.maxConcurrency",
    message: "should be greater than or equal to 1",
  },
  {
    what: "a malformed maxWait",
    spec: { queue: { maxWait: "10 seconds" } },
    field: "spec.queue.maxWait",
    message: duration("queue.maxWait"),
  },
  {
    what: "a zero maxWait",
    spec: { queue: { maxWait: "0s" } },
    field: "spec.queue.maxWait",
    message: "queue.maxWait must be greater than zero",
  },
  {
    what: "a malformed requestTimeout",
    spec: { queue: { requestTimeout: "1 min" } },
    field: "spec.queue.requestTimeout",
    message: duration("queue.requestTimeout"),
  },
  {
    what: "a zero requestTimeout",
    spec: { queue: { requestTimeout: "0ms" } },
    field: "spec.queue.requestTimeout",
    message: "queue.requestTimeout must be greater than zero",
  },
  {
    what: "a malformed retryDelay",
    spec: { queue: { retryDelay: "1 sec" } },
    field: "spec.queue.retryDelay",
    message: duration("queue.retryDelay"),
  },
  {
    what: "a malformed retryAfter",
    spec: { queue: { overflow: { retryAfter: "soon" } } },
    field: "spec.queue.overflow.retryAfter",
    message: duration("queue.overflow.retryAfter"),
  },
  {
    what: "a malformed stream maxAge",
    spec: { queue: { stream: { maxAge: "forever" } } },
    field: "spec.queue.stream.maxAge",
    message: duration("queue.stream.maxAge"),
  },
  {
    what: "stream maxAge below maxWait",
    spec: { queue: { maxWait: "2m", stream: { maxAge: "1m" } } },
    field: "spec.queue.stream.maxAge",
    message: "queue.stream.maxAge must be at least queue.maxWait",
  },
  {
    what: "async on memory storage",
    spec: { queue: { mode: "async", stream: { storage: "memory" } } },
    field: "spec.queue.stream.storage",
    message: "queue.mode async promises durable requests and needs queue.stream.storage file",
  },
  {
    what: "overflow status 500",
    spec: { queue: { overflow: { status: 500 } } },
    field: "spec.queue.overflow.status",
    message: "Unsupported value: 500",
  },
  {
    what: "same proxy and admin port",
    spec: { sidecar: { ports: { proxy: 8080, admin: 8080 } } },
    field: "spec.sidecar.ports.admin",
    message: "sidecar.ports.proxy and sidecar.ports.admin must differ",
  },
  {
    what: "a port given as a string",
    spec: { sidecar: { ports: { proxy: "8080" } } },
    field: "spec.sidecar.ports.proxy",
    message: 'must be of type integer: "string"',
  },
  {
    what: "storage class on emptyDir",
    spec: { store: { volume: { kind: "emptyDir", storageClassName: "fast" } } },
    field: "spec.store.volume.storageClassName",
    message: "store.volume.storageClassName applies only to volume kind ephemeral",
  },
  {
    what: "a malformed retention",
    spec: { store: { retention: "1 day" } },
    field: "spec.store.retention",
    message: duration("store.retention"),
  },
  {
    what: "zero retention",
    spec: { store: { retention: "0s" } },
    field: "spec.store.retention",
    message: "store.retention must be greater than zero",
  },
  {
    what: "override without a match rule",
    spec: { overrides: [{ name: "x", match: {}, config: { a: "b" } }] },
    field: "spec.overrides[0].match",
    message: "an override's match needs pathPrefix or at least one header",
  },
  {
    what: "relative path prefix",
    spec: { overrides: [{ name: "x", match: { pathPrefix: "api" }, config: { a: "b" } }] },
    field: "spec.overrides[0].match.pathPrefix",
    message: "match.pathPrefix must start with '/'",
  },
  {
    what: "uppercase header name",
    spec: { overrides: [{ name: "x", match: { headers: { "X-Beta": "1" } }, config: { a: "b" } }] },
    field: "spec.overrides[0].match.headers",
    message: "match.headers keys must be lowercase HTTP header names",
  },
  {
    what: "a header value that is a number",
    spec: { overrides: [{ name: "x", match: { headers: { "x-beta": 1 } }, config: { a: "b" } }] },
    field: "spec.overrides[0].match.headers.x-beta",
    message: 'must be of type string: "integer"',
  },
  {
    what: "duplicate override names",
    spec: {
      overrides: [
        { name: "x", match: { pathPrefix: "/a" }, config: { a: "b" } },
        { name: "x", match: { pathPrefix: "/b" }, config: { a: "c" } },
      ],
    },
    field: "spec.overrides[1]",
    message: "Duplicate value",
  },
  {
    what: "config key with a space",
    spec: { config: { "a b": "c" } },
    field: "spec.config",
    message: "config keys must be 1-253 characters",
  },
  {
    what: "a config value that is an object",
    spec: { config: { limits: { nested: 1 } } },
    field: "spec.config.limits",
    message: 'must be of type string: "object"',
  },
  {
    what: "a config value that is a number",
    spec: { config: { retries: 3 } },
    field: "spec.config.retries",
    message: 'must be of type string: "integer"',
  },
  {
    what: "an override config value that is a boolean",
    spec: { overrides: [{ name: "x", match: { pathPrefix: "/a" }, config: { beta: true } }] },
    field: "spec.overrides[0].config.beta",
    message: 'must be of type string: "boolean"',
  },
];

/** Rules only an update can break, tested on their own (crd.test.ts). */
export const updateOnlyRules = [
  "queue.stream.storage cannot be changed after creation (JetStream cannot convert a stream's storage; create a new VeltrixConfig instead)",
];
