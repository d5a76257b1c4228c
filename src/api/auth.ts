/**
 * Bearer-token auth for the HTTP API: where tokens come from (EMOLENS_API_TOKEN, a token file with one per line)
 * and the constant-time check. Owns nothing else: which routes are public is decided in server.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** Shorter tokens are refused at start-up: a guessable token is worse than none because it looks safe. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * The accepted tokens: EMOLENS_API_TOKEN (one token) plus every non-empty, non-# line of `tokenFile`.
 * @throws UsageError for an unreadable file or a token under MIN_TOKEN_LENGTH characters.
 */
export function loadTokens(env: NodeJS.ProcessEnv = process.env, tokenFile?: string): string[] {
  const tokens: string[] = [];
  const fromEnv = env.EMOLENS_API_TOKEN?.trim();
  if (fromEnv) tokens.push(fromEnv);
  if (tokenFile) {
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --token-file ${tokenFile}: ${(err as Error).message}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const token = line.trim();
      if (token && !token.startsWith('#')) tokens.push(token);
    }
    if (tokens.length === 0) throw new UsageError(`--token-file ${tokenFile} has no tokens (one per line)`);
  }
  for (const token of tokens) {
    if (token.length < MIN_TOKEN_LENGTH) throw new UsageError(`API tokens must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 24)`);
    if (/\s/.test(token)) throw new UsageError('API tokens cannot contain spaces');
  }
  return tokens;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * A checker for `Authorization` header values. Tokens are compared as SHA-256 digests with timingSafeEqual (equal
 * lengths, so no length leak), and every token is compared on every call, so the time says nothing about which
 * token or how much of one matched.
 */
export function tokenChecker(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  const digests = tokens.map(digest);
  return (authorization) => {
    const match = /^Bearer ([^\s]+)$/i.exec(authorization?.trim() ?? '');
    const given = digest(match ? match[1] : '');
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    return ok && match !== null;
  };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * True for hosts only this machine can reach: the API may run without tokens only there, and `emolens serve` warns
 * when it listens anywhere else.
 */
export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}
