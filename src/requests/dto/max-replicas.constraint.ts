import { Injectable } from '@nestjs/common';
import { ValidatorConstraint, ValidatorConstraintInterface, ValidationArguments } from 'class-validator';
import { AppConfig } from '../../config/app-config.js';

/** replicas' upper bound comes from config (MAX_REPLICAS), so the constraint is a provider. */
@ValidatorConstraint({ name: 'maxReplicas' })
@Injectable()
export class MaxReplicasConstraint implements ValidatorConstraintInterface {
  constructor(private readonly config: AppConfig) {}

  validate(value: unknown): boolean {
    return typeof value !== 'number' || value <= this.config.MAX_REPLICAS;
  }

  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must not be greater than ${this.config.MAX_REPLICAS} (MAX_REPLICAS)`;
  }
}
