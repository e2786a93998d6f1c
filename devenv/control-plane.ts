// A real Kubernetes control plane, envtest style: etcd + kube-apiserver, and
// optionally kube-controller-manager (so Deployments get ReplicaSets and Pods).
// No kubelet or scheduler: pods stay Pending, which is enough for admission tests.
// The API server reaches admission webhooks by URL on loopback over TLS.
// With `network` (devenv/node/), it runs inside a node's network namespace instead, where
// the kubelet and pods reach it, and this process reaches it through a forwarded port.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { freePorts } from "./ports.ts";
import { createCertificateAuthority, issueServingCertificate } from "../operator/certs/issue.ts";
import { ManagedProcess, type ProcessSpec } from "./process.ts";
import { toolPath } from "./tools.ts";

export interface ControlPlane {
  readonly server: string;
  /** The API server as the processes inside the network see it (the same as `server` without one). */
  readonly inside: ControlPlaneInside;
  readonly kubeconfigPath: string;
  /** A bearer token in group system:masters (cluster admin). */
  readonly adminToken: string;
  readonly caFile: string;
  readonly dir: string;
  readonly processes: ManagedProcess[];
  kubeConfig(): KubeConfig;
  stop(): Promise<void>;
}

/** Where the control plane runs when a node needs it: inside the node's network namespace. */
export interface ControlPlaneNetwork {
  /** Address the API server advertises (the `kubernetes` Service's endpoint; pods reach it there). */
  advertiseAddress: string;
  /** Extra IPs for the API server's certificate (e.g. the `kubernetes` Service's ClusterIP). */
  certificateIps: string[];
  /** The spec, run inside the network. */
  inside(spec: ProcessSpec): ProcessSpec;
  /** Makes `port` on the network's loopback reachable here; returns the local port. */
  expose(port: number, name: string): Promise<number>;
}

export interface ControlPlaneOptions {
  dir: string;
  /** Start kube-controller-manager too (default true). */
  controllerManager?: boolean;
  /** Run inside a node's network (devenv/node/); default: this machine's loopback. */
  network?: ControlPlaneNetwork;
  /** More token-file users: `token,user,uid,"group1,group2"` lines (e.g. the kubelet's node identity). */
  extraTokens?: { token: string; user: string; groups: string[] }[];
}

export interface ControlPlaneInside {
  /** The API server URL inside the network (for the node's processes). */
  server: string;
  kubeconfigPath: string;
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
  const tokenLines = [`${adminToken},admin,admin-uid,"system:masters"`];
  for (const t of opts.extraTokens ?? [])
    tokenLines.push(`${t.token},${t.user},${t.user}-uid,"${t.groups.join(",")}"`);
  writeFileSync(tokenFile, tokenLines.join("\n") + "\n", { mode: 0o600 });
  const network = opts.network;
  const launch = (spec: ProcessSpec): ProcessSpec => (network ? network.inside(spec) : spec);

  const [etcdPort, etcdPeerPort, apiPort, kcmPort] = await freePorts(4);
  const etcd = new ManagedProcess(
    launch({
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
    }),
  );
  processes.push(etcd);
  etcd.start();
  // Inside a network, the API server's readiness (below) covers etcd's.
  if (!network) {
    await etcd.waitUntil("healthy", async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok);
  }

  // Inside a network the API server listens on all its addresses with a certificate for the
  // loopback (this process, through the forwarded port), the node's address and the Service.
  let caFile = join(certDir, "apiserver.crt");
  const servingFlags: string[] = [];
  if (network) {
    const ca = await createCertificateAuthority("veltrix-test-ca", 30);
    const serving = await issueServingCertificate(
      ca,
      {
        dnsNames: [
          "localhost",
          "kubernetes",
          "kubernetes.default",
          "kubernetes.default.svc",
          "kubernetes.default.svc.cluster.local",
        ],
        ips: ["127.0.0.1", network.advertiseAddress, ...network.certificateIps],
      },
      30,
    );
    caFile = join(certDir, "ca.crt");
    writeFileSync(caFile, ca.certPem);
    writeFileSync(join(certDir, "serving.crt"), serving.certPem);
    writeFileSync(join(certDir, "serving.key"), serving.keyPem, { mode: 0o600 });
    servingFlags.push(
      `--tls-cert-file=${join(certDir, "serving.crt")}`,
      `--tls-private-key-file=${join(certDir, "serving.key")}`,
    );
  }

  const innerServer = `https://127.0.0.1:${apiPort}`;
  const apiserver = new ManagedProcess(
    launch({
      name: "kube-apiserver",
      command: toolPath("kube-apiserver"),
      args: [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        `--bind-address=${network ? "0.0.0.0" : "127.0.0.1"}`,
        `--advertise-address=${network?.advertiseAddress ?? "127.0.0.1"}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        ...servingFlags,
        `--token-auth-file=${tokenFile}`,
        // The Node authorizer lets the kubelet read what its pods need; InternalIP is the
        // address the API server reaches the kubelet at (logs, exec, port-forward).
        ...(network
          ? ["--authorization-mode=Node,RBAC", "--kubelet-preferred-address-types=InternalIP"]
          : ["--authorization-mode=RBAC"]),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        // No nodes exist: the default endpoint reconciler would keep rewriting the
        // kubernetes Service to a loopback address that no pod could use anyway. With a
        // network, the advertised address is where pods reach the API server.
        ...(network ? [] : ["--endpoint-reconciler-type=none"]),
        "--v=1",
      ],
      logFile: join(dir, "kube-apiserver.log"),
    }),
  );
  processes.push(apiserver);
  apiserver.start();
  const server = network
    ? `https://127.0.0.1:${await network.expose(apiPort, "kube-apiserver")}`
    : innerServer;
  // Without a network the API server writes its self-signed serving cert (with its CA) on start.
  await apiserver.waitUntil(
    "ready",
    async () => (await httpsGet(`${server}/readyz`, adminToken, readFileSync(caFile))).status === 200,
    120_000,
  );

  const kubeconfigPath = join(dir, "kubeconfig");
  writeKubeconfig(kubeconfigPath, server, caFile, adminToken);
  const inside: ControlPlaneInside = { server: innerServer, kubeconfigPath: join(dir, "kubeconfig-inside") };
  writeKubeconfig(inside.kubeconfigPath, innerServer, caFile, adminToken);

  if (opts.controllerManager ?? true) {
    const kcm = new ManagedProcess(
      launch({
        name: "kube-controller-manager",
        command: toolPath("kube-controller-manager"),
        args: [
          `--kubeconfig=${inside.kubeconfigPath}`,
          `--authentication-kubeconfig=${inside.kubeconfigPath}`,
          `--authorization-kubeconfig=${inside.kubeconfigPath}`,
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
      }),
    );
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
    inside,
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
