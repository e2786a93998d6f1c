// Typed edits of a pod for injection: find the app container and its port, list
// every name the injection would collide with, and add the sidecar, volumes,
// mounts, env and preStop. The edits add, except the one rename of the port scheme
// (the app's port and the probes that name it); a collision is refused earlier.
import { configMapName, natsCredentialsSecretName, sidecarProbePaths } from "../../api/contract.ts";
import type { AnnotationValues } from "./annotations.ts";
import type { InjectionConfig, InjectionOptions, ResourceRequirements } from "./config-input.ts";
import {
  adminPortName,
  appEnv,
  metricsPortName,
  appPortName,
  bootConfigMountPath,
  bootConfigVolumeName,
  natsCredentialsFile,
  natsCredentialsMountPath,
  natsCredentialsVolumeName,
  natsTlsMountPath,
  natsTlsVolumeName,
  proxyPortFallbackName,
  renderedConfigFile,
  renderedConfigVolumeName,
  sidecarConfigMountPath,
  sidecarContainerName,
  sidecarDefaults,
  sidecarEnv,
  stateMountPath,
  stateVolumeName,
} from "../../api/injected-pod.ts";
import type { Container, EnvVar, Pod, Volume } from "./pod.ts";

const serviceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Mesh proxies are not app containers: they get no config mount, env or preStop. */
export const meshProxies: ReadonlySet<string> = new Set(["istio-proxy", "linkerd-proxy"]);

export interface AppTarget {
  containerName: string;
  /** The port the sidecar forwards to on 127.0.0.1. */
  port: number;
  /** Index of that port in the app container's ports, when declared. */
  portIndex: number | undefined;
  /** Its name, which the sidecar takes over (see docs/webhook.md). */
  portName: string | undefined;
  /** Containers that get the rendered config mount and env. */
  appContainers: string[];
}

export type Settings = AnnotationValues & {
  proxyPort: number;
  adminPort: number;
  /** 0: no metrics listener. */
  metricsPort: number;
  storeSize: string;
  configMountPath: string;
};

/** Fills the keys that always have a built-in default (the table's defaults parse). */
export function completeSettings(v: AnnotationValues): Settings {
  return {
    ...v,
    proxyPort: v.proxyPort ?? sidecarDefaults.proxyPort,
    adminPort: v.adminPort ?? sidecarDefaults.adminPort,
    metricsPort: v.metricsPort ?? sidecarDefaults.metricsPort,
    storeSize: v.storeSize ?? sidecarDefaults.storeSize,
    configMountPath: v.configMountPath ?? "/etc/veltrix",
  };
}

const defaultResources: ResourceRequirements = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { memory: "256Mi" },
};

/** The app container and port, or a problem sentence. */
export function resolveAppTarget(pod: Pod, values: AnnotationValues): AppTarget | string {
  const containers = pod.spec.containers;
  const names = containers.map((c) => c.name);
  // By default the first container that is not a mesh proxy and declares a port (a log
  // shipper without ports placed first is not the app), else the first that is not a proxy.
  const apps = containers.filter((c) => !meshProxies.has(c.name));
  const container =
    values.appContainer === undefined
      ? (apps.find((c) => (c.ports ?? []).length > 0) ?? apps[0] ?? containers[0])
      : containers.find((c) => c.name === values.appContainer);
  if (!container) {
    return `invalid value '${values.appContainer ?? ""}' for annotation 'veltrix.io/app-container': no such container (containers: ${names.join(", ")})`;
  }
  const ports = container.ports ?? [];
  const ref = values.appPort;
  let portIndex: number | undefined;
  let port: number;
  if (ref === undefined) {
    if (ports.length === 0) {
      return `container '${container.name}' declares no ports: set annotation 'veltrix.io/app-port' to the port the app listens on`;
    }
    portIndex = 0;
    port = ports[0]!.containerPort;
  } else if (ref.kind === "name") {
    portIndex = ports.findIndex((p) => p.name === ref.name);
    if (portIndex < 0) {
      return `invalid value '${ref.name}' for annotation 'veltrix.io/app-port': container '${container.name}' has no port with that name`;
    }
    port = ports[portIndex]!.containerPort;
  } else {
    const i = ports.findIndex((p) => p.containerPort === ref.port);
    portIndex = i < 0 ? undefined : i;
    port = ref.port;
  }
  return {
    containerName: container.name,
    port,
    portIndex,
    portName: portIndex === undefined ? undefined : ports[portIndex]?.name,
    appContainers: names.filter((n) => !meshProxies.has(n)),
  };
}

