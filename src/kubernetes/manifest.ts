import type { V1Deployment, V1EnvVar, V1ResourceRequirements } from '@kubernetes/client-node';
import {
  compactResources,
  CONTAINER_NAME,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  type DeploymentSpec,
  isSystemAnnotation,
  isSystemLabel,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NAME_LABEL,
  REQUEST_ID_ANNOTATION,
  type ResourceRequirements,
} from '../domain/deployment-spec.js';

export const isManaged = (d: V1Deployment | null | undefined): boolean =>
  d?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;

/** The full desired object for server-side apply; fields left out are given up by our field manager. */
export function buildDeploymentManifest(
  namespace: string,
  name: string,
  spec: DeploymentSpec,
  requestId: string,
  resourceVersion?: string,
  envReferences: V1EnvVar[] = [],
): V1Deployment {
  const selector = { [NAME_LABEL]: name };
  const kept = new Set(envReferences.map((e) => e.name));
  const literal = Object.keys(spec.env ?? {})
    .filter((k) => !kept.has(k))
    .map((k) => ({ name: k, value: spec.env![k] }));
  const env: V1EnvVar[] | undefined =
    spec.env || envReferences.length
      ? [...literal, ...envReferences].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
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
      ...(spec.progressDeadlineSeconds ? { progressDeadlineSeconds: spec.progressDeadlineSeconds } : {}),
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
              ...(spec.resources ? { resources: compactResources(spec.resources) as V1ResourceRequirements } : {}),
            },
          ],
        },
      },
    },
  };
}

/**
 * The live container's env entries set from a reference (valueFrom: a Secret, a ConfigMap, a
 * field). The request-spec shape holds literal values only, so a merge must carry these over
 * whole, or it would re-apply them as empty values.
 */
export function envReferencesOf(d: V1Deployment): V1EnvVar[] {
  return (d.spec?.template?.spec?.containers?.[0]?.env ?? []).filter((e) => e.valueFrom !== undefined);
}

/** Reads the managed fields back out of a live object, in request-spec shape. */
export function specFromDeployment(d: V1Deployment): DeploymentSpec {
  const container = d.spec?.template?.spec?.containers?.[0];
  const labels = Object.fromEntries(Object.entries(d.metadata?.labels ?? {}).filter(([k]) => !isSystemLabel(k)));
  const annotations = Object.fromEntries(
    Object.entries(d.metadata?.annotations ?? {}).filter(([k]) => !isSystemAnnotation(k)),
  );
  const env = container?.env?.length
    ? Object.fromEntries(container.env.map((e) => [e.name, e.value ?? '']))
    : undefined;
  const resources = container?.resources ? compactResources(container.resources as ResourceRequirements) : undefined;
  const spec: DeploymentSpec = { image: container?.image ?? '', replicas: d.spec?.replicas ?? 1 };
  const port = container?.ports?.[0]?.containerPort;
  if (port) spec.containerPort = port;
  // The apiserver fills in the default: only a deadline someone chose is part of the spec.
  const deadline = d.spec?.progressDeadlineSeconds;
  if (deadline && deadline !== DEFAULT_PROGRESS_DEADLINE_SECONDS) spec.progressDeadlineSeconds = deadline;
  if (env) spec.env = env;
  if (resources && Object.keys(resources).length) spec.resources = resources;
  if (Object.keys(labels).length) spec.labels = labels;
  if (Object.keys(annotations).length) spec.annotations = annotations;
  return spec;
}
