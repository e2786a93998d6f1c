import { defineConfig } from "vitest/config";

// Two projects: `unit` (pure logic, no processes) and `integration` (real
// nats-server, kube-apiserver + etcd + kube-controller-manager, helm, SQLite files,
// started once per run by test/harness/global-setup.ts).
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
          ],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/harness/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxWorkers: 2,
        },
      },
    ],
  },
});