function allContainers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

/** Every name or port the injection would overwrite, as sentences. */
export function findConflicts(pod: Pod, target: AppTarget, s: Settings): string[] {
  const problems: string[] = [];
  const ours = [
    stateVolumeName,
    renderedConfigVolumeName,
    bootConfigVolumeName,
    natsCredentialsVolumeName,
    natsTlsVolumeName,
  ];
  for (const volume of pod.spec.volumes ?? []) {
    if (ours.includes(volume.name)) {
      problems.push(`the pod already has a volume named '${volume.name}'`);
    }
  }
  if (s.proxyPort === s.adminPort) {
    problems.push(
      `the proxy and admin ports are both ${s.proxyPort}: set 'veltrix.io/admin-port' to another port`,
    );
  }
  if (s.metricsPort === s.proxyPort || s.metricsPort === s.adminPort) {
    problems.push(
      `the metrics port ${s.metricsPort} is also the proxy or admin port: set 'veltrix.io/metrics-port' to another port (or 0 for none)`,
    );
  }
  if (target.portIndex === undefined && (target.port === s.proxyPort || target.port === s.adminPort)) {
    problems.push(
      `the app port ${target.port} is the sidecar's own port: set 'veltrix.io/proxy-port' or 'veltrix.io/admin-port'`,
    );
  }
  const reservedNames = new Set([appPortName, adminPortName, metricsPortName, proxyPortFallbackName]);
  for (const c of allContainers(pod)) {
    if (c.name === sidecarContainerName) {
      problems.push(
        `the pod already has a container named '${sidecarContainerName}' that Veltrix did not inject: rename or remove it`,
      );
    }
    for (const p of c.ports ?? []) {
      if (p.containerPort === s.proxyPort) {
        problems.push(
          `container '${c.name}' already uses port ${p.containerPort}: set 'veltrix.io/proxy-port' to a free port`,
        );
      }
      if (p.containerPort === s.adminPort) {
        problems.push(
          `container '${c.name}' already uses port ${p.containerPort}: set 'veltrix.io/admin-port' to a free port`,
        );
      }
      if (s.metricsPort !== 0 && p.containerPort === s.metricsPort) {
        problems.push(
          `container '${c.name}' already uses port ${p.containerPort}: set 'veltrix.io/metrics-port' to a free port (or 0 for none)`,
        );
      }
      if (p.name !== undefined && reservedNames.has(p.name)) {
        problems.push(`container '${c.name}' already has a port named '${p.name}'`);
      }
    }
  }
  for (const c of pod.spec.containers) {
    if (!target.appContainers.includes(c.name)) continue;
    for (const e of c.env ?? []) {
      if (e.name === appEnv.configDir || e.name === appEnv.adminUrl) {
        problems.push(`container '${c.name}' already sets env '${e.name}'`);
      }
    }
    for (const m of c.volumeMounts ?? []) {
      if (m.name === renderedConfigVolumeName || m.mountPath === s.configMountPath) {
        problems.push(
          `container '${c.name}' already mounts '${m.name}' at '${m.mountPath}' (set 'veltrix.io/config-mount-path')`,
        );
      }
    }
  }
  return problems;
}

function resources(config: InjectionConfig, s: Settings): ResourceRequirements {
  const base = config.sidecar.resources ?? defaultResources;
  const requests = { ...base.requests };
  const limits = { ...base.limits };
  if (s.sidecarCpu !== undefined) requests["cpu"] = s.sidecarCpu;
  if (s.sidecarMemory !== undefined) {
    requests["memory"] = s.sidecarMemory;
    limits["memory"] = s.sidecarMemory;
  }
  return {
    ...(Object.keys(requests).length > 0 && { requests }),
    ...(Object.keys(limits).length > 0 && { limits }),
  };
}

/** The pod's NATS credentials Secret: its config's minted one, or the one named for every namespace. */
function credentialsSecretOf(
  config: InjectionConfig,
  options: InjectionOptions,
): InjectionOptions["nats"]["credentialsSecret"] {
  return options.nats.mintedCredentials
    ? { name: natsCredentialsSecretName(config.name) }
    : options.nats.credentialsSecret;
}

