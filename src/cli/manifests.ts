import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { CreateDeployment } from '../../clients/typescript/src/index.js';
import { CliError } from './cli-error.js';

/** One document of an apply file: our body fields (namespace, name and the spec), and where it came from. */
export interface Manifest {
  /** `app.yaml#2`: file and document number, for messages. */
  source: string;
  body: CreateDeployment;
}

/**
 * The documents of YAML or JSON files (`-` is stdin): YAML streams split on `---`, and a
 * top-level array (JSON or YAML) is a list of documents. Empty documents are skipped. Only the
 * shape is checked here (a mapping with namespace and name); the API checks the fields.
 */
export function readManifests(files: string[], stdin: () => string = () => readFileSync(0, 'utf8')): Manifest[] {
  const out: Manifest[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = file === '-' ? stdin() : readFileSync(file, 'utf8');
    } catch (e) {
      throw new CliError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const values: unknown[] = [];
    for (const doc of parseAllDocuments(text)) {
      const problem = doc.errors[0];
      if (problem) throw new CliError(`${file}: ${problem.message.split('\n')[0]}`);
      const value: unknown = doc.toJS();
      if (Array.isArray(value)) values.push(...(value as unknown[]));
      else if (value !== null && value !== undefined) values.push(value);
    }
    values.forEach((value, i) => out.push(manifest(`${file}#${i + 1}`, value)));
  }
  if (out.length === 0) throw new CliError(`${files.join(', ')}: no documents`);
  return out;
}

function manifest(source: string, value: unknown): Manifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CliError(`${source}: expected a mapping of deployment fields (namespace, name, image, replicas, …)`);
  const fields = value as Record<string, unknown>;
  for (const field of ['namespace', 'name'])
    if (typeof fields[field] !== 'string' || fields[field] === '')
      throw new CliError(`${source}: ${field} is required (a string)`);
  // The API validates every field and names each bad one; the CLI sends the document as written.
  return { source, body: fields as unknown as CreateDeployment };
}
