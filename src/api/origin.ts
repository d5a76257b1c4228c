/**
 * Which browsers and names may reach the API: the Host header must name this server (a foreign name is how DNS
 * rebinding reads a loopback server), and a request carrying an Origin must come from the server's own origin or
 * one configured with `--cors`. Owns the decision and the CORS headers only; server.ts installs the hook.
 */
import { networkInterfaces } from 'node:os';
import { ApiError } from './errors.js';

export interface OriginPolicy {
  /** Origins (scheme://host[:port]) allowed besides the server's own; '*' allows any. */
  cors: string[];
  /** Host names (no port) the server answers to besides its loopback names and addresses; '*' allows any. */
  allowedHosts: string[];
}

/** The host part of a Host header (`name`, `name:port`, `[v6]:port`), lower case. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d+$/, '');
}

/** Names this server answers to by default: loopback, the bound interface, and (bound to all) every local address. */
function defaultHosts(bind: string): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  const wildcard = bind === '0.0.0.0' || bind === '::' || bind === '';
  if (!wildcard) names.add(bind.includes(':') && !bind.startsWith('[') ? `[${bind.toLowerCase()}]` : bind.toLowerCase());
  else {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) names.add(a.family === 'IPv6' ? `[${a.address.toLowerCase()}]` : a.address);
    }
  }
  return names;
}

export interface OriginCheck {
  /** @throws ApiError 403 FORBIDDEN_HOST / FORBIDDEN_ORIGIN; returns the origin to echo in CORS headers, if any. */
  check(host: string | undefined, origin: string | undefined): string | undefined;
}

export function originChecker(bind: string, policy: OriginPolicy): OriginCheck {
  const anyHost = policy.allowedHosts.includes('*');
  const hosts = defaultHosts(bind);
  for (const h of policy.allowedHosts) hosts.add(hostName(h));
  const anyOrigin = policy.cors.includes('*');
  const origins = new Set(policy.cors.map((o) => o.trim().toLowerCase().replace(/\/$/, '')));
  return {
    check(host, origin) {
      if (host !== undefined && !anyHost && !hosts.has(hostName(host))) {
        throw new ApiError(403, 'FORBIDDEN_HOST', `this server does not answer to the name "${hostName(host).slice(0, 80)}" (start it with --allowed-hosts to add names)`);
      }
      if (origin === undefined) return undefined;
      const o = origin.trim().toLowerCase();
      // Same origin: the page was served by this very server under the name the request uses.
      if (host !== undefined && (o === `http://${host.toLowerCase()}` || o === `https://${host.toLowerCase()}`)) return undefined;
      if (anyOrigin || origins.has(o)) return origin;
      throw new ApiError(403, 'FORBIDDEN_ORIGIN', `cross-origin requests from ${origin.slice(0, 80)} are not allowed (start the server with --cors <origins> to allow them)`);
    },
  };
}

/** A comma-separated flag value → its non-empty items. */
export const listFlag = (value: string | undefined): string[] => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