function sidecarEnvFor(
  config: InjectionConfig,
  target: AppTarget,
  s: Settings,
  options: InjectionOptions,
): EnvVar[] {
  const env: EnvVar[] = [
    { name: sidecarEnv.configName, value: config.name },
    { name: sidecarEnv.namespace, valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: sidecarEnv.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: sidecarEnv.natsUrl, value: options.nats.url },
  ];
  const creds = credentialsSecretOf(config, options);
  if (creds?.key) {
    env.push({
      name: sidecarEnv.natsCredentials,
      value: `${natsCredentialsMountPath}/${natsCredentialsFile}`,
    });
  } else if (creds) {
    env.push({ name: sidecarEnv.natsCredentialsDir, value: natsCredentialsMountPath });
  }
  const tls = options.nats.tls;
  if (tls) {
    env.push({ name: sidecarEnv.natsTls, value: "true" });
    if (tls.secretName || tls.configMapName)
      env.push({ name: sidecarEnv.natsTlsDir, value: natsTlsMountPath });
    if (tls.serverName) env.push({ name: sidecarEnv.natsTlsServerName, value: tls.serverName });
  }
  env.push(
    { name: sidecarEnv.port, value: String(s.proxyPort) },
    { name: sidecarEnv.adminPort, value: String(s.adminPort) },
    { name: sidecarEnv.metricsPort, value: String(s.metricsPort) },
    { name: sidecarEnv.appPort, value: String(target.port) },
    { name: sidecarEnv.dataDir, value: stateMountPath },
    { name: sidecarEnv.renderFile, value: `${sidecarConfigMountPath}/${renderedConfigFile}` },
    { name: sidecarEnv.configFile, value: `${bootConfigMountPath}/${renderedConfigFile}` },
  );
  return env;
}

function sidecarContainer(
  config: InjectionConfig,
  target: AppTarget,
  s: Settings,
  options: InjectionOptions,
): Container {
  // The admin API listens on 127.0.0.1 only, out of the kubelet's reach: the proxy
  // port answers the probe paths itself. Readiness fails while draining and, in a
  // queued mode with onBrokerUnavailable fail, while NATS is unreachable.
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: s.proxyPort },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 1,
  });
  return {
    name: sidecarContainerName,
    image: config.sidecar.image,
    ...(config.sidecar.imagePullPolicy !== undefined && { imagePullPolicy: config.sidecar.imagePullPolicy }),
    ...(options.nativeSidecars && { restartPolicy: "Always" }),
    ports: [
      { name: target.portName ?? proxyPortFallbackName, containerPort: s.proxyPort, protocol: "TCP" },
      { name: adminPortName, containerPort: s.adminPort, protocol: "TCP" },
      ...(s.metricsPort !== 0
        ? [{ name: metricsPortName, containerPort: s.metricsPort, protocol: "TCP" }]
        : []),
    ],
    env: sidecarEnvFor(config, target, s, options),
    resources: resources(config, s),
    volumeMounts: [
      { name: stateVolumeName, mountPath: stateMountPath },
      { name: renderedConfigVolumeName, mountPath: sidecarConfigMountPath },
      { name: bootConfigVolumeName, mountPath: bootConfigMountPath, readOnly: true },
      ...(credentialsSecretOf(config, options)
        ? [{ name: natsCredentialsVolumeName, mountPath: natsCredentialsMountPath, readOnly: true }]
        : []),
      ...(options.nats.tls?.secretName || options.nats.tls?.configMapName
        ? [{ name: natsTlsVolumeName, mountPath: natsTlsMountPath, readOnly: true }]
        : []),
    ],
    startupProbe: probe(sidecarProbePaths.healthz, 1, 60),
    readinessProbe: probe(sidecarProbePaths.readyz, 5, 3),
    livenessProbe: probe(sidecarProbePaths.healthz, 10, 3),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    },
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

function stateVolume(config: InjectionConfig, s: Settings): Volume {
  const volume = config.store.volume;
  if (volume?.kind === "ephemeral") {
    return {
      name: stateVolumeName,
      ephemeral: {
        volumeClaimTemplate: {
          metadata: { labels: { "app.kubernetes.io/managed-by": "veltrix" } },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(volume.storageClassName !== undefined && { storageClassName: volume.storageClassName }),
            resources: { requests: { storage: s.storeSize } },
          },
        },
      },
    };
  }
  return { name: stateVolumeName, emptyDir: { sizeLimit: s.storeSize } };
}

