import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { invalidArgument } from '../base/errors';
import { regErr, type RegistryError } from './errors';
import { globMatch } from './names';

export type Action = 'pull' | 'push' | 'delete';
const ACTIONS: Action[] = ['pull', 'push', 'delete'];

/** Who may do what where: `account` a user, `*` any signed-in user, `` everyone (anonymous too). */
export interface AccessRule {
  account: string;
  /** Repository pattern: `*` within one path component, `**` across them. */
  name: string;
  actions: Action[];
}

/** What a request needs: a repository action, or the catalog. */
export type Need = { type: 'repository'; name: string; action: Action } | { type: 'registry'; name: 'catalog'; action: '*' };

interface Access {
  type: string;
  name: string;
  actions: string[];
}

export type AuthMode = 'none' | 'basic' | 'token';

export interface AuthOptions {
  mode: AuthMode;
  /** htpasswd lines (bcrypt only, as distribution). */
  htpasswd?: string;
  rules?: AccessRule[];
  /** Signs tokens; kept in the registry's root so tokens outlive a restart. */
  key?: Buffer;
  service?: string;
  tokenTtlSeconds?: number;
}

const CACHE_MS = 5 * 60_000;

/**
 * Authentication and access. `basic`: every request carries htpasswd
 * credentials. `token`: Docker's token flow: a request without a token
 * gets a Bearer challenge naming this server's /token endpoint and the
 * scope it needs; the endpoint checks the credentials and signs (HS256) a
 * token granting what the rules allow of that scope. Basic credentials are
 * accepted by the registry itself too. bcrypt is slow by design, so good
 * credentials are remembered for a few minutes by a hash of them.
 */
export class Authorizer {
  private readonly users = new Map<string, string>();
  private readonly verified = new Map<string, number>();
  readonly mode: AuthMode;
  private readonly rules: AccessRule[];
  private readonly key: Buffer;
  readonly service: string;
  private readonly ttl: number;

  constructor(o: AuthOptions) {
    this.mode = o.mode;
    if (o.mode !== 'none') {
      if (!o.htpasswd) throw invalidArgument('authentication needs an htpasswd file');
      for (const [i, raw] of o.htpasswd.split('\n').entries()) {
        const line = raw.trim();
        if (!line || line.startsWith('#')) continue;
        const colon = line.indexOf(':');
        const hash = line.slice(colon + 1);
        if (colon <= 0 || !/^\$2[aby]\$\d\d\$/.test(hash)) throw invalidArgument(`htpasswd line ${i + 1}: only bcrypt entries are supported (htpasswd -B)`);
        this.users.set(line.slice(0, colon), hash);
      }
    }
    this.rules = o.rules ?? [{ account: '*', name: '**', actions: ACTIONS }];
    for (const r of this.rules) {
      if (typeof r.account !== 'string' || typeof r.name !== 'string' || !Array.isArray(r.actions) || r.actions.some((a) => !ACTIONS.includes(a)))
        throw invalidArgument(`access rule ${JSON.stringify(r)}: needs account, name and actions among ${ACTIONS.join(', ')}`);
    }
    this.key = o.key ?? Buffer.from(randomUUID());
    this.service = o.service ?? 'berth-registry';
    this.ttl = o.tokenTtlSeconds ?? 300;
  }

