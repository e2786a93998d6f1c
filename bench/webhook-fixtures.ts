// The pod both halves of bench/webhook-latency.ts send: an opted-in web app.
export function podBody(i: number | string): Record<string, unknown> {
  return {
    metadata: {
      name: `web-${i}`,
      labels: { app: "web" },
      annotations: { "veltrix.io/inject": "true" },
    },
    spec: {
      containers: [
        {
          name: "web",
          image: "registry.example/web:1",
          ports: [{ name: "http", containerPort: 8080 }],
          env: [{ name: "MODE", value: "production" }],
          resources: { requests: { cpu: "100m", memory: "128Mi" } },
        },
      ],
    },
  };
}
