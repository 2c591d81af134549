import type { V1Deployment, V1EnvVar, V1ResourceRequirements } from '@kubernetes/client-node';
import type { DeploymentSpec, DeploymentSpecPatch, ResourceRequirements } from '../requests/deployment-spec.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'k8s-deployment-manager';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const REQUEST_ID_ANNOTATION = 'k8s-deployment-manager.io/request-id';
export const CONTAINER_NAME = 'app';

/** Keys Kubernetes or we set ourselves; never reported as user labels or annotations. */
const SYSTEM_LABELS = new Set([MANAGED_BY_LABEL, NAME_LABEL]);
const SYSTEM_ANNOTATION_PREFIXES = [
  'deployment.kubernetes.io/',
  'kubectl.kubernetes.io/',
  'k8s-deployment-manager.io/',
];

export const isManaged = (d: V1Deployment | null | undefined): boolean =>
  d?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;

/** The full desired object for server-side apply; fields left out are given up by our field manager. */
export function buildDeploymentManifest(
  namespace: string,
  name: string,
  spec: DeploymentSpec,
  requestId: string,
  resourceVersion?: string,
): V1Deployment {
  const selector = { [NAME_LABEL]: name };
  const env: V1EnvVar[] | undefined = spec.env
    ? Object.keys(spec.env)
        .sort()
        .map((k) => ({ name: k, value: spec.env![k] }))
    : undefined;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { ...spec.labels, ...selector, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { ...spec.annotations, [REQUEST_ID_ANNOTATION]: requestId },
    },
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: selector },
        spec: {
          containers: [
            {
              name: CONTAINER_NAME,
              image: spec.image,
              ...(spec.containerPort ? { ports: [{ containerPort: spec.containerPort, protocol: 'TCP' }] } : {}),
              ...(env ? { env } : {}),
              ...(spec.resources ? { resources: compact(spec.resources) as V1ResourceRequirements } : {}),
            },
          ],
        },
      },
    },
  };
}

/** Reads the managed fields back out of a live object, in request-spec shape. */
export function specFromDeployment(d: V1Deployment): DeploymentSpec {
  const container = d.spec?.template?.spec?.containers?.[0];
  const labels = Object.fromEntries(Object.entries(d.metadata?.labels ?? {}).filter(([k]) => !SYSTEM_LABELS.has(k)));
  const annotations = Object.fromEntries(
    Object.entries(d.metadata?.annotations ?? {}).filter(
      ([k]) => !SYSTEM_ANNOTATION_PREFIXES.some((p) => k.startsWith(p)),
    ),
  );
  const env = container?.env?.length
    ? Object.fromEntries(container.env.map((e) => [e.name, e.value ?? '']))
    : undefined;
  const resources = container?.resources ? compact(container.resources as ResourceRequirements) : undefined;
  const spec: DeploymentSpec = { image: container?.image ?? '', replicas: d.spec?.replicas ?? 1 };
  const port = container?.ports?.[0]?.containerPort;
  if (port) spec.containerPort = port;
  if (env) spec.env = env;
  if (resources && Object.keys(resources).length) spec.resources = resources;
  if (Object.keys(labels).length) spec.labels = labels;
  if (Object.keys(annotations).length) spec.annotations = annotations;
  return spec;
}

/** A PATCH replaces each field it names, whole; the rest stays as Kubernetes has it. */
export function mergeSpec(base: DeploymentSpec, patch: DeploymentSpecPatch): DeploymentSpec {
  const merged: DeploymentSpec = { ...base };
  for (const [k, v] of Object.entries(patch) as [keyof DeploymentSpec, unknown][]) {
    if (v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v;
  }
  return merged;
}

function compact(r: ResourceRequirements): ResourceRequirements {
  const out: ResourceRequirements = {};
  for (const side of ['requests', 'limits'] as const) {
    const q = r[side];
    if (!q) continue;
    const picked = Object.fromEntries(
      Object.entries(q).filter(([k, v]) => (k === 'cpu' || k === 'memory') && v !== undefined && v !== null),
    );
    if (Object.keys(picked).length) out[side] = picked;
  }
  return out;
}
