import { createHash } from 'node:crypto';

/**
 * The console's stylesheet and its one script, served from /admin/console/assets/ (the
 * Content-Security-Policy allows scripts and styles from the service itself, nothing inline). Kept in
 * TypeScript so the build has nothing else to copy.
 */
export const CONSOLE_CSS = `
:root { --fg: #1f2933; --muted: #52606d; --line: #d9e2ec; --bg: #f5f7fa; --accent: #1d4ed8; --bad: #b42318; --ok: #05603a; --warn: #8a4b00; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, pre:focus-visible, summary:focus-visible {
  outline: 3px solid #f59e0b; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; }
header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1.5rem;
  background: #102a43; color: #fff; padding: .6rem 1.25rem; }
header a { color: #fff; }
header .brand { font-weight: 600; }
header nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 1rem; margin: 0; padding: 0; }
header nav a { text-decoration: none; padding: .2rem 0; }
header nav a[aria-current="page"] { border-bottom: 2px solid #fff; font-weight: 600; }
header .who { display: flex; align-items: center; gap: .75rem; }
header .who form { margin: 0; }
header .who button { background: transparent; color: #fff; border: 1px solid #9fb3c8; }
main { max-width: 1280px; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .6rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .25rem 1rem 1rem; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
td time { white-space: nowrap; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.error { color: var(--bad); max-width: 28rem; overflow-wrap: anywhere; }
.mono, code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
.mono { overflow-wrap: anywhere; }
.status { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid; }
.status-processed { color: var(--ok); background: #ecfdf3; }
.status-failed { color: var(--bad); background: #fef3f2; }
.status-received, .status-processing { color: #1849a9; background: #eff8ff; }
.status-ignored { color: var(--muted); background: #f2f4f7; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.25rem; margin: .5rem 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .6rem 1rem; align-items: end; }
form.filters .wide { grid-column: 1 / -1; }
label { display: block; font-size: .85rem; color: var(--muted); margin-bottom: .15rem; }
input, select, textarea { width: 100%; padding: .4rem .5rem; border: 1px solid #7b8794; border-radius: 4px; font: inherit; background: #fff; color: var(--fg); }
input[aria-invalid="true"], textarea[aria-invalid="true"] { border-color: var(--bad); }
.field-error { color: var(--bad); font-size: .85rem; margin: .2rem 0 0; }
button, .button { display: inline-block; padding: .45rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent);
  color: #fff; font: inherit; cursor: pointer; text-decoration: none; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; margin: .75rem 0; }
.actions form { margin: 0; }
nav.tabs ul { list-style: none; display: flex; flex-wrap: wrap; gap: .4rem; margin: 0 0 1rem; padding: 0; }
nav.tabs a { display: inline-block; padding: .3rem .7rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; text-decoration: none; }
nav.tabs a[aria-current="page"] { background: var(--accent); border-color: var(--accent); color: #fff; }
nav.pages { display: flex; gap: 1rem; margin: 1rem 0; }
.notice { border-left: 4px solid var(--accent); background: #eff8ff; padding: .6rem .9rem; margin: 0 0 1rem; }
.notice.bad { border-color: var(--bad); background: #fef3f2; }
.notice.ok { border-color: var(--ok); background: #ecfdf3; }
.muted { color: var(--muted); }
pre.json { background: #f8fafc; border: 1px solid var(--line); border-radius: 4px; padding: .75rem; overflow: auto; max-height: 40rem; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.json .key { color: #7c2d12; }
pre.json .str { color: #05603a; }
pre.json .lit { color: #1849a9; }
pre.json .masked { color: var(--muted); background: #e4e7eb; border-radius: 3px; padding: 0 .25rem; font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: 1rem; margin-bottom: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
.card .value { font-size: 1.6rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

/**
 * Progressive enhancement, and all the script there is: an event page whose event is in flight
 * (`data-poll`) asks for its status every 1.5 s and reloads once it changed, so a replay is seen
 * through to its outcome. Without it the page says to reload.
 */
export const CONSOLE_JS = `
(function () {
  var el = document.querySelector('[data-poll]');
  if (!el || !window.fetch) return;
  var url = el.getAttribute('data-poll');
  var shown = el.getAttribute('data-status');
  function tick() {
    fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.status !== shown) { window.location.reload(); return; }
        setTimeout(tick, 1500);
      }, function () { setTimeout(tick, 1500); });
  }
  setTimeout(tick, 1500);
})();
`;

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** The asset URLs carry their content's hash, so they can be cached for good. */
export const ASSET_VERSION = { css: hash(CONSOLE_CSS), js: hash(CONSOLE_JS) };
