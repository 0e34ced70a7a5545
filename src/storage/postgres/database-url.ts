// EDGEOPS_DATABASE_URL: what a PostgreSQL URL must hold, and the same URL with its password masked for output.

export interface PostgresTarget {
  /** The URL as given, password included: only ever handed to the driver. */
  url: string;
  /** The URL with its password replaced by `***`: the only form logged or shown. */
  display: string;
  /** The password alone (decoded), masked wherever it could appear in output; empty when none. */
  password: string;
}

export const DATABASE_URL_FORM = 'postgres://USER:PASSWORD@HOST:PORT/DATABASE';

/** True when the text is meant as a PostgreSQL URL (and so is checked as one) rather than a file path. */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(text.trim());
}

/** Masks a password in URL-ish text, even one too broken to parse: `//user:secret@` becomes `//user:***@`. */
export function redactDatabaseUrl(text: string): string {
  try {
    const u = new URL(text);
    if (u.password !== '') {
      u.password = '***';
      return u.toString().replace('%2A%2A%2A', '***');
    }
  } catch {
    // Not a URL: fall through to the pattern below.
  }
  return text.replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
}

/**
 * Checks a PostgreSQL URL; returns the problems (each saying what to fix, the URL shown masked) or
 * the target. Query parameters the driver understands (`sslmode`, `application_name`…) pass through.
 */
export function parseDatabaseUrl(text: string): { ok: true; target: PostgresTarget } | { ok: false; problems: string[] } {
  const url = text.trim();
  const shown = redactDatabaseUrl(url);
  const wrong = (what: string) => ({ ok: false as const, problems: [`${what} (got "${shown}"); the form is ${DATABASE_URL_FORM}`] });
  if (!isPostgresUrl(url)) return wrong('must start with postgres:// or postgresql://');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return wrong('is not a valid URL (a password with @, :, / or # must be percent-encoded)');
  }
  if (u.hostname === '') return wrong('names no host');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) return wrong('must name one database after the host, as in …@db.internal:5432/edgeops');
  if (u.username === '') return wrong('names no user');
  let password = '';
  try {
    password = decodeURIComponent(u.password);
  } catch {
    return wrong('has a password that is not valid percent-encoding');
  }
  return { ok: true, target: { url, display: shown, password } };
}

/** Replaces the password (as given and as decoded) wherever it appears in a message from the driver. */
export function maskPassword(message: string, target: Pick<PostgresTarget, 'password'>): string {
  const secrets = [target.password, encodeURIComponent(target.password)].filter((s) => s.length > 0);
  return secrets.reduce((m, s) => m.split(s).join('***'), message);
}
