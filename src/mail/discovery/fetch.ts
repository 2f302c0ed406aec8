/**
 * HTTPS GET for discovery (autoconfig, the ISP database, a JMAP session without a login): https
 * only, certificates verified, the host looked up through the address policy on every connection
 * (an IP literal checked before), a few redirects each checked the same way, a cap on the body
 * and a signal that ends it. Nothing pooled outlives the request.
 */
import https from 'node:https';
import { checkLiteral, hostNotAllowedIn, lookupFor, type HostPolicy } from '../../net/address-policy.ts';
import { sharedTlsOptionsFor } from '../net-connect.ts';
import { abortReason } from './deadline.ts';
import { dnsWords, isNoRecord, refusalWords } from './resolver.ts';

export interface FetchOptions {
  /** Which addresses the host may have: checked on every connection, redirects included. */
  hostPolicy: HostPolicy;
  signal: AbortSignal;
  /** Extra CA certificates (PEM) to trust besides the system's; tests pass theirs. */
  ca?: string;
  headers?: Record<string, string>;
  /** The body is cut off (and the fetch fails) beyond this. */
  maxBytes?: number;
  maxRedirects?: number;
}

export interface FetchedText {
  status: number;
  statusText: string;
  contentType: string;
  text: string;
  /** Where the answer came from, after redirects. */
  url: string;
}

/** Why a fetch got no answer: `refused` is the address policy, the rest the network or the server. */
export class FetchError extends Error {
  /** `no_host`: the name does not exist, the usual way a domain says it publishes nothing there. */
  readonly kind: 'refused' | 'no_host' | 'network' | 'tls' | 'timeout' | 'too_large' | 'redirect';
  constructor(kind: FetchError['kind'], message: string) {
    super(message);
    this.name = 'FetchError';
    this.kind = kind;
  }
}

const MAX_BYTES = 256 * 1024;
const MAX_REDIRECTS = 3;

const tlsCodes = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|HOSTNAME|ALTNAME/;

function asFetchError(error: unknown, signal: AbortSignal): FetchError {
  if (error instanceof FetchError) return error;
  if (signal.aborted) {
    const reason = abortReason(signal);
    return new FetchError('timeout', reason.message);
  }
  const refused = hostNotAllowedIn(error);
  if (refused) return new FetchError('refused', refusalWords(refused));
  const e = error as Error & { code?: string; hostname?: string };
  if (isNoRecord(e))
    return new FetchError('no_host', `${e.hostname ?? 'the host'} does not resolve (${dnsWords(e)})`);
  if (tlsCodes.test(e.code ?? '') || /certificate|altname/i.test(e.message)) {
    return new FetchError('tls', `TLS: ${e.message}`);
  }
  return new FetchError(
    'network',
    e.code && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message,
  );
}

function getOnce(url: URL, options: FetchOptions): Promise<FetchedText & { location: string | null }> {
  const maxBytes = options.maxBytes ?? MAX_BYTES;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const tlsOptions = sharedTlsOptionsFor(host, options.ca);
  const lookup = lookupFor(options.hostPolicy);
  return new Promise((resolve, reject) => {
    const request = https.request(url, {
      method: 'GET',
      headers: { accept: '*/*', 'user-agent': 'Mailroom-autodiscovery', ...options.headers },
      ...(lookup ? { lookup } : {}),
      // One connection per request: nothing pooled outlives the check made for it.
      agent: false,
      rejectUnauthorized: true,
      ...(tlsOptions.secureContext ? { secureContext: tlsOptions.secureContext } : {}),
      signal: options.signal,
    });
    request.on('error', reject);
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location ?? null;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        resolve({
          status,
          statusText: response.statusMessage ?? '',
          contentType: '',
          text: '',
          url: url.href,
          location,
        });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          request.destroy(new FetchError('too_large', `the answer is larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () =>
        resolve({
          status,
          statusText: response.statusMessage ?? '',
          contentType: String(response.headers['content-type'] ?? ''),
          text: Buffer.concat(chunks).toString('utf8'),
          url: url.href,
          location: null,
        }),
      );
    });
    request.end();
  });
}

/** GETs an https:// URL and returns the final answer, whatever its status; throws a FetchError. */
export async function fetchText(url: string, options: FetchOptions): Promise<FetchedText> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new FetchError('network', `not a URL: ${url}`);
  }
  for (let hops = 0; ; hops++) {
    if (target.protocol !== 'https:') {
      throw new FetchError('redirect', `only https:// is fetched, not ${target.protocol}//`);
    }
    let answer: FetchedText & { location: string | null };
    try {
      // An IP literal skips the lookup: the policy is applied to it here instead.
      checkLiteral(target.hostname, options.hostPolicy);
      answer = await getOnce(target, options);
    } catch (error) {
      throw asFetchError(error, options.signal);
    }
    if (!answer.location) {
      const { location: _none, ...final } = answer;
      return final;
    }
    if (hops >= (options.maxRedirects ?? MAX_REDIRECTS)) {
      throw new FetchError('redirect', `more than ${options.maxRedirects ?? MAX_REDIRECTS} redirects`);
    }
    target = new URL(answer.location, target);
  }
}
