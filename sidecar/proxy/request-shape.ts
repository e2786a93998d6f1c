// What the proxy refuses before admission because HTTP/1.1 forbids it or because the app
// could read the request differently from the sidecar (RFC 9112 §3.2, §3.2.2, §6.1), the
// target the app is sent (origin-form), and the normalised path overrides match on (the
// path the app routes on). Pure: no I/O, no clock.

export interface Refusal {
  code: "VX_ERR_BAD_REQUEST";
  detail: string;
}

export interface RequestLine {
  method?: string | undefined;
  /** The request target as received. */
  url?: string | undefined;
  httpVersion: string;
  /** Names and values alternating, as node:http's rawHeaders. */
  rawHeaders: readonly string[];
}

/** The refusal of a malformed request, or the origin-form target to send the app. */
export function shapeOf(req: RequestLine): Refusal | { target: string } {
  if (!req.httpVersion.startsWith("1."))
    return bad(`HTTP/${req.httpVersion} is not spoken here (HTTP/1.0 and 1.1 are)`);
  const hosts = valuesOf(req.rawHeaders, "host");
  if (hosts.length > 1) return bad("more than one Host header");
  const host = hosts[0];
  if (host === undefined && req.httpVersion === "1.1") return bad("no Host header (required in HTTP/1.1)");
  const te = valuesOf(req.rawHeaders, "transfer-encoding");
  if (te.length > 0) {
    const codings = te.flatMap((v) => v.split(",")).map((c) => c.trim().toLowerCase());
    if (codings.length !== 1 || codings[0] !== "chunked") {
      return bad(`Transfer-Encoding '${te.join(", ")}': only chunked is accepted`);
    }
  }
  const url = req.url ?? "/";
  if (url === "*")
    return req.method === "OPTIONS" ? { target: url } : bad("'*' is a target for OPTIONS only");
  if (url.startsWith("/")) return { target: url };
  let absolute: URL;
  try {
    absolute = new URL(url);
  } catch {
    return bad("the request target is neither a path nor an absolute URL");
  }
  if (absolute.protocol !== "http:" && absolute.protocol !== "https:")
    return bad("the target's scheme is not http");
  if (host === undefined || absolute.host.toLowerCase() !== host.trim().toLowerCase()) {
    return bad("the target's authority differs from the Host header");
  }
  return { target: `${absolute.pathname}${absolute.search}` };
}

export function isRefusal(shape: Refusal | { target: string }): shape is Refusal {
  return "code" in shape;
}

function bad(detail: string): Refusal {
  return { code: "VX_ERR_BAD_REQUEST", detail };
}

function valuesOf(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).length === name.length && (raw[i] as string).toLowerCase() === name) {
      out.push(raw[i + 1] as string);
    }
  }
  return out;
}

/**
 * The path as an app's router sees it: without the query, percent-decoded, with `.` and
 * `..` segments resolved and repeated slashes collapsed (what Go's ServeMux, Express and
 * most routers route on). Overrides match on this, so `/a/%61dmin` meets `/a/admin`'s.
 */
export function routedPath(target: string): string {
  const q = target.indexOf("?");
  const raw = q < 0 ? target : target.slice(0, q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    decoded = raw;
  }
  const out: string[] = [];
  for (const segment of decoded.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  const trailing = decoded.length > 1 && decoded.endsWith("/") && out.length > 0 ? "/" : "";
  return `/${out.join("/")}${trailing}`;
}
