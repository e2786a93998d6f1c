// A real Kubernetes control plane, envtest style: etcd + kube-apiserver, and
// optionally kube-controller-manager (so Deployments get ReplicaSets and Pods).
// No kubelet or scheduler: pods stay Pending, which is enough for admission tests.
// The API server reaches admission webhooks by URL on loopback over TLS.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { freePorts } from "./ports.ts";
import { ManagedProcess } from "./process.ts";
import { toolPath } from "./tools.ts";

export interface ControlPlane {
  readonly server: string;
  readonly kubeconfigPath: string;
  /** A bearer token in group system:masters (cluster admin). */
  readonly adminToken: string;
  readonly caFile: string;
  readonly dir: string;
  readonly processes: ManagedProcess[];
  kubeConfig(): KubeConfig;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  dir: string;
  /** Start kube-controller-manager too (default true). */
  controllerManager?: boolean;
}

function httpsGet(url: string, token: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, ca, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

function writeKubeconfig(path: string, server: string, caFile: string, token: string): void {
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "veltrix-test", cluster: { server, "certificate-authority": caFile } }],
    users: [{ name: "admin", user: { token } }],
    contexts: [{ name: "veltrix-test", context: { cluster: "veltrix-test", user: "admin" } }],
    "current-context": "veltrix-test",
  };
  // JSON is valid YAML; kubectl, helm and client-node all read it.
  writeFileSync(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const dir = join(opts.dir, "control-plane");
  const certDir = join(dir, "certs");
  mkdirSync(certDir, { recursive: true });
  const processes: ManagedProcess[] = [];

  // Service-account token signing key, shared by the API server and the controller manager.
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const saKey = join(certDir, "sa.key");
  const saPub = join(certDir, "sa.pub");
  writeFileSync(saKey, privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));
  const adminToken = randomBytes(24).toString("hex");
  const tokenFile = join(certDir, "tokens.csv");
  writeFileSync(tokenFile, `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });

  const [etcdPort, etcdPeerPort, apiPort, kcmPort] = await freePorts(4);
  const etcd = new ManagedProcess({
    name: "etcd",
    command: toolPath("etcd"),
    args: [
      "--name=veltrix-test",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=veltrix-test=http://127.0.0.1:${etcdPeerPort}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ],
    logFile: join(dir, "etcd.log"),
  });
  processes.push(etcd);
  etcd.start();
  await etcd.waitUntil("healthy", async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok);

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserver = new ManagedProcess({
    name: "kube-apiserver",
    command: toolPath("kube-apiserver"),
    args: [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokenFile}`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      "--allow-privileged=true",
      // No nodes exist: the default endpoint reconciler would keep rewriting the
      // kubernetes Service to a loopback address that no pod could use anyway.
      "--endpoint-reconciler-type=none",
      "--v=1",
    ],
    logFile: join(dir, "kube-apiserver.log"),
  });
  processes.push(apiserver);
  apiserver.start();
  // The API server writes its self-signed serving cert (with its CA) on start.
  const caFile = join(certDir, "apiserver.crt");
  await apiserver.waitUntil(
    "ready",
    async () => (await httpsGet(`${server}/readyz`, adminToken, readFileSync(caFile))).status === 200,
    120_000,
  );

  const kubeconfigPath = join(dir, "kubeconfig");
  writeKubeconfig(kubeconfigPath, server, caFile, adminToken);

  if (opts.controllerManager ?? true) {
    const kcm = new ManagedProcess({
      name: "kube-controller-manager",
      command: toolPath("kube-controller-manager"),
      args: [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${caFile}`,
        "--use-service-account-credentials=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, "kcm-certs")}`,
        "--v=1",
      ],
      logFile: join(dir, "kube-controller-manager.log"),
    });
    processes.push(kcm);
    kcm.start();
    // The service-account controller creating "default" in "default" shows the
    // controllers are running (pods cannot be created before their namespace's SA exists).
    await kcm.waitUntil(
      "running controllers",
      async () =>
        (
          await httpsGet(
            `${server}/api/v1/namespaces/default/serviceaccounts/default`,
            adminToken,
            readFileSync(caFile),
          )
        ).status === 200,
      120_000,
    );
  }

  return {
    server,
    kubeconfigPath,
    adminToken,
    caFile,
    dir,
    processes,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    },
    async stop() {
      for (const p of [...processes].reverse()) await p.stop();
    },
  };
}
