import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './cli-error.js';
import { readManifests } from './manifests.js';

describe('kdm apply files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kdm-manifests-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads every YAML document, skips empty ones, and takes a JSON array as a list of documents', () => {
    const yaml = file('a.yaml', '---\nnamespace: a\nname: web\nreplicas: 2\n---\n---\nnamespace: a\nname: api\n');
    const json = file('b.json', '[{"namespace":"b","name":"one"},{"namespace":"b","name":"two"}]');
    expect(readManifests([yaml, json]).map((m) => [m.source, m.body.namespace, m.body.name])).toEqual([
      [`${yaml}#1`, 'a', 'web'],
      [`${yaml}#2`, 'a', 'api'],
      [`${json}#1`, 'b', 'one'],
      [`${json}#2`, 'b', 'two'],
    ]);
    expect(readManifests(['-'], () => '{"namespace":"c","name":"x","image":"nginx"}')[0].body).toEqual({
      namespace: 'c',
      name: 'x',
      image: 'nginx',
    });
  });

  it('refuses in one line naming the file, the document and the field', () => {
    const refusal = (files: string[]) => {
      try {
        readManifests(files);
      } catch (e) {
        expect(e).toBeInstanceOf(CliError);
        return (e as Error).message;
      }
      return 'no refusal';
    };
    const noName = file('c.yaml', 'namespace: a\nname: web\n---\nnamespace: a\n');
    expect(refusal([noName])).toBe(`${noName}#2: name is required (a string)`);
    const scalar = file('d.yaml', '- just a string\n');
    expect(refusal([scalar])).toMatch(/#1: expected a mapping of deployment fields/);
    const broken = file('e.yaml', 'namespace: [a\n');
    expect(refusal([broken])).toMatch(new RegExp(`^${broken}: [^\\n]+$`));
    expect(refusal([join(dir, 'absent.yaml')])).toBe(`${join(dir, 'absent.yaml')}: cannot read (ENOENT)`);
    expect(refusal([file('f.yaml', '---\n')])).toMatch(/no documents$/);
  });
});
