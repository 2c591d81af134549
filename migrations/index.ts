import { InitialSchema1764300000000 } from './1764300000000-initial-schema.js';

/** Every migration, in order. Listed explicitly so the compiled ESM build needs no glob loading. */
export const MIGRATIONS = [InitialSchema1764300000000];
