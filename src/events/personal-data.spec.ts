import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getMetadataArgsStorage } from 'typeorm';
import { HoldsPersonalData, PersonalDataDeclaration, personalDataClassification } from './personal-data.js';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const TEXT_TYPES = new Set(['text', 'varchar', 'character varying', 'char', 'json', 'jsonb', 'bytea', 'citext']);

function files(suffix: string, dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(suffix, join(dir, e.name)) : e.name.endsWith(suffix) ? [join(dir, e.name)] : [],
  );
}

/**
 * Personal data is declared where it lives: every text or JSON column of every entity says whether it
 * holds personal data (@PersonalData or @NotPersonalData), and every personal column is listed by a
 * @HoldsPersonalData provider that finds, erases and expires it. A new entity or column that says
 * nothing, or a personal column nobody covers, fails here.
 */
describe('personal data coverage', () => {
  let classes: object[];
  let declarations: Array<{ file: string; declaration: PersonalDataDeclaration }>;

  beforeAll(async () => {
    classes = [];
    for (const file of files('.entity.ts')) {
      for (const value of Object.values(await import(file))) if (typeof value === 'function') classes.push(value);
    }
    declarations = [];
    for (const file of files('.personal-data.ts')) {
      for (const value of Object.values(await import(file))) {
        const declaration =
          typeof value === 'function' ? (Reflect.getMetadata(HoldsPersonalData.KEY, value) as PersonalDataDeclaration) : undefined;
        if (declaration) declarations.push({ file: relative(SRC, file), declaration });
      }
    }
  });

  function textColumns() {
    const storage = getMetadataArgsStorage();
    return storage.columns
      .filter((c) => classes.includes(c.target as object))
      .filter((c) => TEXT_TYPES.has(String(c.options.type ?? 'text')))
      .map((c) => {
        const table = storage.tables.find((t) => t.target === c.target)!.name!;
        return {
          entity: (c.target as { name: string }).name,
          property: c.propertyName,
          name: `${table}.${c.options.name ?? c.propertyName}`,
          kind: personalDataClassification(c.target as object).get(c.propertyName),
        };
      });
  }

  it('finds the entities and the holders', () => {
    expect(classes.length).toBeGreaterThanOrEqual(8);
    expect(declarations.map((d) => d.declaration.name).sort()).toEqual(['feedback', 'inbox', 'interviews', 'notifications']);
  });

  it('every text or JSON column of every entity says whether it holds personal data', () => {
    const unclassified = textColumns().filter((c) => c.kind === undefined);
    expect(unclassified.map((c) => `${c.entity}.${c.property} (${c.name})`)).toEqual([]);
  });

  it('every personal column is found, erased and expired by a holder, and holders list only personal columns', () => {
    const personal = textColumns()
      .filter((c) => c.kind === 'personal')
      .map((c) => c.name);
    const covered = declarations.flatMap((d) => d.declaration.columns);
    expect(personal.filter((c) => !covered.includes(c))).toEqual([]);
    expect(covered.filter((c) => !personal.includes(c))).toEqual([]);
  });
});
