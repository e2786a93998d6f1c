// The VeltrixConfig and options the golden corpus and unit tests inject with.
import type { InjectionConfig, InjectionOptions } from "../config-input.ts";

export const goldenConfig: InjectionConfig = {
  name: "web-config",
  revision: "7f3a9c2e",
  sidecar: { image: "ghcr.io/veltrix/sidecar:0.1.0" },
  store: { sizeLimit: "2Gi" },
};

export const goldenOptions: InjectionOptions = {
  nativeSidecars: true,
  preStopSleep: true,
  nats: {
    url: "nats://nats.veltrix-system.svc:4222",
    credentialsSecret: { name: "veltrix-nats", key: "nats.creds" },
  },
};
