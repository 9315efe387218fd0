// The one Dockerfile reader of this repository (the bench, test/deployment.e2e-spec.ts and the image
// test use it). It reads what those need and no more: instructions with their arguments, stages, and
// the ENV of the final stage. Building is podman's job (scripts/image/).

/** Instructions in order: `{ op, args }`, comments and parser directives dropped, continuations joined. */
export function instructions(text) {
  const out = [];
  let buf = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && buf === '')) continue;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      continue;
    }
    buf += line;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(buf);
    if (!m) throw new Error(`cannot read Dockerfile line: ${buf}`);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
    buf = '';
  }
  return out;
}

/** Stages: `{ name, from, instructions }`; `from` is an image or the name of an earlier stage. */
export function stages(text) {
  const out = [];
  for (const i of instructions(text)) {
    if (i.op === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      if (!m) throw new Error(`cannot read FROM ${i.args}`);
      out.push({ from: m[1], name: m[2] ?? `stage${out.length}`, instructions: [] });
    } else if (out.length === 0) {
      if (i.op !== 'ARG') throw new Error(`${i.op} before the first FROM`);
    } else out.at(-1).instructions.push(i);
  }
  return out;
}

/** The images the Dockerfile starts from (FROM lines that do not name an earlier stage). */
export function baseImages(text) {
  const all = stages(text);
  return [...new Set(all.filter((s, i) => !all.slice(0, i).some((o) => o.name === s.from)).map((s) => s.from))];
}

/** `KEY=value KEY2="quoted value"` (or the legacy `KEY value`) as an object. */
export function parseEnv(args) {
  const env = {};
  if (!/^[A-Za-z_]\w*=/.test(args)) {
    const [key, ...value] = args.split(/\s+/);
    env[key] = value.join(' ');
    return env;
  }
  for (const m of args.matchAll(/([A-Za-z_]\w*)=("([^"]*)"|'([^']*)'|\S*)/g)) env[m[1]] = m[3] ?? m[4] ?? m[2];
  return env;
}

/** The environment the final stage sets with ENV, its parent stages' included. */
export function imageEnv(text) {
  const all = stages(text);
  const envOf = (stage) => {
    const parent = all.slice(0, all.indexOf(stage)).findLast((s) => s.name === stage.from);
    const own = stage.instructions.filter((i) => i.op === 'ENV').map((i) => parseEnv(i.args));
    return Object.assign(parent ? envOf(parent) : {}, ...own);
  };
  return all.length ? envOf(all.at(-1)) : {};
}
