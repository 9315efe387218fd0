import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Thrown for a PostgreSQL URL whose TLS parameters cannot work; the message names the setting. */
export class PostgresTlsError extends Error {
  override name = 'PostgresTlsError';
}

/** The TLS options `pg` passes to `tls.connect` (a subset that TypeORM's `ssl` type takes too). */
export interface PgTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  checkServerIdentity?: () => undefined;
}

/** What a `pg` Pool or Client takes: the URL without its TLS parameters, and the TLS options. */
export interface PgConnectionOptions {
  connectionString: string;
  ssl: false | PgTlsOptions;
}

/** A PostgreSQL URL's TLS settings, read as libpq reads them (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`). */
export interface PostgresTls extends PgConnectionOptions {
  mode: 'off' | 'require' | 'verify-ca' | 'verify-full';
  /** One line for the boot log: which checks are on. */
  summary: string;
}

// The TLS parameters taken out of the URL before `pg` sees it: pg-connection-string 2.x reads
// `require` and `verify-ca` as `verify-full` (with a warning), and a parameter it parses would
// override the `ssl` options built here.
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat', 'sslnegotiation'];

/**
 * Reads the TLS parameters of `url` (the value of `setting`) with libpq's meaning:
 * - `verify-full`: the server's certificate must chain to the CA (`sslrootcert`, else the system's
 *   store) and name the host;
 * - `verify-ca`: chain to `sslrootcert` (required), any host name;
 * - `require`: encrypted without verification, unless `sslrootcert` is given (then as `verify-ca`,
 *   as libpq does);
 * - `disable` or no `sslmode`: plain text (`ssl=true` alone means `verify-full`, as in `pg`).
 * `prefer` and `allow` fall back to plain text in libpq, which `pg` cannot do: refused.
 * A CA, certificate or key file that is missing or does not parse stops the boot, naming `setting`.
 */
export function postgresTls(url: string, setting: string): PostgresTls {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PostgresTlsError(`${setting} is not a URL (postgres://user:password@host:5432/database)`);
  }
  const param = (name: string) => parsed.searchParams.get(name) ?? undefined;
  const ssl = param('ssl')?.toLowerCase();
  let mode = param('sslmode')?.toLowerCase() ?? (ssl === 'true' || ssl === '1' ? 'verify-full' : 'disable');
  const rootCert = param('sslrootcert');
  const clientCert = param('sslcert');
  const clientKey = param('sslkey');
  for (const name of TLS_PARAMS) parsed.searchParams.delete(name);
  const connectionString = parsed.toString();

  if (mode === 'prefer' || mode === 'allow')
    throw new PostgresTlsError(
      `${setting} has sslmode=${mode}, which falls back to plain text; the driver cannot: use sslmode=verify-full (or verify-ca, require, disable)`,
    );
  if (!['disable', 'require', 'verify-ca', 'verify-full'].includes(mode))
    throw new PostgresTlsError(`${setting} has sslmode=${mode}: use verify-full, verify-ca, require or disable`);
  if (mode === 'disable') return { mode: 'off', connectionString, ssl: false, summary: 'off' };
  if (mode === 'require' && rootCert) mode = 'verify-ca';
  if (mode === 'verify-ca' && !rootCert)
    throw new PostgresTlsError(
      `${setting} has sslmode=verify-ca without sslrootcert: name the CA file (or use verify-full with the system's CAs)`,
    );

  const options: PgTlsOptions = {};
  if (rootCert && mode !== 'require') options.ca = readPem(rootCert, 'sslrootcert', setting, true);
  if (clientCert) options.cert = readPem(clientCert, 'sslcert', setting, true);
  if (clientKey) options.key = readPem(clientKey, 'sslkey', setting, false);
  const client = clientCert ? ', client certificate' : '';
  const ca = rootCert ? `CA ${rootCert}` : "the system's CAs";
  if (mode === 'require') {
    options.rejectUnauthorized = false;
    return { mode, connectionString, ssl: options, summary: `require (encrypted, certificate not verified${client})` };
  }
  options.rejectUnauthorized = true;
  if (mode === 'verify-ca') {
    // The chain is still checked (rejectUnauthorized); only the host name is not.
    options.checkServerIdentity = () => undefined;
    return { mode, connectionString, ssl: options, summary: `verify-ca (${ca}, hostname not checked${client})` };
  }
  return { mode: 'verify-full', connectionString, ssl: options, summary: `verify-full (${ca}, hostname checked${client})` };
}

function readPem(path: string, param: string, setting: string, certificate: boolean): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PostgresTlsError(
      `${setting} ${param}=${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (certificate) {
    try {
      new X509Certificate(text);
    } catch {
      throw new PostgresTlsError(`${setting} ${param}=${path} is not a PEM certificate`);
    }
  } else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new PostgresTlsError(`${setting} ${param}=${path} is not a PEM private key`);
  }
  return text;
}
