// The Node/V8 flags and environment the operator runs with, wherever it is started from the
// image: the chart's Deployment args (which replace the image's CMD), images/Dockerfile and the
// node suite's image (devenv/node/images.ts); test/chart/bundle.test.ts and
// test/chart/operator-rbac.test.ts check them. A 1 MiB young generation: the operator allocates
// little per event, and V8's default let it grow to 13–104 MiB resident during a reconcile of
// 1,000 configs, for no measurable CPU saving (docs/adr/0010-operator-footprint.md, decision 4).
import { glibcMallocEnv } from "../lib/malloc-env.ts";

export const operatorNodeFlags: readonly string[] = ["--max-semi-space-size=1"];

export const operatorMallocEnv = glibcMallocEnv;