function renameIn(handler: unknown, from: string, to: string): void {
  if (typeof handler !== "object" || handler === null) return;
  for (const kind of ["httpGet", "tcpSocket", "grpc"]) {
    const action = (handler as Record<string, unknown>)[kind];
    if (typeof action === "object" && action !== null && (action as { port?: unknown }).port === from) {
      (action as { port: unknown }).port = to;
    }
  }
}

function renamePortReferences(c: Container, from: string, to: string): void {
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) renameIn(c[probe], from, to);
  renameIn(c.lifecycle?.["postStart"], from, to);
  renameIn(c.lifecycle?.["preStop"], from, to);
}

/** Adds the sidecar and everything it needs to `pod` (already checked for conflicts). */
export function buildInjection(
  pod: Pod,
  target: AppTarget,
  s: Settings,
  config: InjectionConfig,
  options: InjectionOptions,
): void {
  const app = pod.spec.containers.find((c) => c.name === target.containerName)!;
  // Port scheme: the sidecar takes over the app port's name, so a Service whose
  // targetPort names it now reaches the sidecar; the app's port is renamed.
  // The app's own probes and hooks that named the port follow the rename.
  if (target.portIndex !== undefined && target.portName !== undefined) {
    const appPort = app.ports![target.portIndex]!;
    appPort.name = appPortName;
    renamePortReferences(app, target.portName, appPortName);
  }
  for (const c of pod.spec.containers) {
    if (!target.appContainers.includes(c.name)) continue;
    (c.volumeMounts ??= []).push({
      name: renderedConfigVolumeName,
      mountPath: s.configMountPath,
      readOnly: true,
    });
    (c.env ??= []).push(
      { name: appEnv.configDir, value: s.configMountPath },
      { name: appEnv.adminUrl, value: `http://127.0.0.1:${s.adminPort}` },
    );
    const drain = s.drainSeconds ?? 0;
    if (options.preStopSleep && drain > 0 && c.lifecycle?.["preStop"] === undefined) {
      c.lifecycle = { ...c.lifecycle, preStop: { sleep: { seconds: drain } } };
    }
  }
  const sidecar = sidecarContainer(config, target, s, options);
  // The ServiceAccount admission plugin runs before webhooks and mounts the token into
  // every container; it would mount it into the sidecar after us anyway, and that
  // change would make the API server call the webhook a second time. Mount it now.
  const token = app.volumeMounts?.find((m) => m.mountPath === serviceAccountTokenPath);
  if (token) sidecar.volumeMounts?.push({ ...token });
  if (options.nativeSidecars) {
    (pod.spec.initContainers ??= []).push(sidecar);
  } else {
    pod.spec.containers.unshift(sidecar);
    const meta = (pod.metadata ??= {});
    const defaultContainer = "kubectl.kubernetes.io/default-container";
    if (meta.annotations?.[defaultContainer] === undefined) {
      meta.annotations = { ...meta.annotations, [defaultContainer]: target.containerName };
    }
  }
  (pod.spec.volumes ??= []).push(
    stateVolume(config, s),
    { name: renderedConfigVolumeName, emptyDir: { sizeLimit: "16Mi" } },
    { name: bootConfigVolumeName, configMap: { name: configMapName(config.name), optional: true } },
  );
  const creds = credentialsSecretOf(config, options);
  if (creds) {
    // Default mode 0644: the sidecar runs as 65532 without an fsGroup and must read the files.
    // Whole: the sidecar picks creds, or user and password, or token (like the operator);
    // a custom key is a .creds file, mounted alone under a fixed name.
    pod.spec.volumes.push({
      name: natsCredentialsVolumeName,
      secret: {
        secretName: creds.name,
        ...(creds.key && { items: [{ key: creds.key, path: natsCredentialsFile }] }),
      },
    });
  }
  const tls = options.nats.tls;
  // Mounted whole: the sidecar takes ca.crt, and tls.crt and tls.key when present (0644, as above).
  if (tls?.secretName) {
    pod.spec.volumes.push({ name: natsTlsVolumeName, secret: { secretName: tls.secretName } });
  } else if (tls?.configMapName) {
    pod.spec.volumes.push({ name: natsTlsVolumeName, configMap: { name: tls.configMapName } });
  }
}