  /** The account a request's Authorization names: a user, '' for none; bad credentials throw. */
  async account(authorization: string | undefined, realm: string, need?: Need[]): Promise<{ account: string; granted?: Access[] }> {
    if (this.mode === 'none' || !authorization) return { account: '' };
    const [scheme, value = ''] = authorization.split(/\s+/, 2);
    if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = decoded.slice(0, colon);
      if (colon <= 0 || !(await this.verify(user, decoded.slice(colon + 1)))) throw this.challenge(realm, need, 'invalid username or password');
      return { account: user };
    }
    if (/^bearer$/i.test(scheme) && this.mode === 'token') {
      const claims = this.verifyToken(value);
      if (!claims) throw this.challenge(realm, need, 'invalid or expired token', 'invalid_token');
      return { account: claims.sub, granted: claims.access };
    }
    throw this.challenge(realm, need, 'unsupported authorization scheme');
  }

  /** The base endpoint's check: any valid credentials (or token), none needed when auth is off. */
  async signIn(authorization: string | undefined, realm: string): Promise<void> {
    if (this.mode === 'none') return;
    const { account, granted } = await this.account(authorization, realm);
    if (!account && !granted) throw this.challenge(realm, undefined, 'authentication required');
  }

  private async verify(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    if (!hash) return false;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    if ((this.verified.get(key) ?? 0) > Date.now()) return true;
    if (!(await bcrypt.compare(password, hash))) return false;
    if (this.verified.size > 1000) this.verified.clear();
    this.verified.set(key, Date.now() + CACHE_MS);
    return true;
  }

  /** What the rules let `account` do ('' = anonymous). */
  allowed(account: string, need: Need): boolean {
    if (this.mode === 'none') return true;
    if (need.type === 'registry') return account !== '';
    return this.rules.some(
      (r) => (r.account === '' || (r.account === '*' && account !== '') || (account !== '' && r.account === account)) && globMatch(r.name, need.name) && r.actions.includes(need.action),
    );
  }

  /**
   * Lets a request through or throws what to answer: 401 with a challenge
   * when it lacks credentials or a token for the scope, 403 when a signed-in
   * user may not.
   */
  async authorize(authorization: string | undefined, realm: string, needs: Need[]): Promise<string> {
    const { account, granted } = await this.account(authorization, realm, needs);
    for (const need of needs) {
      const ok = granted ? granted.some((g) => g.type === need.type && g.name === need.name && (g.actions.includes(need.action) || g.actions.includes('*'))) : this.allowed(account, need);
      if (ok) continue;
      if (account === '' || granted) throw this.challenge(realm, needs, 'authentication required', granted ? 'insufficient_scope' : undefined);
      throw regErr('DENIED', 'requested access to the resource is denied', { type: need.type, name: need.name, action: need.action });
    }
    return account;
  }

  private challenge(realm: string, needs: Need[] | undefined, message: string, error?: string): RegistryError {
    const e = regErr('UNAUTHORIZED', message, needs?.map((n) => ({ Type: n.type, Name: n.name, Action: n.action })));
    const scope = needs?.length ? scopeOf(needs) : undefined;
    e.headers['WWW-Authenticate'] =
      this.mode === 'token'
        ? `Bearer realm="${realm}/token",service="${this.service}"${scope ? `,scope="${scope}"` : ''}${error ? `,error="${error}"` : ''}`
        : `Basic realm="${this.service}"`;
    return e;
  }

  /** The token endpoint: grants of the asked scopes that the rules allow, signed. */
  async issue(authorization: string | undefined, realm: string, scopes: string[]): Promise<{ token: string; access_token: string; expires_in: number; issued_at: string }> {
    const { account } = await this.account(authorization, realm);
    const access: Access[] = [];
    for (const s of scopes) {
      const m = /^(repository|registry):([^:]+):([a-z*,]+)$/.exec(s);
      if (!m) throw regErr('UNAUTHORIZED', `invalid scope ${s}`, undefined, 400);
      const [, type, name, actions] = m;
      const want = actions.split(',');
      const granted =
        type === 'registry'
          ? name === 'catalog' && this.allowed(account, { type: 'registry', name: 'catalog', action: '*' }) ? ['*'] : []
          : want.filter((a) => ACTIONS.includes(a as Action) && this.allowed(account, { type: 'repository', name, action: a as Action }));
      if (granted.length) access.push({ type, name, actions: granted });
    }
    const now = Math.floor(Date.now() / 1000);
    const token = this.sign({ iss: this.service, sub: account, aud: this.service, iat: now, nbf: now - 5, exp: now + this.ttl, jti: randomUUID(), access });
    return { token, access_token: token, expires_in: this.ttl, issued_at: new Date(now * 1000).toISOString() };
  }

  private sign(claims: object): string {
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url')}`;
  }

  private verifyToken(token: string): { sub: string; access: Access[] } | undefined {
    const [head, body, sig] = token.split('.');
    if (!head || !body || !sig) return undefined;
    const want = createHmac('sha256', this.key).update(`${head}.${body}`).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    try {
      const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      const now = Date.now() / 1000;
      if (c.aud !== this.service || !(c.exp > now) || !(c.nbf <= now) || !Array.isArray(c.access)) return undefined;
      return { sub: String(c.sub ?? ''), access: c.access };
    } catch {
      return undefined;
    }
  }
}

/** The scope string of a set of needs, as a challenge names it: `repository:a/b:pull,push`. */
export function scopeOf(needs: Need[]): string {
  const by = new Map<string, Set<string>>();
  for (const n of needs) {
    const k = `${n.type}:${n.name}`;
    if (!by.has(k)) by.set(k, new Set());
    by.get(k)!.add(n.action);
  }
  return [...by].map(([k, a]) => `${k}:${[...a].join(',')}`).join(' ');
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');
