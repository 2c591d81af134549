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
  env?: Record<string, string>;
  resources?: ResourceRequirements;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export type DeploymentSpecPatch = Partial<DeploymentSpec>;
