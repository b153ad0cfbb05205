// Where webhooks may be sent (docs/webhooks.md, "Safety"): never to this machine, the private
// network or link-local addresses (cloud metadata at 169.254.169.254), unless the host is on the
// allow-list (WEBHOOK_ALLOWED_HOSTS). Checked when an endpoint is registered (an address literal), and
// again at every connection, on the addresses the name resolves to then (a DNS answer that changed
// to a private address after registration is refused too).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Only these ranges are public; everything else (loopback, private, link-local, unique local, reserved…) is refused. */
const publicRange = 'unicast';

export class WebhookTargetRefused extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`refused to connect to ${host} (${address}): not a public address; allow it with WEBHOOK_ALLOWED_HOSTS`);
    this.name = 'WebhookTargetRefused';
  }
}

export interface TargetGuard {
  /** Throws WebhookTargetRefused when `address` (an IP) of `host` may not be reached. */
  check(host: string, address: string): void;
  /** A dns.lookup that answers only addresses `check` lets through, for http.request's `lookup`. */
  lookup: typeof dnsLookup;
}

function isPublic(address: string): boolean {
  let parsed = ipaddr.parse(address);
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it is.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === publicRange;
}

export function targetGuard(allowedHosts: readonly string[]): TargetGuard {
  const allowed = new Set(allowedHosts.map((host) => host.toLowerCase()));
  const check = (host: string, address: string) => {
    // The allow-list names hosts as URLs write them: allowing 127.0.0.1 does not allow a name that resolves to it.
    if (allowed.has(host.toLowerCase())) return;
    if (!isPublic(address)) throw new WebhookTargetRefused(host, address);
  };
  const lookup = ((hostname: string, options: unknown, callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...(options as object), all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      try {
        for (const { address } of addresses) check(hostname, address);
      } catch (refused) {
        return callback(refused as Error, []);
      }
      const all = (options as { all?: boolean } | undefined)?.all === true;
      if (all) return callback(null, addresses);
      const [first] = addresses;
      callback(null, first!.address, first!.family);
    });
  }) as unknown as typeof dnsLookup;
  return { check, lookup };
}

/** The URL problem, if any, of a webhook endpoint: http(s), no credentials, and no refused address literal. */
export function endpointUrlProblem(raw: string, guard: TargetGuard): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (raw.length > 2048) return 'must be at most 2048 characters';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    try {
      guard.check(host, host);
    } catch (error) {
      return (error as Error).message;
    }
  }
  return undefined;
}
