// Runs one case against one target and says how the answer differs from what the case
// expects there: the expected answer per target (the app's own, a proxy's, a mode's
// documented difference, async's 202 for what it forwards), then the checks on headers,
// trailers and interim answers.
import type { FidelityCase, Answer } from "./cases.ts";
import { exchange, header, type RawExchange, type RawResponse } from "./raw-http.ts";
import type { Target } from "./targets.ts";

/** The answer a target must give, and whether the request reaches the app through it. */
export function expectedAnswer(c: FidelityCase, target: Target): { answer: Answer; forwarded: boolean } {
  const documented = c.differs?.[target];
  if (documented) return { answer: documented.answer, forwarded: false };
  if (target === "app") return { answer: c.app, forwarded: true };
  if (target === "haproxy") return { answer: c.haproxy ?? c.proxy ?? c.app, forwarded: true };
  const proxy = c.proxy ?? c.app;
  const forwarded = c.proxy === undefined;
  // async answers 202 for whatever it accepts and forwards later.
  if (target === "async" && forwarded) return { answer: "202", forwarded: false };
  return { answer: proxy, forwarded };
}

/** How one exchange reads as answers: a status per response, "closed", or "hang". */
export function answersOf(x: RawExchange): string[] {
  const out = x.responses.map((r) => String(r.status));
  if (x.hung) out.push("hang");
  else if (out.length === 0 && x.closed) out.push("closed");
  return out;
}

export function matches(got: string, expected: Answer): boolean {
  return expected
    .split("|")
    .some((e) => e === got || (/^\dxx$/.test(e) && /^\d{3}$/.test(got) && got[0] === e[0]));
}

const methodOf = /^([A-Z]+) /gm;

export function run(c: FidelityCase, port: number): Promise<RawExchange> {
  const methods = [...c.request.matchAll(methodOf)].map((m) => m[1] ?? "GET");
  return exchange(port, Buffer.from(c.request, "latin1"), {
    responses: c.responses ?? 1,
    methods,
    ...(c.rest ? { rest: c.rest.map((r) => Buffer.from(r, "latin1")) } : {}),
    ...(c.pauseMs !== undefined ? { pauseMs: c.pauseMs } : {}),
  });
}

/** What is wrong with `got` from `target`, compared with the case and the app's own answer. */
export function differences(c: FidelityCase, target: Target, got: RawExchange, app: RawExchange): string[] {
  const { answer, forwarded } = expectedAnswer(c, target);
  const answers = answersOf(got);
  const problems: string[] = [];
  const want = c.responses ?? 1;
  if (answers.length < want && !answers.includes("closed") && !answers.includes("hang")) {
    problems.push(`${answers.length} answers, expected ${want}`);
  }
  for (const a of answers) if (!matches(a, answer)) problems.push(`answered ${a}, expected ${answer}`);
  const last = got.responses.at(-1);
  const appLast = app.responses.at(-1);
  const has = c.has?.[target];
  if (has?.text !== undefined && !last?.body.includes(has.text)) problems.push(`the body lacks ${has.text}`);
  if (has?.header !== undefined && !(last && header(last, has.header) !== undefined)) {
    problems.push(`no ${has.header} header`);
  }
  if (!forwarded && last && last.status >= 400 && isSidecar(target)) problems.push(...ownErrorProblems(last));
  if (!forwarded || !last) return problems;
  for (const name of c.sameAsApp ?? []) {
    const mine = header(last, name) !== undefined;
    const theirs = appLast !== undefined && header(appLast, name) !== undefined;
    if (mine !== theirs)
      problems.push(`${name} ${mine ? "present" : "absent"}, the app's ${theirs ? "present" : "absent"}`);
  }
  for (const name of c.trailers ?? []) {
    if (!last.trailers.some(([n]) => n === name)) problems.push(`trailer ${name} missing`);
  }
  if (c.interim && got.interim.join() !== c.interim.join()) {
    problems.push(`interim answers [${got.interim.join()}], expected [${c.interim.join()}]`);
  }
  return problems;
}

function isSidecar(target: Target): boolean {
  return target === "direct" || target === "sync" || target === "async";
}

/** A sidecar's own error answer carries the documented JSON body and x-veltrix-error. */
function ownErrorProblems(r: RawResponse): string[] {
  const code = header(r, "x-veltrix-error");
  if (code === undefined) return [`${r.status} without x-veltrix-error`];
  try {
    const body = JSON.parse(r.body.toString()) as { code?: string; message?: string };
    return body.code === code && typeof body.message === "string"
      ? []
      : [`${r.status} body is not the JSON error`];
  } catch {
    return [`${r.status} body is not JSON`];
  }
}
