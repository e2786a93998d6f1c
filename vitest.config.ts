import { defineConfig } from "vitest/config";

// Projects: `unit` (pure logic, no processes), `integration` (real nats-server,
// kube-apiserver + etcd + kube-controller-manager, helm, SQLite files, started once per run
// by test/harness/global-setup.ts) and `node` (test/node/: Veltrix installed by helm on a
// real node, devenv/node/). VELTRIX_NODE_SUITE picks the node suite's form: "short" (the
// install test), "full" (every file, npm run test:node) or "off".
const nodeSuite = process.env["VELTRIX_NODE_SUITE"] ?? "off";
const nodeFiles = nodeSuite === "full" ? ["test/node/**/*.test.ts"] : ["test/node/install.test.ts"];

export default defineConfig({
  test: {
    reporters: ["default", "./test/harness/totals-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "api/**/*.test.ts",
            "lib/**/*.test.ts",
            "operator/**/*.test.ts",
            "sidecar/**/*.test.ts",
            "devenv/**/*.test.ts",
            "scripts/**/*.test.ts",
            "cli/**/*.test.ts",
          ],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: ["test/node/**"],
          environment: "node",
          globalSetup: ["./test/harness/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxWorkers: 2,
        },
      },
      ...(nodeSuite === "off"
        ? []
        : [
            {
              test: {
                name: "node",
                include: nodeFiles,
                environment: "node",
                globalSetup: ["./test/node/setup.ts"],
                testTimeout: 180_000,
                hookTimeout: 480_000,
                maxWorkers: 1,
              },
            },
          ]),
    ],
  },
});
