// The fault suite (docs/reliability.md): every scenario runs against real processes
// under load, then the checker holds what clients were told against what the apps ran.
// The short form runs in .ci/run; `npm run test:faults` (VELTRIX_FAULTS=full) runs all.
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../harness/env.ts";
import { breaches, judge, noBreaches, type Verdict } from "./checker.ts";
import { Rig, type Mode } from "./rig.ts";
import { scenarios, type Scenario } from "./scenarios.ts";

const full = process.env["VELTRIX_FAULTS"] === "full";
const rows: string[] = [];

afterAll(() => {
  const head =
    "| scenario | mode | sent | acknowledged | executed | lost | undeclared repeats | declared repeats | indefinite | max in flight / bound | recovery |";
  console.log(
    ["", `fault suite (${full ? "full" : "short"} form)`, head, `|${" --- |".repeat(11)}`, ...rows].join(
      "\n",
    ),
  );
});

function row(s: Scenario, mode: Mode, v: Verdict, rig: Rig): string {
  const recovery = rig.recoveryMs();
  return `| ${s.name} | ${mode} | ${v.sent} | ${v.acknowledged} | ${v.executed} | ${v.lost.length} | ${v.undeclaredDuplicates.length} | ${v.declaredDuplicates} | ${v.indefinite} | ${v.maxInFlight} / ${rig.maxConcurrency} | ${recovery < 0 ? "none" : `${(recovery / 1000).toFixed(1)} s`} |`;
}

const cases = scenarios
  .filter((s) => full || s.short)
  .flatMap((s) => (full ? s.modes : s.modes.slice(0, 1)).map((mode) => [s.name, mode, s] as const));

describe("faults: promises kept under each scenario", () => {
  it.each(cases)("%s (%s)", async (_name, mode, scenario) => {
    const rig = await Rig.start({
      name: scenario.name
        .replace(/[^a-z0-9]+/g, "-")
        .slice(0, 24)
        .replace(/-$/, ""),
      mode,
      ...scenario.rig,
    });
    try {
      const load = rig.load(6, scenario.path ?? "/work");
      await rig.executedAtLeast(12);
      await scenario.inject(rig);
      rig.faultEndedAt = Date.now();
      // Served again after the fault: a dozen acknowledged answers sent after it ended.
      await eventually(
        "acknowledged answers after the fault",
        () =>
          rig.answers.filter((a) => a.at > rig.faultEndedAt && a.status >= 200 && a.status < 300).length >= 12
            ? true
            : undefined,
        60_000,
      );
      await load.stop();
      await rig.drain();
      const verdict = judge(rig.answers, rig.executions(), rig.maxConcurrency, await rig.records());
      rows.push(row(scenario, mode, verdict, rig));
      scenario.control?.(rig);
      expect(breaches(verdict)).toEqual(noBreaches);
    } finally {
      await rig.stop();
    }
  });
});
