/** The part of a Deployment this service manages: what clients send and what drift is judged on. */
export interface ResourceQuantities {
  cpu?: string;
  memory?: string;
}

export interface ResourceRequirements {
  requests?: ResourceQuantities;
  limits?: ResourceQuantities;
}

export interface DeploymentSpec {
  image: string;
  replicas: number;
  containerPort?: number;
  /** spec.progressDeadlineSeconds: how long a rollout may make no progress before it is FAILED. */
  progressDeadlineSeconds?: number;
  env?: Record<string, string>;
  resources?: ResourceRequirements;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export type DeploymentSpecPatch = Partial<DeploymentSpec>;

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'k8s-deployment-manager';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const REQUEST_ID_ANNOTATION = 'k8s-deployment-manager.io/request-id';
export const CONTAINER_NAME = 'app';
/** Kubernetes' default spec.progressDeadlineSeconds. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const MAX_PROGRESS_DEADLINE_SECONDS = 86_400;

/** Keys Kubernetes or we set ourselves; never reported as user labels or annotations. */
const SYSTEM_LABELS = new Set([MANAGED_BY_LABEL, NAME_LABEL]);
const SYSTEM_ANNOTATION_PREFIXES = [
  'deployment.kubernetes.io/',
  'kubectl.kubernetes.io/',
  'k8s-deployment-manager.io/',
];

export const isSystemLabel = (key: string) => SYSTEM_LABELS.has(key);
export const isSystemAnnotation = (key: string) => SYSTEM_ANNOTATION_PREFIXES.some((p) => key.startsWith(p));

/** A PATCH replaces each field it names, whole; the rest stays as Kubernetes has it. */
export function mergeSpec(base: DeploymentSpec, patch: DeploymentSpecPatch): DeploymentSpec {
  const merged: DeploymentSpec = { ...base };
  for (const [k, v] of Object.entries(patch) as [keyof DeploymentSpec, unknown][]) {
    if (v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v;
  }
  return merged;
}

/** Only cpu and memory, and only the sides that name one: the fields this service manages. */
export function compactResources(r: ResourceRequirements): ResourceRequirements {
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
