// dependency-cruiser rules (npm run lint:deps, in .ci/run): src/ folders depend one way, in the
// order of the data path. A folder may import the folders of the layers below its own (and its
// own files), never one above or beside it, so no two folders can import each other. The root
// files (main.ts, app.module.ts, app.setup.ts, features.ts) wire everything and are exempt.
const LAYERS = [
  ['logging', 'tracing'],
  ['common', 'config'],
  ['events', 'health', 'metrics'],
  ['database'],
  ['audit'],
  ['queue'],
  ['inbox'],
  ['privacy'],
  ['notifications'],
  ['feedback', 'interviews'],
  ['processing'],
  ['webhooks'],
  ['admin'],
  ['cli', 'console', 'dashboard', 'docs', 'embedded'],
];

const folders = (names) => `^src/(${names.join('|')})/`;

const layerRules = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  return layer.map((folder) => ({
    name: `layers-${folder}`,
    comment: `src/${folder}/ may import only folders of lower layers (see LAYERS in .dependency-cruiser.cjs)`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: { path: folders([...above, ...layer.filter((f) => f !== folder)]) },
  }));
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'Modules that import each other, directly or through others',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'folder-not-in-layers',
      comment: 'A new folder under src/ needs its place in LAYERS',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: folders(LAYERS.flat()) },
      to: {},
    },
    {
      name: 'no-src-to-test',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^(test|bench|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
